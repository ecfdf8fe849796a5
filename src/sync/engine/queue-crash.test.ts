// SPEC §17.10.2: a process killed with SIGKILL right after a keychain write, before any push, loses
// nothing: the write and its outgoing-queue entry were one atomic batch, so after a restart the
// engine pushes every acknowledged write and another device receives it.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runAndKill, siblingScript } from '../../testing/crash.js';
import { memoryEngineService } from '../../testing/engine-suite.js';
import { type DeviceSet, makeDevices, type TestDevice } from '../../testing/sync-devices.js';

describe('outgoing queue under kill -9', () => {
  let set: DeviceSet | undefined;
  after(async () => set?.close());

  it('every write acknowledged before the kill is queued, pushed after the restart, and received', async () => {
    set = await makeDevices(memoryEngineService(), 2);
    const [a, b] = set.devices as [TestDevice, TestDevice];
    await a.engine.now(); // sets up sync on a's keychain: from now on writes queue themselves
    await a.engine.stop();
    await a.ks.close();
    const acked = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      const run = await runAndKill({
        script: siblingScript(import.meta.url, '../../testing/workers/sync-queue.js'),
        args: [a.url],
        timeFrom: 'ack',
        afterReadyMs: 150 + round * 100,
        timeoutMs: 60_000,
      });
      assert.ok(run.killed, `the child was killed (stderr: ${run.stderr})`);
      for (const line of run.acks) {
        const [id, secret] = line.split(' ') as [string, string];
        acked.set(id, Buffer.from(secret, 'hex').toString());
      }
    }
    assert.ok(acked.size > 0, 'the child acknowledged writes before it was killed');
    await a.restart();
    const status = await a.engine.status();
    assert.ok(status.queued >= acked.size, `queued ${status.queued} ≥ acknowledged ${acked.size}`);
    const report = await a.engine.now();
    assert.ok(report.pushed >= acked.size);
    assert.equal((await a.engine.status()).queued, 0);
    await b.engine.now();
    for (const [id, secret] of acked)
      assert.equal(Buffer.from((await b.ks.keychain.get(id)).secret).toString(), secret);
  });
});
