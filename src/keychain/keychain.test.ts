// The keychain on one device (SPEC §16): items of every kind, update with expectedVersion, history
// and tombstones, find through the blind index with a cursor, key items, bounds, and the defences
// against someone who can write the store: flipped, moved and rolled-back records are EBADMSG.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Keystore } from '../core/keystore.js';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';
import { tempKeystore } from '../testing/keystore.js';
import { currentKey, historyKey } from './keychain.js';

let ks: Keystore;
let cleanup: () => Promise<void>;
/** A second handle on the same store: what someone who can write the store's rows has. */
let raw: Storage;
before(async () => {
  let url: string;
  ({ ks, cleanup, url } = await tempKeystore());
  raw = await openStorage(url);
});
after(async () => {
  await raw.close();
  await cleanup();
});

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

test('add, get, update, delete, undelete and history keep every version', async () => {
  const kc = ks.keychain;
  const a = await kc.add({
    kind: 'internet-password',
    attributes: {
      server: 'Example.COM',
      account: 'alice',
      protocol: 'https',
      port: 443,
      path: '/login',
      label: 'Ex',
    },
    secret: 'pw-1',
  });
  assert.equal(a.version, 1);
  assert.equal(a.group, 'default');
  assert.equal(a.sync, true);
  assert.match(a.deviceId, /^[0-9a-f]{16}$/);
  assert.equal(text((await kc.get(a.id)).secret), 'pw-1');
  const b = await kc.update(
    a.id,
    { secret: 'pw-2', attributes: { comment: 'rotated' } },
    { expectedVersion: 1 },
  );
  assert.equal(b.version, 2);
  assert.equal(b.createdAt, a.createdAt);
  assert.equal(b.attributes.comment, 'rotated');
  assert.equal(b.attributes.server, 'Example.COM');
  await assert.rejects(kc.update(a.id, { secret: 'stale' }, { expectedVersion: 1 }), { code: 'ECONFLICT' });
  assert.equal(text((await kc.get(a.id)).secret), 'pw-2', 'a stale update wrote nothing');
  const c = await kc.update(a.id, { attributes: { comment: null } });
  assert.equal(c.attributes.comment, undefined);
  const d = await kc.delete(a.id);
  assert.ok(d.deletedAt !== undefined);
  await assert.rejects(kc.get(a.id), { code: 'ENOENT' });
  await assert.rejects(kc.delete(a.id), { code: 'ENOENT' });
  await assert.rejects(kc.update(a.id, { secret: 'x' }), { code: 'ENOENT' });
  const e = await kc.undelete(a.id);
  assert.equal(e.version, 5);
  await assert.rejects(kc.undelete(a.id), { code: 'EALREADY' });
  assert.equal(text((await kc.get(a.id)).secret), 'pw-2');
  const history = await kc.history(a.id);
  assert.deepEqual(
    history.map((h) => [h.version, h.deletedAt !== undefined, text(h.secret)]),
    [
      [4, true, ''],
      [3, false, 'pw-2'],
      [2, false, 'pw-2'],
      [1, false, 'pw-1'],
    ],
  );
});

test('find through the blind index: normalised values, kinds, groups, paging with a cursor', async () => {
  const kc = ks.keychain;
  const made = [];
  for (let i = 0; i < 25; i++) {
    made.push(
      await kc.add({
        kind: 'generic-password',
        attributes: { service: i % 2 ? 'Mail' : 'Chat', account: `user${i}`, label: `L${i}` },
        secret: `s${i}`,
        group: i % 5 === 0 ? 'other-app' : 'default',
      }),
    );
  }
  const mail = await kc.find({ service: ' mail ' });
  assert.equal(mail.items.length, 12);
  assert.ok(mail.items.every((i) => i.attributes.service === 'Mail' && !('secret' in i)));
  assert.equal((await kc.find({ service: 'chat', group: 'other-app' })).items.length, 3);
  assert.equal((await kc.find({ service: 'chat' }, { groups: ['default'] })).items.length, 10);
  assert.equal((await kc.find({ account: 'USER3' })).items[0]?.attributes.account, 'user3');
  assert.equal((await kc.find({ label: 'l7', service: 'chat' })).items.length, 0);
  // Paging: pages of 5 through the 13 Chat items, with no duplicate and nothing missing.
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await kc.find({ service: 'chat', limit: 5, ...(cursor ? { cursor } : {}) });
    seen.push(...page.items.map((i) => i.id));
    cursor = page.cursor;
    pages++;
  } while (cursor);
  assert.equal(seen.length, 13);
  assert.equal(new Set(seen).size, 13);
  assert.ok(pages >= 3);
  const first = await kc.find({ service: 'chat', limit: 5 });
  const tampered = `${first.cursor?.slice(0, -2)}AA`;
  await assert.rejects(kc.find({ service: 'chat', cursor: tampered }), { code: 'EINVAL' });
  await assert.rejects(kc.find({ service: 'mail', cursor: first.cursor as string }), { code: 'EINVAL' });
  // Without criteria: every live item, by kind too.
  assert.ok((await kc.find({ kind: 'generic-password', limit: 1000 })).items.length >= 25);
  await kc.delete(made[1]!.id);
  assert.equal((await kc.find({ service: 'mail' })).items.length, 11, 'a deleted item leaves the index');
});

test('bad input is EINVAL or E2BIG and stores nothing', async () => {
  const kc = ks.keychain;
  const before = (await kc.find({ limit: 1000 })).items.length;
  const bad: [unknown, string][] = [
    [{ kind: 'card', attributes: {} }, 'EINVAL'],
    [{ kind: 'generic-password', attributes: {} }, 'EINVAL'],
    [{ kind: 'internet-password', attributes: { server: 'x', port: 70000 } }, 'EINVAL'],
    [{ kind: 'note', attributes: { label: 'x'.repeat(257) } }, 'E2BIG'],
    [{ kind: 'note', attributes: { unknown: 'x' } }, 'EINVAL'],
    [{ kind: 'note', attributes: {}, secret: new Uint8Array((1 << 20) + 1) }, 'E2BIG'],
    [{ kind: 'note', attributes: {}, group: 'Bad Group' }, 'EINVAL'],
    [{ kind: 'note', attributes: { custom: { 'bad/name': 'x' } } }, 'EINVAL'],
    [{ kind: 'note', attributes: { label: '\ud800' } }, 'EINVAL'],
  ];
  for (const [spec, code] of bad) {
    await assert.rejects(kc.add(spec as never), { code }, JSON.stringify(spec).slice(0, 80));
  }
  await assert.rejects(kc.get('not-a-uuid'), { code: 'EINVAL' });
  await assert.rejects(kc.get('00000000-0000-4000-8000-000000000000'), { code: 'ENOENT' });
  await assert.rejects(kc.find({ limit: 0 }), { code: 'EINVAL' });
  await assert.rejects(kc.setHistoryBound({ count: 0, bytes: 1 }), { code: 'EINVAL' });
  await assert.rejects(kc.setHistoryBound({ count: 1, bytes: 0 }), { code: 'EINVAL' });
  assert.equal((await kc.find({ limit: 1000 })).items.length, before);
});

test('history bound by count and bytes, never below one version', async () => {
  const kc = ks.keychain;
  await kc.setHistoryBound({ count: 3, bytes: 1 << 20 });
  const { id } = await kc.add({ kind: 'note', attributes: {}, secret: 'v1' });
  for (let i = 2; i <= 8; i++) await kc.update(id, { secret: `v${i}` });
  assert.deepEqual(
    (await kc.history(id)).map((h) => text(h.secret)),
    ['v7', 'v6', 'v5'],
  );
  await kc.setHistoryBound({ count: 100, bytes: 1 });
  await kc.update(id, { secret: 'v9' });
  assert.deepEqual(
    (await kc.history(id)).map((h) => text(h.secret)),
    ['v8'],
    'a byte bound below one record still keeps the newest version',
  );
  await kc.setHistoryBound({ count: 32, bytes: 1 << 20 });
});

test('records are padded: a 1-character and a 60-character password give records of one size', async () => {
  const kc = ks.keychain;
  const short = await kc.add({
    kind: 'generic-password',
    attributes: { service: 'pad', account: 'a' },
    secret: 'x',
  });
  const long = await kc.add({
    kind: 'generic-password',
    attributes: { service: 'pad', account: 'a' },
    secret: 'x'.repeat(60),
  });
  const a = await raw.get(currentKey(short.id));
  const b = await raw.get(currentKey(long.id));
  assert.equal(a?.value.length, b?.value.length);
});

test('key items: only keys created syncable: true, in their app as access group', async () => {
  const kc = ks.keychain;
  const plain = await ks.createKey({ app: 'wallet', purpose: 'signing', algorithm: 'ed25519' });
  await assert.rejects(kc.add({ kind: 'key', attributes: { keyId: plain.id } }), { code: 'EPERM' });
  const syncable = await ks.createKey({
    app: 'wallet',
    purpose: 'sync',
    algorithm: 'ed25519',
    syncable: true,
  });
  assert.equal(syncable.syncable, true);
  const item = await kc.add({ kind: 'key', attributes: { keyId: syncable.id, label: 'wallet key' } });
  assert.equal(item.group, 'wallet');
  assert.equal((await kc.get(item.id)).secret.length, 0, 'the key material stays with the key');
  await assert.rejects(kc.add({ kind: 'key', attributes: { keyId: syncable.id }, group: 'other' }), {
    code: 'EINVAL',
  });
  await assert.rejects(kc.add({ kind: 'key', attributes: { keyId: syncable.id }, secret: 'x' }), {
    code: 'EINVAL',
  });
});

// ---- someone who can write the store's records ----

test('a flipped bit in an item record is EBADMSG, and nothing else changes', async () => {
  const kc = ks.keychain;
  const { id } = await kc.add({ kind: 'note', attributes: { label: 'flip' }, secret: 'flip me' });
  const stored = await raw.get(currentKey(id));
  assert.ok(stored);
  for (const offset of [10, 200, stored.value.length - 40, stored.value.length - 1]) {
    const copy = Uint8Array.from(stored.value);
    copy[offset]! ^= 0x80;
    await raw.write([{ op: 'put', key: currentKey(id), value: copy }]);
    await assert.rejects(kc.get(id), { code: 'EBADMSG' }, `offset ${offset}`);
    await assert.rejects(kc.update(id, { secret: 'x' }), { code: 'EBADMSG' });
  }
  await raw.write([{ op: 'put', key: currentKey(id), value: stored.value }]);
  assert.equal(text((await kc.get(id)).secret), 'flip me');
});

test('a record moved to another item, or a history record to another version, is EBADMSG', async () => {
  const kc = ks.keychain;
  const a = await kc.add({ kind: 'note', attributes: { label: 'a' }, secret: 'secret of a' });
  const b = await kc.add({ kind: 'note', attributes: { label: 'b' }, secret: 'secret of b' });
  const recordA = (await raw.get(currentKey(a.id)))!.value;
  const recordB = (await raw.get(currentKey(b.id)))!.value;
  await raw.write([{ op: 'put', key: currentKey(b.id), value: recordA }]);
  await assert.rejects(kc.get(b.id), { code: 'EBADMSG' });
  await raw.write([{ op: 'put', key: currentKey(b.id), value: recordB }]);
  await kc.update(a.id, { secret: 'a2' });
  await kc.update(a.id, { secret: 'a3' });
  const h1 = (await raw.get(historyKey(a.id, 1)))!.value;
  const h2 = (await raw.get(historyKey(a.id, 2)))!.value;
  await raw.write([{ op: 'put', key: historyKey(a.id, 2), value: h1 }]);
  await assert.rejects(kc.history(a.id), { code: 'EBADMSG' });
  await raw.write([{ op: 'put', key: historyKey(a.id, 2), value: h2 }]);
  assert.equal((await kc.history(a.id)).length, 2);
});

test('an item rolled back to an earlier record is refused once its history is read', async () => {
  const kc = ks.keychain;
  const { id } = await kc.add({ kind: 'note', attributes: {}, secret: 'one' });
  await kc.update(id, { secret: 'two' });
  const v2 = (await raw.get(currentKey(id)))!.value;
  const v1 = (await raw.get(historyKey(id, 1)))!.value;
  await raw.write([{ op: 'put', key: currentKey(id), value: v1 }]);
  await assert.rejects(kc.update(id, { secret: 'three' }), { code: 'EBADMSG' });
  await assert.rejects(kc.history(id), { code: 'EBADMSG' });
  await raw.write([{ op: 'put', key: currentKey(id), value: v2 }]);
  assert.equal((await kc.update(id, { secret: 'three' })).version, 3);
});

test('a locked keystore is ELOCKED for every keychain call', async () => {
  const { ks: other, cleanup: done } = await tempKeystore();
  try {
    const { id } = await other.keychain.add({ kind: 'note', attributes: {}, secret: 'x' });
    await other.lock();
    await assert.rejects(other.keychain.get(id), { code: 'ELOCKED' });
    await assert.rejects(other.keychain.find({}), { code: 'ELOCKED' });
    await assert.rejects(other.keychain.add({ kind: 'note', attributes: {}, secret: 'y' }), {
      code: 'ELOCKED',
    });
  } finally {
    await done();
  }
});
