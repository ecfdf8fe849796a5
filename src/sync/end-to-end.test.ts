// Keychain sync end to end, through the contract API only (`ks.sync`, `ks.keychain`) and the real
// sync server over HTTP: two devices form a circle, an item written on one reaches the other with
// `ks.sync.now()`, an edit comes back, and the removed device cannot read what is written after.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CofferError } from '../errors.js';
import { tempKeystore } from '../testing/keystore.js';
import { eventually } from '../testing/sync-transport-suite.js';
import { SyncServer } from './server/server.js';

type Device = Awaited<ReturnType<typeof tempKeystore>>;

/**
 * A real sync server on loopback and two fresh keystores in one circle: `a` made it, `b` joined
 * through an invite and the short code. Everything is closed and removed after `run`.
 */
async function withCircle(run: (a: Device, b: Device, bDeviceId: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-e2e-'));
  const server = await SyncServer.start({ store: `sqlite:${join(dir, 'sync.db')}`, listen: '127.0.0.1:0' });
  const a = await tempKeystore();
  const b = await tempKeystore();
  try {
    await a.ks.sync.create({ server: server.url, deviceName: 'laptop' });
    const invite = await a.ks.sync.invite();
    const pending = await b.ks.sync.join({ server: server.url, invite, deviceName: 'phone' });
    await a.ks.sync.approve(pending.deviceId, { code: pending.code });
    assert.equal((await b.ks.sync.completeJoin()).status, 'joined');
    await run(a, b, pending.deviceId);
  } finally {
    await a.cleanup();
    await b.cleanup();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('two devices: create, invite, join, approve; items travel with ks.sync.now(); a removed device reads nothing new', async () => {
  await withCircle(async (a, b, bDeviceId) => {
    const item = await a.ks.keychain.add({
      kind: 'generic-password',
      attributes: { service: 'mail', account: 'alice' },
      secret: 'hunter2',
    });
    const pushed = await a.ks.sync.now();
    assert.ok(pushed.pushed >= 1, JSON.stringify(pushed));
    const pulled = await b.ks.sync.now();
    assert.ok(pulled.pulled >= 1, JSON.stringify(pulled));
    const onB = await b.ks.keychain.get(item.id);
    assert.equal(Buffer.from(onB.secret).toString(), 'hunter2');

    await b.ks.keychain.update(item.id, { secret: 'correct horse' });
    await b.ks.sync.now();
    await a.ks.sync.now();
    assert.equal(Buffer.from((await a.ks.keychain.get(item.id)).secret).toString(), 'correct horse');
    assert.equal((await a.ks.sync.status()).queued, 0);

    await a.ks.sync.remove(bDeviceId);
    const later = await a.ks.keychain.add({ kind: 'note', attributes: {}, secret: 'after removal' });
    await a.ks.sync.now();
    await assert.rejects(b.ks.sync.now(), (e: unknown) => e instanceof CofferError);
    await assert.rejects(b.ks.keychain.get(later.id), (e: unknown) => e instanceof CofferError);
  });
});

test("background sync: a started device picks up another device's write from the server's push", async () => {
  await withCircle(async (a, b) => {
    await a.ks.sync.now();
    await a.ks.sync.start();
    const item = await b.ks.keychain.add({ kind: 'note', attributes: {}, secret: 'pushed' });
    await b.ks.sync.now();
    const got = await eventually(
      () => a.ks.keychain.get(item.id).catch(() => undefined),
      'the started device to receive the write',
      20_000,
    );
    assert.equal(Buffer.from(got.secret).toString(), 'pushed');
  });
});
