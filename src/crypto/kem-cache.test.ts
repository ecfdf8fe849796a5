// Proves the expanded-key LRU: hits return the same entry, the least recently used entry is evicted
// and disposed first, a throwing build caches nothing, domains separate equal key bytes, and clear()
// disposes everything.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExpandedKeyCache } from './kem-cache.js';

class Entry {
  disposed = false;
  constructor(readonly label: string) {}
  dispose(): void {
    this.disposed = true;
  }
}

const key = (n: number) => Uint8Array.of(n, n, n);

test('a hit returns the cached entry without rebuilding it', () => {
  const cache = new ExpandedKeyCache<Entry>(4);
  let builds = 0;
  const build = () => new Entry(`e${++builds}`);
  const first = cache.get('d', key(1), build);
  assert.equal(cache.get('d', key(1), build), first);
  assert.equal(cache.get('d', Uint8Array.from(key(1)), build), first, 'equal bytes, different array');
  assert.equal(builds, 1);
  assert.deepEqual(cache.stats(), { hits: 2, misses: 1, size: 1, capacity: 4 });
});

test('least recently used is evicted and disposed first', () => {
  const cache = new ExpandedKeyCache<Entry>(2);
  const a = cache.get('d', key(1), () => new Entry('a'));
  const b = cache.get('d', key(2), () => new Entry('b'));
  cache.get('d', key(1), () => new Entry('unused')); // touch a: b is now the oldest
  const c = cache.get('d', key(3), () => new Entry('c'));
  assert.equal(b.disposed, true);
  assert.equal(a.disposed, false);
  assert.equal(c.disposed, false);
  assert.equal(cache.stats().size, 2);
  const b2 = cache.get('d', key(2), () => new Entry('b2'));
  assert.equal(b2.label, 'b2', 'an evicted key is rebuilt');
  assert.equal(a.disposed, true, 'then a was the oldest');
});

test('a throwing build caches nothing; domains keep equal key bytes apart', () => {
  const cache = new ExpandedKeyCache<Entry>(4);
  assert.throws(() =>
    cache.get('d', key(9), () => {
      throw new Error('malformed');
    }),
  );
  assert.equal(cache.stats().size, 0);
  const x = cache.get('x-wing', key(5), () => new Entry('x'));
  const m = cache.get('ml-kem-768', key(5), () => new Entry('m'));
  assert.notEqual(x, m);
  // The domain separator stops ("ab", key) and ("a", "b" ‖ key) from colliding.
  const p = cache.get('ab', key(6), () => new Entry('p'));
  const q = cache.get('a', Uint8Array.of(0x62, 6, 6, 6), () => new Entry('q'));
  assert.notEqual(p, q);
});

test('clear() disposes every entry and empties the cache', () => {
  const cache = new ExpandedKeyCache<Entry>(8);
  const entries = [1, 2, 3].map((n) => cache.get('d', key(n), () => new Entry(String(n))));
  cache.clear();
  assert.ok(entries.every((e) => e.disposed));
  assert.equal(cache.stats().size, 0);
  assert.throws(() => new ExpandedKeyCache<Entry>(0), RangeError);
});

test('public-key memo: the same array object hits; mutating it in place is seen as a new key', () => {
  const cache = new ExpandedKeyCache<Entry>(8, { publicKeys: true });
  const bytes = key(1);
  const a = cache.get('d', bytes, () => new Entry('a'));
  assert.equal(
    cache.get('d', bytes, () => new Entry('unused')),
    a,
  );
  bytes[0] = 2; // same object, different key
  const b = cache.get('d', bytes, () => new Entry('b'));
  assert.notEqual(b, a);
  assert.equal(
    cache.get('d', key(1), () => new Entry('unused')),
    a,
    'a fresh array of the old bytes',
  );
  assert.notEqual(
    cache.get('other', bytes, () => new Entry('c')),
    b,
    'the memo is per domain',
  );
  assert.deepEqual(cache.stats(), { hits: 2, misses: 3, size: 3, capacity: 8 });
});
