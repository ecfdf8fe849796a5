// SPEC §6.2, §10.1: the daemon streams without buffering. One child process runs a daemon and a client;
// the client seals 1 GiB generated as a stream through POST …/seal-stream and feeds the sealed reply,
// as it arrives, into POST …/unseal-stream (src/testing/workers/stream-memory.ts checks every byte).
// Daemon and client together must grow by far less than the payload (1 GiB).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MAX_GROWTH_MIB, runStreamMemoryWorker } from '../testing/stream-memory.js';

test('1 GiB through the daemon and back in bounded memory (RSS grows < 176 MiB)', {
  timeout: 10 * 60_000,
}, async () => {
  const result = await runStreamMemoryWorker('daemon', 1024 * 1024 * 1024);
  assert.equal(result.bytes, 1024 * 1024 * 1024);
  assert.ok(
    result.maxRssMiB - result.baselineRssMiB < MAX_GROWTH_MIB,
    `peak RSS ${result.maxRssMiB} MiB, ${result.maxRssMiB - result.baselineRssMiB} MiB over the baseline of ${result.baselineRssMiB} MiB`,
  );
});
