// Paged audit reads (src/core/audit-pages.ts, SPEC §8.1): a walk up or down visits every entry exactly
// once while others are appended concurrently; filters and the scan budget; a forged, altered, moved
// or foreign cursor is EINVAL; a log damaged by someone who can write the store's files (a deleted
// entry, entries transplanted from a copy of the same keystore) is EBADMSG on the page that reads it;
// the cursor vector of SPEC §8.1.
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { openStorage } from '../storage/open.js';
import { passphrase, tempKeystore } from '../testing/keystore.js';
import { auditEntryKey } from './audit.js';
import { auditCursorAad, auditCursorKey, openAuditCursor, sealAuditCursor } from './audit-pages.js';
import { Keystore } from './keystore.js';
import type { AuditPageRequest } from './surface.js';

type Walked = { seq: number; event: string; keyId?: string; at: number; actor: string };

async function walk(
  ks: Keystore,
  request: AuditPageRequest,
  between?: (page: number) => Promise<void>,
): Promise<{ seen: Walked[]; pages: number }> {
  const seen: Walked[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const got = await ks.auditPage({ ...request, ...(cursor !== undefined ? { cursor } : {}) });
    assert.ok(got.entries.length <= (request.limit ?? 100));
    seen.push(...got.entries);
    cursor = got.cursor;
    if (between) await between(pages);
    pages += 1;
  } while (cursor !== undefined);
  return { seen, pages };
}

const events = (n: number, event = 'test.event', keyId?: string) =>
  Array.from({ length: n }, (_, i) => ({ event, ...(keyId ? { keyId } : {}), details: { i } }));

test('walks up and down visit every entry exactly once, in order, with appends between pages', async () => {
  const { ks, cleanup } = await tempKeystore();
  try {
    await ks.appendAudit(events(40));
    const before = (await ks.verifyAudit()).entries;
    // Up: appends between pages are seen too, once each, and the walk ends at the head.
    const up = await walk(ks, { limit: 7 }, async (page) => {
      if (page < 3) await ks.appendAudit(events(3, 'test.more'));
    });
    const total = (await ks.verifyAudit()).entries;
    assert.equal(total, before + 9);
    assert.deepEqual(
      up.seen.map((e) => e.seq),
      Array.from({ length: total }, (_, i) => i + 1),
    );
    // Down: from the head at the first page to entry 1; entries appended meanwhile are above it.
    const down = await walk(ks, { limit: 6, order: 'desc' }, async () => {
      await ks.appendAudit(events(2, 'test.later'));
    });
    assert.deepEqual(
      down.seen.map((e) => e.seq),
      Array.from({ length: total }, (_, i) => total - i),
    );
    assert.equal(down.pages, Math.ceil(total / 6));
  } finally {
    await cleanup();
  }
});

test('a walk run concurrently with appends sees a gapless prefix of the log, each entry once', async () => {
  const { ks, cleanup } = await tempKeystore();
  try {
    await ks.appendAudit(events(25));
    let appending = true;
    const appender = (async () => {
      for (let i = 0; i < 20; i++) await ks.appendAudit(events(2, 'test.concurrent'));
      appending = false;
    })();
    const { seen } = await walk(ks, { limit: 4 });
    await appender;
    assert.ok(!appending || seen.length >= 26);
    assert.deepEqual(
      seen.map((e) => e.seq),
      Array.from({ length: seen.length }, (_, i) => i + 1),
    );
    // Continuing is possible: a fresh walk now sees all of them.
    assert.equal((await walk(ks, { limit: 1000 })).seen.length, (await ks.verifyAudit()).entries);
  } finally {
    await cleanup();
  }
});

test('filters: key, event or event prefix, actor, time window, in both orders', async () => {
  const { ks, cleanup } = await tempKeystore();
  try {
    const key = await ks.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519' });
    await ks.appendAudit(events(10, 'test.noise'));
    await ks.rotate(key.id);
    await ks.appendAudit(events(10, 'test.noise'));
    await ks.suspend(key.id);
    const all = (await walk(ks, { limit: 1000 })).seen;
    for (const order of ['asc', 'desc'] as const) {
      const forKey = (await walk(ks, { keyId: key.id, limit: 1, order })).seen.map((e) => e.event);
      const expected = ['key.create', 'key.rotate', 'key.suspend'];
      assert.deepEqual(forKey, order === 'asc' ? expected : [...expected].reverse());
      assert.equal((await walk(ks, { event: 'key.', limit: 2, order })).seen.length, 3);
      assert.equal((await walk(ks, { event: 'key', limit: 2, order })).seen.length, 0);
      assert.equal((await walk(ks, { event: 'test.noise', limit: 3, order })).seen.length, 20);
      assert.equal((await walk(ks, { actor: 'nobody', order })).seen.length, 0);
      assert.equal((await walk(ks, { actor: all[0]!.actor, order })).seen.length, all.length);
    }
    const middle = all[Math.floor(all.length / 2)]!.at;
    const late = (await walk(ks, { since: middle, limit: 5 })).seen;
    const early = (await walk(ks, { until: middle, limit: 5 })).seen;
    assert.equal(late.length + early.length, all.length);
    assert.ok(late.every((e) => e.at >= middle) && early.every((e) => e.at < middle));
  } finally {
    await cleanup();
  }
});

test('a filter that matches rarely gives bounded pages: short or empty ones that carry a cursor', async () => {
  const { ks, cleanup } = await tempKeystore();
  try {
    await ks.appendAudit(events(6000));
    await ks.appendAudit(events(6000));
    await ks.appendAudit([{ event: 'test.needle' }]);
    await ks.appendAudit(events(1000));
    const first = await ks.auditPage({ event: 'test.needle', limit: 10 });
    // The scan budget (10 000 entries) ends the first page before the needle at about 12 000.
    assert.deepEqual(first.entries, []);
    assert.ok(first.cursor);
    const second = await ks.auditPage({ event: 'test.needle', limit: 10, cursor: first.cursor });
    assert.deepEqual(
      second.entries.map((e) => e.event),
      ['test.needle'],
    );
    assert.equal(second.cursor, undefined);
  } finally {
    await cleanup();
  }
});

test('bad requests and bad cursors are EINVAL, never a crash', async () => {
  const { ks, cleanup } = await tempKeystore();
  try {
    await ks.appendAudit(events(12));
    const einval = { code: 'EINVAL' };
    const first = await ks.auditPage({ limit: 3 });
    const cursor = first.cursor!;
    assert.equal((await ks.auditPage({ limit: 3, cursor })).entries[0]!.seq, 4);
    // The same cursor read twice gives the same page (a retried request is harmless).
    assert.deepEqual(
      (await ks.auditPage({ limit: 3, cursor })).entries,
      (await ks.auditPage({ limit: 3, cursor })).entries,
    );
    // Bound to the order and every filter, not to the page size.
    assert.equal((await ks.auditPage({ limit: 5, cursor })).entries.length, 5);
    for (const moved of [
      { order: 'desc' as const },
      { event: 'key.' },
      { keyId: 'k_x' },
      { actor: 'a' },
      { since: 0 },
      { until: 1 },
    ]) {
      await assert.rejects(ks.auditPage({ ...moved, cursor }), einval, JSON.stringify(moved));
    }
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
      await assert.rejects(ks.auditPage({ cursor: bad as string }), einval, String(bad));
    }
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: cursor.length - 1 }), fc.constantFrom(...'AQgw_-9z'), async (at, ch) => {
        const altered = cursor.slice(0, at) + ch + cursor.slice(at + 1);
        if (altered === cursor) return;
        await assert.rejects(ks.auditPage({ limit: 3, cursor: altered }), (e: unknown) => {
          return e instanceof CofferError && e.code === 'EINVAL';
        });
      }),
      { numRuns: 60 },
    );
    for (const bad of [
      { limit: 0 },
      { limit: 1001 },
      { limit: 1.5 },
      { limit: '5' },
      { order: 'up' },
      { since: -1 },
      { until: 1.5 },
      { keyId: '' },
      { event: 'x'.repeat(257) },
      { actor: 7 },
    ]) {
      await assert.rejects(ks.auditPage(bad as never), einval, JSON.stringify(bad));
    }
    await assert.rejects(ks.auditPage(null as never), einval);
    // A cursor sealed by another keystore (another audit key) is refused.
    const other = await tempKeystore();
    try {
      await other.ks.appendAudit(events(5));
      const foreign = (await other.ks.auditPage({ limit: 1 })).cursor!;
      await assert.rejects(ks.auditPage({ limit: 1, cursor: foreign }), einval);
    } finally {
      await other.cleanup();
    }
  } finally {
    await cleanup();
  }
});

test('fuzz: the cursor parser answers EINVAL or a position for any string, never anything else', () => {
  const key = auditCursorKey(new Uint8Array(32).fill(9));
  const aad = auditCursorAad({ order: 'asc' });
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.base64String({ maxLength: 200 })), (text) => {
      try {
        openAuditCursor(key, aad, text);
        return false; // nothing random opens under the key
      } catch (error) {
        return error instanceof CofferError && error.code === 'EINVAL';
      }
    }),
    { numRuns: 500 },
  );
});

/**
 * A keystore and a byte-for-byte copy of it that then lives on: same keys, diverging logs. `fork` is the
 * first seq at which the two logs differ.
 */
async function forked() {
  const fixture = await tempKeystore();
  await fixture.ks.appendAudit(events(10, 'test.common'));
  await fixture.ks.close();
  const copyUrl = `sqlite:${join(fixture.dir.path, 'copy.db')}`;
  copyFileSync(join(fixture.dir.path, 'store.db'), join(fixture.dir.path, 'copy.db'));
  const copy = await Keystore.open({ store: copyUrl, protector: passphrase() });
  await copy.appendAudit(events(10, 'test.copy'));
  const theirs = (await copy.auditPage({ limit: 1000 })).entries;
  await copy.close();
  const ks = await Keystore.open({ store: fixture.url, protector: passphrase() });
  await ks.appendAudit(events(10, 'test.original'));
  const ours = (await ks.auditPage({ limit: 1000 })).entries;
  const fork = ours.findIndex((e, i) => e.hash !== theirs[i]?.hash) + 1;
  assert.ok(fork > 10 && fork + 5 < ours.length);
  return { ...fixture, ks, copyUrl, fork };
}

/** Writes the copy's entries `seqs` over the original's, as someone who can write both stores' files. */
async function transplant(url: string, copyUrl: string, seqs: number[]) {
  const from = await openStorage(copyUrl);
  const to = await openStorage(url);
  for (const seq of seqs) {
    const record = (await from.get(auditEntryKey(seq)))!;
    await to.write([{ op: 'put', key: record.key, value: record.value }]);
  }
  await from.close();
  await to.close();
}

test('entries transplanted from a copy of the same keystore break the chain: the page that reads them is EBADMSG', async () => {
  const { ks, url, copyUrl, fork, cleanup } = await forked();
  try {
    const first = await ks.auditPage({ limit: fork });
    // The copy's entry after the fork opens under the same barrier key and carries a valid MAC; only
    // the link tells it apart. The cursor carries that link across pages.
    await transplant(url, copyUrl, [fork + 1]);
    await assert.rejects(ks.auditPage({ limit: 1, cursor: first.cursor! }), {
      code: 'EBADMSG',
      message: new RegExp(`entry ${fork + 1}: does not link`),
    });
    await assert.rejects(walk(ks, { limit: 1000 }), {
      code: 'EBADMSG',
      message: new RegExp(`entry ${fork + 1}: does not link`),
    });
    // Going down, each entry must have the hash the one above it links to.
    await assert.rejects(walk(ks, { order: 'desc', limit: 2 }), {
      code: 'EBADMSG',
      message: new RegExp(`entry ${fork + 2}: does not link`),
    });
    assert.equal((await ks.verifyAudit()).ok, false);
  } finally {
    await cleanup();
  }
});

test('a deleted entry, and a deleted head, are EBADMSG on the pages that cross them', async () => {
  const { ks, url, cleanup } = await tempKeystore();
  try {
    await ks.appendAudit(events(20));
    await ks.close();
    const storage = await openStorage(url);
    await storage.write([{ op: 'delete', key: auditEntryKey(9) }]);
    await storage.close();
    const again = await Keystore.open({ store: url, protector: passphrase() });
    try {
      assert.equal((await again.auditPage({ limit: 8 })).entries.length, 8);
      await assert.rejects(walk(again, { limit: 8 }), { code: 'EBADMSG', message: /entry 9 is missing/ });
      await assert.rejects(walk(again, { limit: 8, order: 'desc' }), {
        code: 'EBADMSG',
        message: /entry 9 is missing/,
      });
      await assert.rejects(walk(again, { limit: 5, event: 'nothing.' }), { code: 'EBADMSG' });
    } finally {
      await again.close();
    }
  } finally {
    await cleanup().catch(() => {});
  }
});

test('cursor vector (SPEC §8.1): the cursor key and a sealed cursor open to the position', () => {
  const key = auditCursorKey(Uint8Array.from({ length: 32 }, (_, i) => i));
  assert.equal(Buffer.from(key).toString('hex'), AUDIT_CURSOR_KEY_HEX);
  const aad = auditCursorAad({ order: 'desc', event: 'key.' });
  assert.equal(new TextDecoder().decode(aad), 'coffer:audit-page:v1\0{"event":"key.","order":"desc"}');
  const position = { seq: 42, link: 'ab'.repeat(32) };
  assert.deepEqual(openAuditCursor(key, aad, VECTOR_AUDIT_CURSOR), position);
  assert.throws(() => openAuditCursor(key, auditCursorAad({ order: 'desc' }), VECTOR_AUDIT_CURSOR), {
    code: 'EINVAL',
  });
  const fixed = { randomBytes: (n: number) => new Uint8Array(n).fill(7) } as never;
  assert.equal(sealAuditCursor(key, aad, position, fixed), VECTOR_AUDIT_CURSOR);
});

// Computed with node:crypto's hkdfSync and createCipheriv directly, not with the code under test.
const AUDIT_CURSOR_KEY_HEX = 'b08453fce2aa333afb6dd6ad2a56830a04c50baaf2e0bd44fa88a66a12a88484';
const VECTOR_AUDIT_CURSOR =
  'AQcHBwcHBwcHBwcHB1smLgg5a5i2F0AKVywf20x72PqDN6RqYuaC6lnjh36X2N4gC62FUKNTmP19jiyESNY1pib_IeoF';
