// GET /v1/keys?limit=&cursor= through coffer/client (SPEC §4.6): pages join to the full list, a scoped
// token's pages hold only its apps' keys, a bad cursor or limit is 400 EINVAL, and the plain listing
// without paging parameters is unchanged.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { CofferClient } from '../client/index.js';
import type { KeyPageRequest } from '../core/surface.js';
import { startDaemon } from '../testing/daemon.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function walk(client: CofferClient, request: KeyPageRequest): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listKeysPage({ ...request, ...(cursor !== undefined ? { cursor } : {}) });
    assert.ok(page.keys.length <= (request.limit ?? 100));
    ids.push(...page.keys.map((k) => k.id));
    cursor = page.cursor;
  } while (cursor !== undefined);
  return ids;
}

test('key pages over HTTP: complete, scoped, validated', async () => {
  const d = await startDaemon();
  cleanups.push(() => d.cleanup());
  const specs = Array.from({ length: 24 }, (_, i) => ({
    app: ['billing', 'crm', 'ops'][i % 3]!,
    purpose: 'p',
    algorithm: 'ed25519' as const,
  }));
  await d.admin.createKeys(specs);
  const all = (await d.admin.listKeys()).map((k) => k.id);
  assert.equal(all.length, 24);
  assert.deepEqual(await walk(d.admin, { limit: 5 }), all);
  assert.deepEqual(
    await walk(d.admin, { app: 'crm', limit: 3 }),
    (await d.admin.listKeys({ app: 'crm' })).map((k) => k.id),
  );
  const scoped = d.client((await d.admin.tokens.create({ apps: ['crm'], ops: ['read'] })).token);
  const seen = await walk(scoped, { limit: 4 });
  assert.deepEqual(
    seen,
    (await d.admin.listKeys({ app: 'crm' })).map((k) => k.id),
  );
  await assert.rejects(scoped.listKeysPage({ app: 'billing' }), { code: 'EPERM' });
  const first = await d.admin.listKeysPage({ limit: 5 });
  const cursor = first.cursor!;
  const flipped = `${cursor.slice(0, 20)}${cursor[20] === 'A' ? 'B' : 'A'}${cursor.slice(21)}`;
  for (const bad of [flipped, 'not a cursor', cursor.slice(0, 30)]) {
    await assert.rejects(d.admin.listKeysPage({ limit: 5, cursor: bad }), { code: 'EINVAL' });
  }
  await assert.rejects(d.admin.listKeysPage({ app: 'crm', limit: 5, cursor }), { code: 'EINVAL' });
  for (const limit of [0, 1001]) await assert.rejects(d.admin.listKeysPage({ limit }), { code: 'EINVAL' });
});
