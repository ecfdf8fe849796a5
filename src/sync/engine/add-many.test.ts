// Bulk writes on a synced device: `keychain.addMany` of 1000 items, each now with its outgoing queue
// entry in the same batch (SPEC §17.10), stays within a storage batch and queues every item.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryEngineService } from '../../testing/engine-suite.js';
import { makeDevices, syncAll } from '../../testing/sync-devices.js';

test('addMany of 1000 items on a synced device: one call, all queued, all pushed', async () => {
  const service = memoryEngineService();
  const set = await makeDevices(service, 1);
  try {
    const [device] = set.devices;
    await syncAll([device!]);
    const specs = Array.from({ length: 1000 }, (_, i) => ({
      kind: 'generic-password' as const,
      attributes: { service: `svc-${i % 97}`, account: `user-${i}` },
      secret: `password-${i}`,
    }));
    const added = await device!.ks.keychain.addMany(specs);
    assert.equal(added.length, 1000);
    assert.equal((await device!.engine.status()).queued, 1000);
    assert.equal((await device!.engine.now()).pushed, 1000);
  } finally {
    await set.close();
    await service.close();
  }
});
