// The system RNG gives fresh bytes; the seeded DRBG is deterministic, flagged insecure, and matches
// the HMAC-DRBG construction of SP 800-90A (checked against an independent re-derivation).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { toHex } from './bytes.js';
import { insecureSeededRng, systemRng } from './rng.js';

test('systemRng returns fresh bytes of the requested length and is not insecure', () => {
  const a = systemRng.randomBytes(32);
  const b = systemRng.randomBytes(32);
  assert.equal(a.length, 32);
  assert.notDeepEqual(a, b);
  assert.equal(systemRng.insecure, false);
  assert.throws(() => systemRng.randomBytes(-1), { code: 'EINVAL' });
  assert.throws(() => systemRng.randomBytes(1.5), { code: 'EINVAL' });
});

test('systemRng: small requests from its pool are fresh, own their memory and never repeat', () => {
  const seen = new Set<string>();
  // 3 000 requests of 12 to 64 bytes cross many 4 KiB pool refills, and odd sizes straddle them.
  for (let i = 0; i < 3000; i++) {
    const length = 12 + (i % 53);
    const bytes = systemRng.randomBytes(length);
    assert.equal(bytes.length, length);
    assert.equal(bytes.buffer.byteLength, length, 'a view of the pool would expose the bytes after it');
    const hex = toHex(bytes.subarray(0, 12));
    assert.ok(!seen.has(hex), 'repeated bytes');
    seen.add(hex);
  }
  assert.equal(systemRng.randomBytes(0).length, 0);
  const large = systemRng.randomBytes(100_000);
  assert.equal(large.length, 100_000);
  assert.ok(large.some((b) => b !== 0));
});

test('insecureSeededRng: same seed gives the same stream, another seed another', () => {
  const seed = new Uint8Array(32).fill(7);
  const a = insecureSeededRng(seed);
  const b = insecureSeededRng(seed);
  assert.equal(a.insecure, true);
  assert.deepEqual(a.randomBytes(50), b.randomBytes(50));
  assert.deepEqual(a.randomBytes(7), b.randomBytes(7));
  const c = insecureSeededRng(new Uint8Array(32).fill(8));
  assert.notDeepEqual(c.randomBytes(50), insecureSeededRng(seed).randomBytes(50));
  assert.throws(() => insecureSeededRng(new Uint8Array(8)), { code: 'EINVAL' });
  assert.throws(() => insecureSeededRng('seed' as unknown as Uint8Array), { code: 'EINVAL' });
});

test('insecureSeededRng follows HMAC-DRBG (SP 800-90A §10.1.2) step by step', () => {
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
  const h = (k: Buffer, ...p: Uint8Array[]) => {
    const m = createHmac('sha256', k);
    for (const x of p) m.update(x);
    return m.digest();
  };
  let K = Buffer.alloc(32, 0);
  let V = Buffer.alloc(32, 1);
  K = h(K, V, Uint8Array.of(0), seed);
  V = h(K, V);
  K = h(K, V, Uint8Array.of(1), seed);
  V = h(K, V);
  V = h(K, V);
  const first = V;
  assert.equal(toHex(insecureSeededRng(seed).randomBytes(32)), first.toString('hex'));
});
