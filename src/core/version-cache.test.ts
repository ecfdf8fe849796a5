// The session's unwrapped-version cache is bounded by bytes, evicts the least recently used key, wipes
// what lock and destroy drop, and never wipes a secret it merely evicts (an operation may still hold it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VERSION_OVERHEAD_BYTES, VersionCache } from './version-cache.js';

const secret = (fill: number) => new Uint8Array(32).fill(fill);
const ENTRY = VERSION_OVERHEAD_BYTES + 32 + 32;

test('the cache never holds more than its byte budget, evicting the least recently used key', () => {
  const cache = new VersionCache(10 * ENTRY);
  const evicted: Uint8Array[] = [];
  for (let i = 0; i < 25; i++) {
    const s = secret(i + 1);
    if (i < 15) evicted.push(s);
    cache.set(`k${i}`, 1, { secret: s, publicKey: new Uint8Array(32) });
    assert.ok(cache.bytes <= 10 * ENTRY, `over budget after ${i + 1} keys: ${cache.bytes}`);
  }
  assert.equal(cache.size, 10);
  assert.equal(cache.get('k14', 1), undefined);
  assert.equal(cache.get('k15', 1)?.secret?.[0], 16);
  // Evicted secrets are left as they were: an operation may be about to use one.
  for (const [i, s] of evicted.entries()) assert.equal(s[0], i + 1);
});

test('a use makes a key the youngest: the next eviction takes another', () => {
  const cache = new VersionCache(3 * ENTRY);
  for (const id of ['a', 'b', 'c']) cache.set(id, 1, { secret: secret(1), publicKey: new Uint8Array(32) });
  assert.ok(cache.get('a', 1));
  cache.set('d', 1, { secret: secret(1), publicKey: new Uint8Array(32) });
  assert.ok(cache.get('a', 1), 'a was used last-but-one, so b went');
  assert.equal(cache.get('b', 1), undefined);
  assert.ok(cache.get('c', 1));
  assert.ok(cache.get('d', 1));
});

test('bytes are counted per version and by size: big public keys take more room', () => {
  const cache = new VersionCache(4 * ENTRY);
  cache.set('big', 1, { secret: secret(1), publicKey: new Uint8Array(4 * ENTRY) });
  assert.equal(cache.size, 1, 'the one key just stored stays even when alone over budget');
  cache.set('small', 1, { secret: secret(2) });
  assert.equal(cache.get('big', 1), undefined, 'the big key went to make room');
  // Adding a field to a cached version counts the new bytes and not the old ones twice.
  cache.set('small', 1, { publicKey: new Uint8Array(32) });
  assert.equal(cache.bytes, ENTRY);
  assert.equal(cache.get('small', 1)?.secret?.[0], 2);
  cache.set('small', 2, { secret: secret(3) });
  assert.equal(cache.bytes, 2 * ENTRY - 32);
});

test('forget and clear wipe the secrets they drop', () => {
  const cache = new VersionCache();
  const a1 = secret(7);
  const a2 = secret(8);
  const b = secret(9);
  cache.set('a', 1, { secret: a1 });
  cache.set('a', 2, { secret: a2 });
  cache.set('b', 1, { secret: b });
  cache.forget('a');
  assert.deepEqual([a1[0], a2[31]], [0, 0]);
  assert.equal(cache.get('a', 1), undefined);
  assert.equal(b[0], 9);
  cache.clear();
  assert.equal(b[0], 0);
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
});
