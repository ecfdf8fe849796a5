// Paged key listing (src/core/key-pages.ts, SPEC §4.6): a walk visits every key that exists throughout
// exactly once while others are created and destroyed between pages; a forged, altered or moved cursor
// is EINVAL; limits are bounded; version records are never opened; the cursor vector of SPEC §4.6.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { openStorage } from '../storage/open.js';
import { tempKeystore } from '../testing/keystore.js';
import { cursorKey, openCursor, sealCursor } from './key-pages.js';
import type { Keystore } from './keystore.js';
import { versionKey } from './session.js';
import type { KeyPageRequest } from './surface.js';
import type { KeyInfo } from './types.js';

async function walk(ks: Keystore, request: KeyPageRequest, between?: (page: number) => Promise<void>) {
  const seen: KeyInfo[] = [];
  let cursor: string | undefined;
  let page = 0;
  do {
    const got = await ks.listKeysPage({ ...request, ...(cursor !== undefined ? { cursor } : {}) });
    assert.ok(got.keys.length <= (request.limit ?? 100));
    seen.push(...got.keys);
    cursor = got.cursor;
    if (between) await between(page++);
  } while (cursor !== undefined);
  return seen;
}

test('paging visits every key that exists throughout exactly once while keys come and go between pages', async () => {
  const { ks, cleanup } = await tempKeystore();
  try {
    const spec = (app: string, purpose: string) => ({ app, purpose, algorithm: 'aes-256-gcm' as const });
    const stable = await ks.createKeys([
      ...Array.from({ length: 30 }, (_, i) => spec(`app${i % 3}`, `p${i % 2}`)),
      ...Array.from({ length: 10 }, () => spec('app1', 'p1')),
    ]);
    // Rotated keys have several version records between their meta records.
    for (const key of stable.slice(0, 8)) await ks.rotate(key.id);
    const doomed = await ks.createKeys(Array.from({ length: 10 }, (_, i) => spec(`app${i % 3}`, 'p0')));
    const added: KeyInfo[] = [];
    const seen = await walk(ks, { limit: 7 }, async (page) => {
      added.push(...(await ks.createKeys([spec('app0', 'p0'), spec('app2', 'p1'), spec('app9', 'p9')])));
      const gone = doomed[page];
      if (gone) await ks.destroy(gone.id);
    });
    const ids = seen.map((k) => k.id);
    assert.equal(new Set(ids).size, ids.length, 'no key twice');
    for (const key of stable) assert.ok(ids.includes(key.id), `${key.id} listed`);
    const all = new Set([...stable, ...doomed, ...added].map((k) => k.id));
    for (const id of ids) assert.ok(all.has(id));
    // The order is the listing's: (app, purpose, id).
    const order = seen.map((k) => `${k.app}/${k.purpose}/${k.id}`);
    assert.deepEqual(order, [...order].sort());
    // Unchanged store: pages join to exactly listKeys(), for every filter and page size.
    for (const filter of [{}, { app: 'app1' }, { app: 'app1', purpose: 'p1' }, { app: 'absent' }]) {
      const full = (await ks.listKeys(filter)).map((k) => k.id);
      for (const limit of [1, 3, 1000]) {
        assert.deepEqual(
          (await walk(ks, { ...filter, limit })).map((k) => k.id),
          full,
        );
      }
    }
    const one = await ks.listKeysPage({ app: 'app1', purpose: 'p1', limit: 1 });
    assert.equal(one.keys.length, 1);
    assert.deepEqual(one.keys[0], await ks.getKey(one.keys[0]!.id));
  } finally {
    await cleanup();
  }
});

test('a forged, altered or moved cursor is EINVAL; limits are bounded', async () => {
  const { ks, cleanup } = await tempKeystore();
  try {
    await ks.createKeys(
      Array.from({ length: 5 }, () => ({ app: 'a', purpose: 'p', algorithm: 'ed25519' as const })),
    );
    const first = await ks.listKeysPage({ limit: 2 });
    const cursor = first.cursor!;
    assert.equal(typeof cursor, 'string');
    assert.ok(!cursor.includes(first.keys[1]!.id), 'the cursor does not show the key id');
    assert.equal((await ks.listKeysPage({ limit: 2, cursor })).keys.length, 2);
    const einval = { code: 'EINVAL' };
    // Another filter's listing refuses it (it is bound to its prefix).
    await assert.rejects(ks.listKeysPage({ app: 'a', limit: 2, cursor }), einval);
    for (const bad of [
      '',
      'x',
      'AAAA',
      '!!!!',
      cursor.slice(0, -2),
      `${cursor}AA`,
      'A'.repeat(2000),
      42,
      null,
    ]) {
      await assert.rejects(ks.listKeysPage({ cursor: bad as string }), einval, String(bad));
    }
    // Every single-character change of the cursor is refused, never a crash.
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: cursor.length - 1 }), fc.constantFrom(...'AQgw_-9z'), async (at, ch) => {
        const altered = cursor.slice(0, at) + ch + cursor.slice(at + 1);
        if (altered === cursor) return;
        await assert.rejects(ks.listKeysPage({ limit: 2, cursor: altered }), (e: unknown) => {
          return e instanceof CofferError && e.code === 'EINVAL';
        });
      }),
      { numRuns: 60 },
    );
    for (const limit of [0, -1, 1001, 1.5, Number.NaN, '5']) {
      await assert.rejects(ks.listKeysPage({ limit: limit as number }), einval, String(limit));
    }
    assert.equal((await ks.listKeysPage({ limit: 1000 })).keys.length, 5);
    assert.equal((await ks.listKeysPage({ limit: 1000 })).cursor, undefined);
    await assert.rejects(ks.listKeysPage({ purpose: 'p' }), einval);
    await assert.rejects(ks.listKeysPage({ app: 'A B' }), einval);
    // A cursor sealed by another keystore is refused.
    const other = await tempKeystore();
    try {
      await other.ks.createKeys(
        [1, 2, 3].map(() => ({ app: 'a', purpose: 'p', algorithm: 'ed25519' as const })),
      );
      const foreign = (await other.ks.listKeysPage({ limit: 1 })).cursor!;
      await assert.rejects(ks.listKeysPage({ limit: 1, cursor: foreign }), einval);
    } finally {
      await other.cleanup();
    }
  } finally {
    await cleanup();
  }
});

test('cursor vector (SPEC §4.6): the cursor key and a sealed cursor open to the listed position', () => {
  const barrier = Uint8Array.from({ length: 32 }, (_, i) => i);
  const key = cursorKey(barrier);
  assert.equal(Buffer.from(key).toString('hex'), CURSOR_KEY_HEX);
  assert.equal(
    openCursor(key, 'keystore/billing/', VECTOR_CURSOR),
    'keystore/billing/invoices/k_aaaaaaaaaaaaaaaaaaaaaaaaaa/meta',
  );
  assert.throws(() => openCursor(key, 'keystore/', VECTOR_CURSOR), { code: 'EINVAL' });
  const fixed = { randomBytes: (n: number) => new Uint8Array(n).fill(7) } as never;
  assert.equal(
    sealCursor(
      key,
      'keystore/billing/',
      'keystore/billing/invoices/k_aaaaaaaaaaaaaaaaaaaaaaaaaa/meta',
      fixed,
    ),
    VECTOR_CURSOR,
  );
});

// Computed with node:crypto's hkdfSync and createCipheriv directly, not with the code under test.
const CURSOR_KEY_HEX = '47cef07659315abd9718de78678518c0f9b29edc8d80d03704587f21f5c263e4';
const VECTOR_CURSOR =
  'AQcHBwcHBwcHBwcHB479_UfKzwxWo2Yd_hxghjjoxii3lWN3X9aKJ1Scudu6ZdcJTzt6Nu2BvMqe1SH9xYbgBH4CXV97nln7CYTVegYevZJVAKqb_4zb2w';

test('listing reads meta records only: a damaged version record fails its key’s use, never a listing', async () => {
  const { ks, url, cleanup } = await tempKeystore();
  try {
    const [damaged, other] = await ks.createKeys([
      { app: 'billing', purpose: 'sign', algorithm: 'ed25519' },
      { app: 'billing', purpose: 'sign', algorithm: 'ed25519' },
    ]);
    // Someone who can write the store's rows replaces the version record (the tree no longer agrees).
    const raw = await openStorage(url);
    try {
      const key = versionKey(damaged!, 1);
      const record = await raw.get(key);
      await raw.write([
        { op: 'put', key, value: new Uint8Array(record!.value.length), expectRevision: record!.revision },
      ]);
    } finally {
      await raw.close();
    }
    const ids = (list: KeyInfo[]) => list.map((k) => k.id).sort();
    const expected = [damaged!.id, other!.id].sort();
    assert.deepEqual(ids(await ks.listKeys({ app: 'billing' })), expected);
    assert.deepEqual(ids((await ks.listKeysPage({ app: 'billing', limit: 10 })).keys), expected);
    await assert.rejects(ks.sign(damaged!.id, new Uint8Array(8)), { code: 'EBADMSG' });
    assert.equal((await ks.sign(other!.id, new Uint8Array(8))).signature.length, 64);
  } finally {
    await cleanup();
  }
});
