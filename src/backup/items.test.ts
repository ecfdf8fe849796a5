// Keychain items in encrypted backups (SPEC §11.4, §11.5), on sqlite: a round trip of every kind
// with history and a tombstone into a fresh keystore; forged item entries (flipped, moved, of
// another keychain) refused before any write; the three restore modes matched to the key rules;
// incremental chains; and version-1 files still restored while unknown versions are refused.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import type { ExportedKey } from '../core/dangerous-material.js';
import type { Keystore } from '../core/keystore.js';
import { concatBytes } from '../crypto/bytes.js';
import { systemRng } from '../crypto/rng.js';
import { CofferError, type ErrorCode } from '../errors.js';
import type { ExportedItem, ExportedKeychain } from '../keychain/backup-types.js';
import { FAST_KDF, tempDir, tempKeystore } from '../testing/keystore.js';
import { encodeBackup } from './create.js';
import { createBackup, inspectBackup, restoreBackup } from './index.js';
import { encodeEndRecord, encodeItemRecord, encodeKeychainRecord, encodeKeyRecord } from './payload.js';
import { wrapToPassphrase } from './recipients.js';

const PASS = 'item backup passphrase';
const temps: Awaited<ReturnType<typeof tempKeystore>>[] = [];
const dir = tempDir('coffer-item-backup-');
after(async () => {
  for (const t of temps) await t.cleanup().catch(() => {});
  dir.remove();
});
async function store(): Promise<Keystore> {
  const t = await tempKeystore();
  temps.push(t);
  return t.ks;
}
let n = 0;
const file = () => join(dir.path, `b-${++n}.cbk`);
const code = (expected: ErrorCode) => (error: unknown) =>
  error instanceof CofferError && error.code === expected;
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

async function backup(ks: Keystore, extra: Record<string, unknown> = {}): Promise<string> {
  const out = file();
  await createBackup(ks, { out, passphrase: PASS, kdf: FAST_KDF, ...extra });
  return out;
}

/** A source keystore with an item of every kind, history, a tombstone and a key item. */
async function populated(): Promise<{ ks: Keystore; ids: Record<string, string> }> {
  const ks = await store();
  await ks.keychain.setHistoryBound({ count: 3, bytes: 1 << 20 });
  const gp = await ks.keychain.add({
    kind: 'generic-password',
    attributes: { service: 'GitHub', account: 'alice', label: 'work', custom: { otp: 'JBSWY3DP' } },
    secret: 'v1',
  });
  for (const s of ['v2', 'v3', 'v4', 'v5']) await ks.keychain.update(gp.id, { secret: s });
  const ip = await ks.keychain.add({
    kind: 'internet-password',
    attributes: { server: 'Bücher.example', account: 'bob', protocol: 'https', port: 443, path: '/login' },
    secret: 'hunter2',
    group: 'web',
  });
  await ks.keychain.update(ip.id, { attributes: { comment: 'rotated' }, secret: 'hunter3' });
  const note = await ks.keychain.add({
    kind: 'note',
    attributes: { label: 'recovery' },
    secret: 'codes',
    sync: false,
  });
  await ks.keychain.delete(note.id);
  const key = await ks.createKey({ app: 'wallet', purpose: 'sync', algorithm: 'ed25519', syncable: true });
  const keyItem = await ks.keychain.add({ kind: 'key', attributes: { keyId: key.id, label: 'signing' } });
  return { ks, ids: { gp: gp.id, ip: ip.id, note: note.id, keyItem: keyItem.id, key: key.id } };
}

/** Everything a user can see of an item: its info, secret (when live) and every history entry. */
async function snapshot(ks: Keystore, id: string) {
  const info = await ks.keychain.getInfo(id);
  const secret = info.deletedAt === undefined ? text((await ks.keychain.get(id)).secret) : undefined;
  const history = (await ks.keychain.history(id)).map((h) => ({ ...h, secret: text(h.secret) }));
  return { info, secret, history };
}

/**
 * The target moved forward to the source's state: same current version and secret, and the source's
 * history as the newest part of its own (a fast-forward keeps older versions the target had; the
 * next write prunes them to the bound, SPEC §11.5).
 */
async function assertMovedTo(dst: Keystore, src: Keystore, id: string): Promise<void> {
  const [mine, theirs] = [await snapshot(dst, id), await snapshot(src, id)];
  assert.deepEqual(mine.info, theirs.info, `item ${id}`);
  assert.equal(mine.secret, theirs.secret, `item ${id}`);
  assert.deepEqual(mine.history.slice(0, theirs.history.length), theirs.history, `item ${id} history`);
}

test('backup → restore into a fresh keystore gives back every item with its history and tombstone', async () => {
  const { ks: src, ids } = await populated();
  const out = await backup(src);
  const info = await inspectBackup(out);
  assert.equal(info.version, 2);
  assert.equal(info.itemCount, 4);
  assert.equal(info.keyCount, 1);
  const dst = await store();
  const report = await restoreBackup(dst, out, { passphrase: PASS });
  assert.equal(report.itemCount, 4);
  assert.deepEqual(new Set(report.restoredItems), new Set([ids.gp, ids.ip, ids.note, ids.keyItem]));
  assert.deepEqual(report.failed, []);
  assert.deepEqual(report.restored, [ids.key]);
  for (const id of [ids.gp, ids.ip, ids.note, ids.keyItem])
    assert.deepEqual(await snapshot(dst, id!), await snapshot(src, id!), `item ${id}`);
  // History within the bound: v2..v4 behind v5 (count 3 = three history versions kept).
  assert.deepEqual(
    (await dst.keychain.history(ids.gp!)).map((h) => text(h.secret)),
    ['v4', 'v3', 'v2'],
  );
  assert.deepEqual(await dst.keychain.historyBound(), { count: 3, bytes: 1 << 20 });
  // The blind index was rebuilt under the target's own index key.
  assert.deepEqual(
    (await dst.keychain.find({ service: 'github' })).items.map((i) => i.id),
    [ids.gp],
  );
  assert.deepEqual(
    (await dst.keychain.find({ server: 'xn--bcher-kva.example' })).items.map((i) => i.id),
    [ids.ip],
  );
  assert.deepEqual((await dst.keychain.find({ label: 'recovery' })).items, []);
  // The tombstone undeletes to the last version, and writes continue on the restored device.
  const back = await dst.keychain.undelete(ids.note!);
  assert.equal(text((await dst.keychain.get(back.id)).secret), 'codes');
  const next = await dst.keychain.update(ids.gp!, { secret: 'v6' });
  assert.equal(next.version, 6);
  assert.notEqual(next.deviceId, (await src.keychain.getInfo(ids.gp!)).deviceId);
  assert.equal((await dst.getKey(ids.key!)).syncable, true);
});

/** A backup file with exactly this payload, sealed to PASS: what someone holding the file key can forge. */
async function forge(keys: ExportedKey[], keychain: ExportedKeychain | undefined, version: 1 | 2 = 2) {
  const records = [...keys.flatMap((k) => encodeKeyRecord(k))];
  if (keychain) {
    records.push(...encodeKeychainRecord(keychain));
    for (const item of keychain.items) records.push(...encodeItemRecord(item));
  }
  const itemCount = keychain?.items.length ?? 0;
  records.push(
    ...encodeEndRecord({ keyCount: keys.length, ...(version === 2 ? { itemCount } : {}), requires: [] }),
  );
  const payload = concatBytes(...records);
  const fileKey = systemRng.randomBytes(32);
  const backupId = Buffer.from(systemRng.randomBytes(16)).toString('base64url');
  const wrap = await wrapToPassphrase(fileKey, backupId, PASS, { ...FAST_KDF }, systemRng);
  return concatBytes(
    ...encodeBackup({
      header: {
        format: 'coffer-backup',
        version,
        backupId,
        kind: 'full',
        storeId: Buffer.from(systemRng.randomBytes(16)).toString('base64url'),
        createdAt: Date.now(),
        generation: 1,
        keyCount: keys.length,
        ...(version === 2 ? { itemCount } : {}),
      },
      recipient: wrap.recipient,
      wrappedFileKey: wrap.wrapped,
      fileKey,
      payloadBytes: payload.length,
      compressed: new Uint8Array(deflateRawSync(payload)),
      chunkSize: 65536,
    }),
  );
}

async function exported(ks: Keystore): Promise<{ keys: ExportedKey[]; keychain: ExportedKeychain }> {
  const keys: ExportedKey[] = [];
  for await (const key of ks.dangerouslyExportKeyMaterial({})) keys.push(key);
  const items = await ks.keychain.dangerouslyExportItems();
  return { keys, keychain: items!.keychain };
}

test('a forged item entry (flipped bit, moved record, foreign class key) is refused before any write', async () => {
  const { ks: src, ids } = await populated();
  const { keys, keychain } = await exported(src);
  const gp = keychain.items.findIndex((i) => i.uuid === ids.gp);
  const ip = keychain.items.findIndex((i) => i.uuid === ids.ip);
  const withItem = (index: number, item: ExportedItem): ExportedKeychain => ({
    ...keychain,
    items: keychain.items.map((it, i) => (i === index ? item : it)),
  });
  const flip = (bytes: Uint8Array, at: number) => {
    const copy = Uint8Array.from(bytes);
    copy[at]! ^= 0x01;
    return copy;
  };
  const original = keychain.items[gp]!;
  const forgeries: [string, ExportedKeychain][] = [
    [
      'flipped ciphertext bit in a current record',
      withItem(gp, { ...original, current: flip(original.current, original.current.length - 20) }),
    ],
    [
      'flipped bit in a history record',
      withItem(gp, {
        ...original,
        history: original.history.map((h, i) =>
          i === 0 ? { ...h, record: flip(h.record, h.record.length - 1) } : h,
        ),
      }),
    ],
    [
      'history record moved to another version',
      withItem(gp, {
        ...original,
        history: original.history.map((h, i) => (i === 0 ? { ...h, version: h.version + 10 } : h)),
      }),
    ],
    [
      'current record moved to another item',
      withItem(ip, { ...keychain.items[ip]!, current: original.current }),
    ],
    [
      'class key replaced',
      { ...keychain, classKeys: keychain.classKeys.map((k) => ({ ...k, key: systemRng.randomBytes(32) })) },
    ],
  ];
  for (const [what, forged] of forgeries) {
    const dst = await store();
    await assert.rejects(
      restoreBackup(dst, await forge(keys, forged), { passphrase: PASS }),
      code('EBADMSG'),
      what,
    );
    assert.deepEqual(await dst.listKeys(), [], `${what}: no key written`);
    assert.deepEqual((await dst.keychain.find({})).items, [], `${what}: no item written`);
  }
  // The unforged payload goes through the same path and restores (so the refusals above are the forgeries').
  const dst = await store();
  const report = await restoreBackup(dst, await forge(keys, keychain), { passphrase: PASS });
  assert.equal(report.restoredItems.length, 4);
});

test('restoring into a store that has the items follows the key rules: fail, skip-existing, overwrite', async () => {
  const { ks: src, ids } = await populated();
  const first = await backup(src);
  const dst = await store();
  await restoreBackup(dst, first, { passphrase: PASS });
  // fail (default): EALREADY, nothing written — not even an item that is new.
  const extra = await src.keychain.add({ kind: 'note', attributes: { label: 'later' }, secret: 'new' });
  await src.keychain.update(ids.gp!, { secret: 'v6' });
  const second = await backup(src);
  await assert.rejects(restoreBackup(dst, second, { passphrase: PASS }), code('EALREADY'));
  await assert.rejects(dst.keychain.get(extra.id), code('ENOENT'));
  // skip-existing: present items are reported, new ones restored.
  const skip = await restoreBackup(dst, second, { passphrase: PASS, mode: 'skip-existing' });
  assert.deepEqual(skip.restoredItems, [extra.id]);
  assert.equal(skip.skippedItems.length, 4);
  assert.equal(text((await dst.keychain.get(ids.gp!)).secret), 'v5');
  // overwrite: the backup's newer state of the same item moves it forward, losing no version.
  await dst.keychain.update(ids.ip!, { secret: 'changed here' });
  const over = await restoreBackup(dst, second, { passphrase: PASS, mode: 'overwrite' });
  await assertMovedTo(dst, src, ids.gp!);
  assert.deepEqual(
    (await dst.keychain.history(ids.gp!)).map((h) => text(h.secret)),
    ['v5', 'v4', 'v3', 'v2'],
  );
  assert.ok(over.restoredItems.includes(ids.gp!));
  // …but an item changed here since is left alone and reported, like a key under another app.
  const failed = over.failed.find((f) => f.id === ids.ip);
  assert.equal(failed?.code, 'ECONFLICT');
  assert.equal(text((await dst.keychain.get(ids.ip!)).secret), 'changed here');
  assert.deepEqual(
    (await dst.keychain.history(ids.ip!)).map((h) => text(h.secret)),
    ['hunter3', 'hunter2'],
  );
});

test('incremental backups carry changed items and require the unchanged ones from their base', async () => {
  const { ks: src, ids } = await populated();
  const base = await backup(src);
  await src.keychain.update(ids.gp!, { secret: 'v6' });
  await src.keychain.delete(ids.ip!);
  const inc = await backup(src, { since: base });
  assert.equal((await inspectBackup(inc)).itemCount, 2);
  const empty = await store();
  await assert.rejects(restoreBackup(empty, inc, { passphrase: PASS }), code('ENOENT'));
  assert.deepEqual((await empty.keychain.find({})).items, []);
  const dst = await store();
  await restoreBackup(dst, base, { passphrase: PASS });
  const report = await restoreBackup(dst, inc, { passphrase: PASS });
  assert.deepEqual(new Set(report.restoredItems), new Set([ids.gp, ids.ip]));
  for (const id of [ids.gp, ids.ip, ids.note, ids.keyItem]) await assertMovedTo(dst, src, id!);
});

test('a selection by app carries that access group only; by purpose or key id, no items', async () => {
  const { ks: src, ids } = await populated();
  const web = await backup(src, { app: 'web' });
  assert.equal((await inspectBackup(web)).itemCount, 1);
  const dst = await store();
  assert.deepEqual((await restoreBackup(dst, web, { passphrase: PASS })).restoredItems, [ids.ip]);
  assert.equal((await inspectBackup(await backup(src, { keyIds: [ids.key!] }))).itemCount, 0);
});

test('version-1 files (keys only) are still restored; unknown versions are refused clearly', async () => {
  const { ks: src, ids } = await populated();
  const { keys } = await exported(src);
  const v1 = await forge(keys, undefined, 1);
  const dst = await store();
  const report = await restoreBackup(dst, v1, { passphrase: PASS });
  assert.deepEqual(report.restored, [ids.key]);
  assert.equal(report.itemCount, 0);
  const v3 = Uint8Array.from(await forge(keys, undefined, 2));
  v3[8] = 3;
  await assert.rejects(
    restoreBackup(await store(), v3, { passphrase: PASS }),
    (error: unknown) =>
      error instanceof CofferError && error.code === 'EBADMSG' && /newer Coffer/.test(error.message),
  );
});
