// The daemon's /v1/sync routes through the typed client (SPEC §17.9, docs/sync.md): the daemon's
// keystore creates a circle, invites and approves an in-process device, lists and removes it; the
// routes are admin-only; errors keep their codes over HTTP.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { registerSyncTransport } from '../sync/circle/connect.js';
import { type DaemonFixture, startDaemon } from '../testing/daemon.js';
import { tempKeystore } from '../testing/keystore.js';
import { MemorySyncService } from '../testing/memory-sync-transport.js';

const service = new MemorySyncService();
const unregister = registerSyncTransport('memsync:', (_url, signer) => service.transport(signer));
const SERVER = 'memsync://test';

let d: DaemonFixture;
let other: Awaited<ReturnType<typeof tempKeystore>>;
before(async () => {
  d = await startDaemon();
  other = await tempKeystore();
});
after(async () => {
  await other?.cleanup();
  await d?.cleanup();
  unregister();
});

test('create, invite, approve, devices, remove through the daemon', async () => {
  const sync = d.admin.sync;
  await assert.rejects(sync.devices(), { code: 'ENOENT' });
  const created = await sync.create({ server: SERVER, deviceName: 'daemon' });
  assert.equal(created.recoveryPhrase.split(' ').length, 24);
  await assert.rejects(sync.create({ server: SERVER, deviceName: 'again' }), { code: 'EALREADY' });
  const invite = await sync.invite({ ttlMs: 60_000 });
  const pending = await other.ks.sync.join({ server: SERVER, invite, deviceName: 'phone' });
  const requests = await sync.joinRequests();
  assert.deepEqual(
    requests.map((r) => [r.deviceId, r.code]),
    [[pending.deviceId, pending.code]],
  );
  await assert.rejects(
    sync.approve(pending.deviceId, { code: '999-999' === pending.code ? '000-000' : '999-999' }),
    {
      code: 'EPERM',
    },
  );
  const approved = await sync.approve(pending.deviceId, { code: pending.code });
  assert.deepEqual([approved.name, approved.version], ['phone', 2]);
  assert.equal((await other.ks.sync.completeJoin()).status, 'joined');
  assert.deepEqual(
    (await sync.devices()).map((x) => [x.name, x.current]),
    [
      ['daemon', true],
      ['phone', false],
    ],
  );
  const removed = await sync.remove(pending.deviceId);
  assert.deepEqual([removed.version, removed.epoch], [3, 2]);
  const info = await sync.info();
  assert.deepEqual([info.accountId, info.version, info.epoch], [created.accountId, 3, 2]);
  assert.equal(info.classKeyIds.at(-1), removed.classKeyId);
  await assert.rejects(sync.remove(pending.deviceId), { code: 'ENOENT' });
  await assert.rejects(sync.invite({ ttlMs: 10 }), { code: 'EINVAL' });
});

test('the sync routes need the admin token', async () => {
  const { token } = await d.admin.tokens.create({ apps: ['a'], ops: ['item-read', 'item-write'] });
  await assert.rejects(d.client(token).sync.devices(), { code: 'EPERM' });
  await assert.rejects(d.client(token).sync.invite(), { code: 'EPERM' });
});
