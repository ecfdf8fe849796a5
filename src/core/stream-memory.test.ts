// SPEC §6.2: a sealed stream runs in constant memory. A child process seals 1 GiB generated as a stream
// and unseals it as it is produced (src/testing/workers/stream-memory.ts checks every byte); its RSS
// must grow by far less than the payload it would take to hold it (1 GiB).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MAX_GROWTH_MIB, runStreamMemoryWorker } from '../testing/stream-memory.js';

const GiB = 1024 * 1024 * 1024;

test('1 GiB sealed and unsealed through the library in bounded memory (RSS grows < 176 MiB)', {
  timeout: 10 * 60_000,
}, async () => {
  const result = await runStreamMemoryWorker('library', GiB);
  assert.equal(result.bytes, GiB);
  assert.ok(
    result.maxRssMiB - result.baselineRssMiB < MAX_GROWTH_MIB,
    `peak RSS ${result.maxRssMiB} MiB, ${result.maxRssMiB - result.baselineRssMiB} MiB over the baseline of ${result.baselineRssMiB} MiB`,
  );
});
