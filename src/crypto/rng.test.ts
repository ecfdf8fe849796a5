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

test('systemRng: small requests from its block are never handed out twice, each in a buffer of its own', () => {
  const seen = new Set<string>();
  // 12-byte nonces across many 4 KiB blocks (and requests of other sizes breaking the alignment).
  for (let i = 0; i < 3000; i++) {
    const nonce = systemRng.randomBytes(12);
    assert.equal(nonce.length, 12);
    assert.equal(nonce.byteOffset, 0);
    assert.equal(nonce.buffer.byteLength, 12, 'not a view into a shared block');
    const hex = toHex(nonce);
    assert.ok(!seen.has(hex), 'a nonce repeated');
    seen.add(hex);
    nonce.fill(0); // wiping a result must not touch what later calls get
    if (i % 97 === 0) assert.equal(systemRng.randomBytes(i % 65).length, i % 65);
  }
  assert.equal(systemRng.randomBytes(65).length, 65);
  assert.equal(systemRng.randomBytes(0).length, 0);
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
