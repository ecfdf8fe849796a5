// The daemon's /v1/items routes through the typed client (SPEC §16, docs/keychain.md): the whole item
// life cycle, ECONFLICT as 409, secrets only with item-reveal, find scoped to a token's apps, imports.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type DaemonFixture, startDaemon } from '../testing/daemon.js';

let d: DaemonFixture;
before(async () => {
  d = await startDaemon();
});
after(async () => {
  await d?.cleanup();
});

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

test('add, get, reveal, update with expectedVersion, delete, undelete, history over HTTP', async () => {
  const kc = d.admin.keychain;
  const info = await kc.add({
    kind: 'generic-password',
    attributes: { service: 'db', account: 'app' },
    secret: 'pw-1',
    group: 'billing',
  });
  assert.equal(info.group, 'billing');
  assert.equal((await kc.getInfo(info.id)).version, 1);
  assert.equal('secret' in (await kc.getInfo(info.id)), false);
  assert.equal(text((await kc.get(info.id)).secret), 'pw-1');
  await kc.update(info.id, { secret: 'pw-2' }, { expectedVersion: 1 });
  await assert.rejects(kc.update(info.id, { secret: 'pw-3' }, { expectedVersion: 1 }), { code: 'ECONFLICT' });
  await kc.update(info.id, { attributes: { comment: 'note', account: null } });
  assert.equal((await kc.getInfo(info.id)).attributes.account, undefined);
  await kc.delete(info.id, { expectedVersion: 3 });
  await assert.rejects(kc.get(info.id), { code: 'ENOENT' });
  await kc.undelete(info.id);
  assert.deepEqual(
    (await kc.history(info.id)).map((h) => h.version),
    [4, 3, 2, 1],
  );
  assert.equal((await kc.find({ service: 'DB' })).items.length, 1);
  await assert.rejects(kc.get('not-a-uuid'), { code: 'EINVAL' });
});

test('a token sees only its apps’ items, and secrets only with item-reveal', async () => {
  const a = await d.admin.keychain.add({
    kind: 'note',
    attributes: { label: 'shared-label' },
    secret: 'a',
    group: 'a',
  });
  const b = await d.admin.keychain.add({
    kind: 'note',
    attributes: { label: 'shared-label' },
    secret: 'b',
    group: 'b',
  });
  const { token } = await d.admin.tokens.create({ apps: ['a'], ops: ['item-read'] });
  const reader = d.client(token);
  const found = await reader.keychain.find({ label: 'shared-label' });
  assert.deepEqual(
    found.items.map((i) => i.id),
    [a.id],
  );
  assert.equal((await reader.keychain.getInfo(a.id)).id, a.id);
  await assert.rejects(reader.keychain.getInfo(b.id), { code: 'ENOENT' });
  await assert.rejects(reader.keychain.get(a.id), { code: 'EPERM' });
  await assert.rejects(reader.keychain.find({ group: 'b' }), { code: 'EPERM' });
  await assert.rejects(reader.keychain.add({ kind: 'note', attributes: {}, secret: 'x', group: 'a' }), {
    code: 'EPERM',
  });
  const { token: writer } = await d.admin.tokens.create({ apps: ['a'], ops: ['item-write'] });
  await assert.rejects(
    d.client(writer).keychain.add({ kind: 'note', attributes: {}, secret: 'x', group: 'b' }),
    {
      code: 'EPERM',
    },
  );
});

test('import over HTTP reports imported and skipped entries', async () => {
  const report = await d.admin.keychain.import({
    format: 'chrome-csv',
    data: 'name,url,username,password\nsite,https://site.example/,u,p\nempty,https://e.example/,u,\n',
    group: 'imports',
  });
  assert.equal(report.imported.length, 1);
  assert.deepEqual(report.skipped, [{ entry: 2, name: 'empty', reason: 'no password' }]);
});

test('history bound over HTTP: admin reads and sets it, zero is EINVAL, a token is refused', async () => {
  const kc = d.admin.keychain;
  const before = await kc.historyBound();
  assert.ok(before.count >= 1 && before.bytes >= 1);
  await assert.rejects(kc.setHistoryBound({ count: 0, bytes: 1024 }), { code: 'EINVAL' });
  await assert.rejects(kc.setHistoryBound({ count: 4, bytes: 0 }), { code: 'EINVAL' });
  assert.deepEqual(await kc.historyBound(), before);
  assert.deepEqual(await kc.setHistoryBound({ count: 4, bytes: 4096 }), { count: 4, bytes: 4096 });
  assert.deepEqual(await kc.historyBound(), { count: 4, bytes: 4096 });
  const { token } = await d.admin.tokens.create({ apps: ['a'], ops: ['item-write'] });
  await assert.rejects(d.client(token).keychain.setHistoryBound({ count: 9, bytes: 9 }), { code: 'EPERM' });
  await kc.setHistoryBound(before);
});
