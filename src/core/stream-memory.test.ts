// SPEC §6.2: a sealed stream runs in constant memory. A child process seals 1 GiB generated as a stream
// and unseals it as it is produced (src/testing/workers/stream-memory.ts checks every byte); its peak
// RSS must stay under 200 MiB — a generous bound (about 135 MiB measured, of which ~90 MiB is the
// process with an open keystore), far below what holding the payload (1 GiB) would take.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runStreamMemoryWorker } from '../testing/stream-memory.js';

const GiB = 1024 * 1024 * 1024;

test('1 GiB sealed and unsealed through the library in bounded memory (peak RSS < 200 MiB)', {
  timeout: 10 * 60_000,
}, async () => {
  const result = await runStreamMemoryWorker('library', GiB);
  assert.equal(result.bytes, GiB);
  assert.ok(
    result.maxRssMiB < 200,
    `peak RSS ${result.maxRssMiB} MiB (baseline ${result.baselineRssMiB} MiB)`,
  );
});
