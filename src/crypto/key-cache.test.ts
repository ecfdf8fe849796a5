// The prepared-key cache: keyed by the bytes (not the buffer), bounded with least-recently-used
// eviction, wipe hook on eviction and clear, labels keep caches apart, a failed preparation caches
// nothing, and repeated signing really skips the expensive import.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clearKeyCaches, KeyCache, SECRET_CACHE_BYTES } from './key-cache.js';
import * as sig from './sig.js';

test('hits follow the bytes, not the buffer; a mutated buffer is a different key', () => {
  const cache = new KeyCache<string>('test/bytes', 4);
  let prepared = 0;
  const prepare = (label: string) => () => {
    prepared++;
    return label;
  };
  const key = new Uint8Array(32).fill(1);
  assert.equal(cache.get(key, prepare('one')), 'one');
  assert.equal(cache.get(key.slice(), prepare('again')), 'one');
  assert.equal(prepared, 1);
  key[0] = 2;
  assert.equal(cache.get(key, prepare('two')), 'two');
  assert.equal(prepared, 2);
});

test('bounded LRU: the least recently used entry goes first, with the wipe hook', () => {
  const evicted: Uint8Array[] = [];
  const cache = new KeyCache<Uint8Array>('test/lru', 2, (value) => {
    evicted.push(value.slice());
    value.fill(0);
  });
  const k = (n: number) => Uint8Array.of(n);
  const a = cache.get(k(1), () => Uint8Array.of(11));
  cache.get(k(2), () => Uint8Array.of(22));
  cache.get(k(1), () => Uint8Array.of(99)); // touch 1: now 2 is oldest
  cache.get(k(3), () => Uint8Array.of(33));
  assert.equal(cache.size, 2);
  assert.deepEqual(evicted, [Uint8Array.of(22)]);
  assert.deepEqual(
    cache.get(k(1), () => Uint8Array.of(0)),
    Uint8Array.of(11),
  );
  cache.clear();
  assert.equal(cache.size, 0);
  assert.deepEqual(a, Uint8Array.of(0), 'clear wipes through the hook');
  assert.equal(evicted.length, 3);
});

test('labels separate caches; a throwing preparation caches nothing', () => {
  const one = new KeyCache<string>('test/one', 4);
  const two = new KeyCache<string>('test/two', 4);
  const key = new Uint8Array(8);
  one.get(key, () => 'one');
  assert.equal(
    two.get(key, () => 'two'),
    'two',
  );
  assert.throws(() =>
    one.get(Uint8Array.of(5), () => {
      throw new Error('bad key');
    }),
  );
  assert.equal(one.size, 1);
  assert.throws(() => new KeyCache('test/zero', 0), RangeError);
});

test('a byte budget bounds a cache by estimated memory, least recently used out first', () => {
  const evicted: number[] = [];
  const cache = new KeyCache<number>('test/budget', { maxBytes: 10_000, entryBytes: 3000 }, (v) => {
    evicted.push(v);
  });
  assert.equal(cache.capacity, 3);
  for (let i = 0; i < 5; i++) cache.get(Uint8Array.of(i), () => i);
  assert.equal(cache.size, 3);
  assert.deepEqual(evicted, [0, 1]);
  // Cheap keys are kept by the thousand in the default budget, far beyond the 64 entries of before.
  assert.ok(
    new KeyCache('test/default', { maxBytes: SECRET_CACHE_BYTES, entryBytes: 3072 }).capacity > 10_000,
  );
  // A budget smaller than one entry still keeps one; nonsense budgets are refused.
  assert.equal(new KeyCache('test/tiny', { maxBytes: 1, entryBytes: 3000 }).capacity, 1);
  assert.throws(() => new KeyCache('test/bad', { maxBytes: 0, entryBytes: 1 }), RangeError);
  assert.throws(() => new KeyCache('test/bad2', { maxBytes: 10, entryBytes: 0 }), RangeError);
  assert.throws(() => new KeyCache('test/nan', { maxBytes: Number.NaN, entryBytes: 1 }), RangeError);
});

test('clearKeyCaches empties every cache in the process', () => {
  const cache = new KeyCache<string>('test/global', 4);
  cache.get(Uint8Array.of(1), () => 'x');
  clearKeyCaches();
  assert.equal(cache.size, 0);
});

test('a cached key signs much faster than a cold one (the import is skipped)', () => {
  const { secretKey } = sig.keygen('ecdsa-p256');
  const message = new Uint8Array(32);
  // Best of three interleaved rounds, so a burst of load on a shared CI machine cannot decide it.
  const time = (fn: () => void, n: number) => {
    const start = performance.now();
    for (let i = 0; i < n; i++) fn();
    return (performance.now() - start) / n;
  };
  let cold = Number.POSITIVE_INFINITY;
  let warm = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const c = time(() => {
      sig.clearKeyCache();
      sig.sign('ecdsa-p256', secretKey, message);
    }, 30);
    cold = Math.min(cold, c);
    sig.sign('ecdsa-p256', secretKey, message);
    warm = Math.min(
      warm,
      time(() => sig.sign('ecdsa-p256', secretKey, message), 30),
    );
  }
  // Import + public-key export costs several signatures; the factor 1.5 leaves room for noise.
  assert.ok(warm * 1.5 < cold, `warm ${warm.toFixed(3)} ms vs cold ${cold.toFixed(3)} ms`);
});
