// Paging through every edge of the daemon (SPEC §4.6, §8.1, §16.6) with coffer/client: GET /v1/audit
// pages (admin only, filters and order in the query, `count` kept for the tail and refused beside the
// paging parameters, bad cursors 400 EINVAL), and the client's iterators over audit pages, key pages
// and keychain find pages, each joining to the whole listing with every entry exactly once.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import type { CofferClient } from '../client/index.js';
import { type DaemonFixture, startDaemon } from '../testing/daemon.js';

let d: DaemonFixture;
before(async () => {
  d = await startDaemon();
});
after(async () => {
  await d?.cleanup();
});

function getRaw(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: d.socket, path, headers: { authorization: `Bearer ${d.adminToken}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function all<P>(pages: AsyncIterable<P>): Promise<P[]> {
  const out: P[] = [];
  for await (const page of pages) out.push(page);
  return out;
}

test('GET /v1/audit pages: the iterator joins to the whole log, both orders, filters', async () => {
  const keys = await d.admin.createKeys(
    Array.from({ length: 6 }, () => ({ app: 'billing', purpose: 'p', algorithm: 'ed25519' as const })),
  );
  for (const key of keys.slice(0, 3)) await d.admin.rotate(key.id);
  const whole = (await d.admin.auditPage({ limit: 1000 })).entries;
  assert.ok(whole.length >= 10);
  assert.equal((await d.admin.verifyAudit()).entries, whole.length);
  const pages = await all(d.admin.auditPages({ limit: 3 }));
  assert.ok(pages.length >= Math.ceil(whole.length / 3));
  assert.ok(pages.every((p) => p.entries.length <= 3));
  assert.deepEqual(
    pages.flatMap((p) => p.entries),
    whole,
  );
  const down = (await all(d.admin.auditPages({ limit: 4, order: 'desc' }))).flatMap((p) => p.entries);
  assert.deepEqual(
    down.map((e) => e.seq),
    whole.map((e) => e.seq).reverse(),
  );
  const rotated = (await all(d.admin.auditPages({ limit: 1, event: 'key.rotate' }))).flatMap(
    (p) => p.entries,
  );
  assert.deepEqual(
    rotated.map((e) => e.keyId),
    keys.slice(0, 3).map((k) => k.id),
  );
  const forKey = (await all(d.admin.auditPages({ keyId: keys[0]!.id, actor: 'daemon' }))).flatMap(
    (p) => p.entries,
  );
  assert.deepEqual(
    forKey.map((e) => e.event),
    ['key.create', 'key.rotate'],
  );
  const at = whole[whole.length - 1]!.at;
  const late = (await d.admin.auditPage({ since: at, limit: 1000 })).entries;
  assert.ok(late.length >= 1 && late.every((e) => e.at >= at));
  // The tail is unchanged.
  assert.deepEqual(await d.admin.auditTail(2), whole.slice(-2));
});

test('GET /v1/audit pages: admin only, bad cursors and parameters are 400 EINVAL', async () => {
  const first = await d.admin.auditPage({ limit: 2 });
  const cursor = first.cursor!;
  const flipped = `${cursor.slice(0, 20)}${cursor[20] === 'A' ? 'B' : 'A'}${cursor.slice(21)}`;
  for (const bad of [flipped, 'not a cursor', cursor.slice(0, 30)]) {
    await assert.rejects(d.admin.auditPage({ limit: 2, cursor: bad }), { code: 'EINVAL' });
  }
  // Moved to another order or filter.
  await assert.rejects(d.admin.auditPage({ limit: 2, cursor, order: 'desc' }), { code: 'EINVAL' });
  await assert.rejects(d.admin.auditPage({ limit: 2, cursor, event: 'key.' }), { code: 'EINVAL' });
  for (const limit of [0, 1001]) await assert.rejects(d.admin.auditPage({ limit }), { code: 'EINVAL' });
  await assert.rejects(d.admin.auditPage({ order: 'sideways' as never }), { code: 'EINVAL' });
  // `count` (the tail) does not combine with paging parameters.
  const raw = await getRaw('/v1/audit?count=5&limit=5');
  assert.equal(raw.status, 400);
  assert.match(raw.body, /EINVAL/);
  // Reading the audit log is an admin operation, paged or not.
  const reader = d.client((await d.admin.tokens.create({ apps: ['*'], ops: ['*'] })).token);
  await assert.rejects(reader.auditPage({ limit: 2 }), { code: 'EPERM' });
  await assert.rejects(all(reader.auditPages()), { code: 'EPERM' });
});

test('client iterators: key pages and keychain find pages join to the whole listing', async () => {
  const admin: CofferClient = d.admin;
  await admin.createKeys(
    Array.from({ length: 9 }, (_, i) => ({
      app: ['crm', 'ops'][i % 2]!,
      purpose: 'q',
      algorithm: 'ed25519' as const,
    })),
  );
  const keyPages = await all(admin.keyPages({ limit: 4 }));
  assert.ok(keyPages.length >= 3 && keyPages.every((p) => p.keys.length <= 4));
  assert.deepEqual(
    keyPages.flatMap((p) => p.keys.map((k) => k.id)),
    (await admin.listKeys()).map((k) => k.id),
  );
  const crm = (await all(admin.keyPages({ app: 'crm', limit: 2 }))).flatMap((p) => p.keys);
  assert.deepEqual(
    crm.map((k) => k.id),
    (await admin.listKeys({ app: 'crm' })).map((k) => k.id),
  );
  const added: string[] = [];
  for (let i = 0; i < 7; i++) {
    const item = await admin.keychain.add({
      kind: 'generic-password',
      attributes: { service: 'paged', account: `user${i}` },
      secret: `pw-${i}`,
      group: 'crm',
    });
    added.push(item.id);
  }
  const found = await all(admin.keychain.findPages({ service: 'paged', limit: 3 }));
  assert.equal(found.length, 3);
  assert.ok(found.every((p) => p.items.length <= 3));
  assert.deepEqual(found.flatMap((p) => p.items.map((i) => i.id)).sort(), [...added].sort());
  // A find cursor is bound to its query.
  await assert.rejects(admin.keychain.find({ service: 'other', cursor: found[0]!.cursor! }), {
    code: 'EINVAL',
  });
});
