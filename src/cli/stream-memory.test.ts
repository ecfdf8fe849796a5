// The CLI seals and unseals inputs of any size in bounded memory (docs/cli.md "Large inputs"): 1 GiB,
// generated as a stream, piped through the real binary — `coffer seal KEY | coffer unseal` — in direct
// mode (the store opened in each process) and through a daemon. The unsealed bytes must hash like the
// input, and each CLI process's peak RSS (the kernel's VmHWM) may grow over the same pipeline on 1 MiB
// by far less than the payload: reading the input whole would cost 1 GiB.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MAX_GROWTH_MIB, runCliStreamMemoryWorker } from '../testing/stream-memory.js';

const GiB = 1024 * 1024 * 1024;

for (const mode of ['direct', 'daemon'] as const) {
  test(`coffer seal | coffer unseal of 1 GiB, ${mode}: same bytes, each process grows < ${MAX_GROWTH_MIB} MiB`, {
    timeout: 10 * 60_000,
  }, async () => {
    const result = await runCliStreamMemoryWorker(mode, GiB);
    assert.equal(result.bytes, GiB);
    for (const which of ['seal', 'unseal'] as const) {
      const growth = result.peak[which] - result.baseline[which];
      assert.ok(
        growth < MAX_GROWTH_MIB,
        `${which}: peak RSS ${result.peak[which]} MiB, ${growth.toFixed(1)} MiB over its 1 MiB baseline of ${result.baseline[which]} MiB`,
      );
    }
    // The figures, for the record (not asserted beyond the bound).
    process.stdout.write(`# ${JSON.stringify(result)}\n`);
  });
}
