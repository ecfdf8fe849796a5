// The daemon syncs its keychain in the background (SPEC §17.10) against the real sync server over
// HTTP: it starts as soon as a route makes the daemon's store a member of a circle (create, join,
// recover), stops when the daemon is locked (no write reaches a locked store), and starts again with
// the next unlock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Keystore } from '../core/keystore.js';
import { SyncServer } from '../sync/server/server.js';
import { PASSPHRASE, startDaemon } from '../testing/daemon.js';
import { passphrase, tempDir, tempKeystore } from '../testing/keystore.js';
import { eventually } from '../testing/sync-transport-suite.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The two halves of a join, as both the daemon's client and a Keystore offer them. */
interface Member {
  invite(): Promise<string>;
  approve(deviceId: string, options: { code: string }): Promise<unknown>;
}
interface Joiner {
  join(options: {
    server: string;
    invite: string;
    deviceName: string;
  }): Promise<{ deviceId: string; code: string }>;
  completeJoin(): Promise<{ status: string }>;
}

/** `joiner` joins the circle `member` is in: invite, join, approve by code, complete. */
async function joinCircle(server: string, member: Member, joiner: Joiner, deviceName: string): Promise<void> {
  const pending = await joiner.join({ server, invite: await member.invite(), deviceName });
  await member.approve(pending.deviceId, { code: pending.code });
  assert.equal((await joiner.completeJoin()).status, 'joined');
}

test('daemon background sync: starts when the circle is made, stops on lock, resumes on unlock', async () => {
  const serverDir = tempDir('coffer-sync-bg-');
  const server = await SyncServer.start({ store: `sqlite:${serverDir.path}/sync.db`, listen: '127.0.0.1:0' });
  const d = await startDaemon();
  const phone = await tempKeystore();
  try {
    // The daemon's store makes the circle; the phone joins through an invite the daemon hands out.
    await d.admin.sync.create({ server: server.url, deviceName: 'daemon' });
    await joinCircle(server.url, d.admin.sync, phone.ks.sync, 'phone');

    // No `sync now` is ever sent to the daemon: the phone's write arrives by push.
    const first = await phone.ks.keychain.add({ kind: 'note', attributes: {}, secret: 'while unlocked' });
    await phone.ks.sync.now();
    const got = await eventually(
      () => d.admin.keychain.get(first.id).catch(() => undefined),
      'the write made on another device to reach the daemon',
      20_000,
    );
    assert.equal(Buffer.from(got.secret).toString(), 'while unlocked');

    // Locked, the daemon syncs nothing: a write made meanwhile is not in its store.
    await d.admin.lock();
    const second = await phone.ks.keychain.add({ kind: 'note', attributes: {}, secret: 'while locked' });
    await phone.ks.sync.now();
    // Long enough for a push to arrive (the first one above took well under a second).
    await sleep(3000);
    const look = await Keystore.open({ store: d.store, protector: passphrase(PASSPHRASE) });
    try {
      assert.ok(await look.keychain.get(first.id));
      await assert.rejects(look.keychain.get(second.id), { code: 'ENOENT' });
    } finally {
      await look.close();
    }

    // Unlocking starts background sync again; it catches up with what it missed.
    await d.admin.unlock(PASSPHRASE);
    const caught = await eventually(
      () => d.admin.keychain.get(second.id).catch(() => undefined),
      'the daemon to resume syncing after unlock',
      20_000,
    );
    assert.equal(Buffer.from(caught.secret).toString(), 'while locked');
  } finally {
    await phone.cleanup();
    await d.cleanup();
    await server.close();
    serverDir.remove();
  }
});

for (const how of ['join', 'recover'] as const) {
  test(`daemon background sync starts as soon as the daemon's store ${how === 'join' ? 'joins' : 'recovers into'} a circle`, async () => {
    const serverDir = tempDir('coffer-sync-bg-');
    const server = await SyncServer.start({
      store: `sqlite:${serverDir.path}/sync.db`,
      listen: '127.0.0.1:0',
    });
    const d = await startDaemon();
    const phone = await tempKeystore();
    try {
      const { recoveryPhrase } = await phone.ks.sync.create({ server: server.url, deviceName: 'phone' });
      if (how === 'join') {
        await joinCircle(server.url, phone.ks.sync, d.admin.sync, 'daemon');
      } else {
        await d.admin.sync.recover({ server: server.url, phrase: recoveryPhrase, deviceName: 'daemon' });
      }
      const item = await phone.ks.keychain.add({ kind: 'note', attributes: {}, secret: `after ${how}` });
      await phone.ks.sync.now();
      const got = await eventually(
        () => d.admin.keychain.get(item.id).catch(() => undefined),
        `the write to reach the daemon after its ${how}`,
        20_000,
      );
      assert.equal(Buffer.from(got.secret).toString(), `after ${how}`);
    } finally {
      await phone.cleanup();
      await d.cleanup();
      await server.close();
      serverDir.remove();
    }
  });
}

test('daemon background sync: a lock ends its push subscription, also right after an unlock', async () => {
  const serverDir = tempDir('coffer-sync-bg-');
  const server = await SyncServer.start({ store: `sqlite:${serverDir.path}/sync.db`, listen: '127.0.0.1:0' });
  const d = await startDaemon();
  try {
    await d.admin.sync.create({ server: server.url, deviceName: 'daemon' });
    // Background sync holds one push subscription on the server; locking ends it.
    await eventually(() => (server.subscribers === 1 ? true : undefined), 'the daemon to subscribe to push');
    await d.admin.lock();
    await eventually(() => (server.subscribers === 0 ? true : undefined), 'the lock to end the subscription');
    for (let round = 0; round < 3; round++) {
      await d.admin.unlock(PASSPHRASE);
      await d.admin.lock();
      await sleep(500);
      assert.equal(server.subscribers, 0, `round ${round}: a sync started after the lock`);
    }
  } finally {
    await d.cleanup();
    await server.close();
    serverDir.remove();
  }
});
