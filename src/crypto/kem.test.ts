// Proves the public kem API (SPEC §1): argument checks come first and are EINVAL, random and
// seeded keygen/encapsulation round-trip, random bit flips change the secret without ever throwing,
// the expanded-key cache is used, bounded and cannot be corrupted through returned buffers, and the
// SPEC.md §KEM test vectors hold (also recomputed with noble directly).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import fc from 'fast-check';
import { toHex } from './bytes.js';
import { cryptoImplementations } from './features.js';
import * as kem from './kem.js';
import { _mlkemCacheStats, mlkemDefaultBackend } from './mlkem.js';
import { _xwingCacheStats } from './xwing.js';

const ALGS = kem.KEM_ALGORITHMS;
const seq = (start: number, length: number) => Uint8Array.from({ length }, (_, i) => (start + i) & 0xff);

test('sizes: X-Wing 32/1216/1120/64, ML-KEM-768 64/1184/1088/32, shared secret 32', () => {
  assert.deepEqual(ALGS, ['x-wing', 'ml-kem-768']);
  assert.deepEqual(kem.KEM_SIZES['x-wing'], {
    secretKey: 32,
    publicKey: 1216,
    ciphertext: 1120,
    sharedSecret: 32,
    eseed: 64,
  });
  assert.deepEqual(kem.KEM_SIZES['ml-kem-768'], {
    secretKey: 64,
    publicKey: 1184,
    ciphertext: 1088,
    sharedSecret: 32,
    eseed: 32,
  });
});

test('every malformed argument is EINVAL, checked before any work', () => {
  const notBytes = ['x', 12, null, [1, 2], new Uint16Array(32), Buffer.alloc(0).buffer] as unknown[];
  const asBytes = (v: unknown) => v as Uint8Array;
  for (const bad of ['X-Wing', 'ml-kem-512', '', undefined, 1] as unknown[]) {
    const alg = bad as kem.KemAlgorithm;
    assert.throws(() => kem.keygen(alg), { code: 'EINVAL' });
    assert.throws(() => kem.encapsulate(alg, new Uint8Array(1216)), { code: 'EINVAL' });
    assert.throws(() => kem.decapsulate(alg, new Uint8Array(32), new Uint8Array(1120)), { code: 'EINVAL' });
  }
  for (const alg of ALGS) {
    const s = kem.KEM_SIZES[alg];
    const { secretKey, publicKey } = kem.keygen(alg);
    const { ciphertext } = kem.encapsulate(alg, publicKey);
    for (const length of [0, s.secretKey - 1, s.secretKey + 1]) {
      assert.throws(
        () => kem.keygen(alg, new Uint8Array(length)),
        { code: 'EINVAL' },
        `${alg} seed ${length}`,
      );
      assert.throws(() => kem.decapsulate(alg, new Uint8Array(length), ciphertext), { code: 'EINVAL' });
    }
    for (const length of [0, s.publicKey - 1, s.publicKey + 1]) {
      assert.throws(() => kem.encapsulate(alg, new Uint8Array(length)), { code: 'EINVAL' });
    }
    for (const length of [0, s.eseed - 1, s.eseed + 1]) {
      assert.throws(() => kem.encapsulate(alg, publicKey, new Uint8Array(length)), { code: 'EINVAL' });
    }
    for (const length of [0, 1, s.ciphertext - 1, s.ciphertext + 1]) {
      assert.throws(() => kem.decapsulate(alg, secretKey, new Uint8Array(length)), { code: 'EINVAL' });
    }
    for (const bad of notBytes) {
      assert.throws(() => kem.keygen(alg, asBytes(bad)), { code: 'EINVAL' });
      assert.throws(() => kem.encapsulate(alg, asBytes(bad)), { code: 'EINVAL' });
      assert.throws(() => kem.encapsulate(alg, publicKey, asBytes(bad)), { code: 'EINVAL' });
      assert.throws(() => kem.decapsulate(alg, asBytes(bad), ciphertext), { code: 'EINVAL' });
      assert.throws(() => kem.decapsulate(alg, secretKey, asBytes(bad)), { code: 'EINVAL' });
    }
    // Wrong-length keys of the *other* algorithm are rejected too (no silent truncation).
    const other = ALGS.find((a) => a !== alg)!;
    const foreign = kem.keygen(other);
    assert.throws(() => kem.encapsulate(alg, foreign.publicKey), { code: 'EINVAL' });
    assert.throws(() => kem.decapsulate(alg, foreign.secretKey, ciphertext), { code: 'EINVAL' });
  }
  // Rejected calls do no work: nothing is expanded or cached for a valid key next to a bad argument.
  const before = JSON.stringify([_mlkemCacheStats(), _xwingCacheStats()]);
  assert.throws(() => kem.decapsulate('x-wing', seq(200, 32), new Uint8Array(1119)), { code: 'EINVAL' });
  assert.throws(() => kem.decapsulate('ml-kem-768', seq(200, 64), new Uint8Array(1089)), { code: 'EINVAL' });
  assert.equal(JSON.stringify([_mlkemCacheStats(), _xwingCacheStats()]), before);
  const fresh = kem.keygen('ml-kem-768');
  const afterKeygen = JSON.stringify([_mlkemCacheStats(), _xwingCacheStats()]);
  assert.throws(() => kem.encapsulate('ml-kem-768', fresh.publicKey, new Uint8Array(31)), { code: 'EINVAL' });
  assert.notEqual(afterKeygen, before);
  assert.equal(JSON.stringify([_mlkemCacheStats(), _xwingCacheStats()]), afterKeygen);
  // Error messages name the argument and never carry key bytes.
  try {
    kem.decapsulate('x-wing', new Uint8Array(31).fill(0xab), new Uint8Array(1120));
    assert.fail('expected EINVAL');
  } catch (error) {
    assert.match((error as Error).message, /secretKey must be 32 bytes/);
    assert.doesNotMatch((error as Error).message, /abab/i);
  }
});

for (const alg of ALGS) {
  test(`${alg}: random keygen, encapsulate and decapsulate round-trip`, () => {
    const a = kem.keygen(alg);
    const b = kem.keygen(alg);
    assert.notDeepEqual(a.secretKey, b.secretKey);
    assert.notDeepEqual(a.publicKey, b.publicKey);
    assert.deepEqual(kem.keygen(alg, a.secretKey), a, 'the secret key (seed) gives back the same pair');
    const first = kem.encapsulate(alg, a.publicKey);
    const second = kem.encapsulate(alg, a.publicKey);
    assert.notDeepEqual(first.sharedSecret, second.sharedSecret);
    assert.equal(first.sharedSecret.length, 32);
    assert.deepEqual(kem.decapsulate(alg, a.secretKey, first.ciphertext), first.sharedSecret);
    assert.deepEqual(kem.decapsulate(alg, a.secretKey, second.ciphertext), second.sharedSecret);
    // The wrong key implicitly rejects: a value, but not the sender's.
    const wrong = kem.decapsulate(alg, b.secretKey, first.ciphertext);
    assert.equal(wrong.length, 32);
    assert.notDeepEqual(wrong, first.sharedSecret);
  });

  test(`${alg}: eseed makes encapsulation deterministic and is left untouched`, () => {
    const { secretKey, publicKey } = kem.keygen(alg, seq(7, kem.KEM_SIZES[alg].secretKey));
    const eseed = seq(100, kem.KEM_SIZES[alg].eseed);
    const a = kem.encapsulate(alg, publicKey, eseed);
    const b = kem.encapsulate(alg, publicKey, eseed);
    assert.deepEqual(a, b);
    assert.deepEqual(eseed, seq(100, kem.KEM_SIZES[alg].eseed));
    const c = kem.encapsulate(alg, publicKey, seq(101, kem.KEM_SIZES[alg].eseed));
    assert.notDeepEqual(a.sharedSecret, c.sharedSecret);
    assert.deepEqual(kem.decapsulate(alg, secretKey, a.ciphertext), a.sharedSecret);
  });

  test(`${alg}: any single bit flip in the ciphertext gives another secret and never throws`, () => {
    const { secretKey, publicKey } = kem.keygen(alg);
    const { ciphertext, sharedSecret } = kem.encapsulate(alg, publicKey);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: ciphertext.length * 8 - 1 }), (bit) => {
        const flipped = Uint8Array.from(ciphertext);
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        const out = kem.decapsulate(alg, secretKey, flipped);
        assert.equal(out.length, 32);
        assert.notDeepEqual(out, sharedSecret);
      }),
      { numRuns: 60 },
    );
  });

  test(`${alg}: returned buffers are copies; mutating them cannot poison the cache`, () => {
    const seed = seq(3, kem.KEM_SIZES[alg].secretKey);
    const first = kem.keygen(alg, seed);
    const expected = Uint8Array.from(first.publicKey);
    first.publicKey.fill(0);
    first.secretKey.fill(0);
    assert.deepEqual(seed, seq(3, kem.KEM_SIZES[alg].secretKey), 'keygen does not alias the seed');
    assert.deepEqual(kem.keygen(alg, seed).publicKey, expected);
    const enc = kem.encapsulate(alg, expected, seq(9, kem.KEM_SIZES[alg].eseed));
    const ss = kem.decapsulate(alg, seed, enc.ciphertext);
    ss.fill(0);
    assert.deepEqual(kem.decapsulate(alg, seed, enc.ciphertext), enc.sharedSecret);
  });
}

test('repeated decapsulation with one key reuses the cached expanded key; the cache is bounded', () => {
  kem.clearCache();
  for (const [alg, stats] of [
    ['ml-kem-768', () => _mlkemCacheStats().secret],
    ['x-wing', () => _xwingCacheStats().secret],
  ] as const) {
    const { secretKey, publicKey } = kem.keygen(alg);
    const { ciphertext, sharedSecret } = kem.encapsulate(alg, publicKey);
    const before = stats();
    for (let i = 0; i < 10; i++) assert.deepEqual(kem.decapsulate(alg, secretKey, ciphertext), sharedSecret);
    const after = stats();
    assert.equal(after.misses, before.misses, `${alg}: no re-expansion`);
    assert.equal(after.hits, before.hits + 10, `${alg}: ten cache hits`);
    for (let i = 0; i < after.capacity + 5; i++) kem.keygen(alg, seq(i, kem.KEM_SIZES[alg].secretKey));
    assert.equal(stats().size, after.capacity, `${alg}: bounded at ${after.capacity}`);
    // The first key was evicted (least recently used); it is rebuilt correctly.
    assert.deepEqual(kem.decapsulate(alg, secretKey, ciphertext), sharedSecret);
    assert.equal(stats().misses, after.misses + after.capacity + 5 + 1);
  }
  kem.clearCache();
  assert.equal(_mlkemCacheStats().secret.size, 0);
  assert.equal(_xwingCacheStats().secret.size, 0);
  assert.equal(_xwingCacheStats().public.size, 0);
});

test('the path in use is the one cryptoImplementations() reports', () => {
  const report = cryptoImplementations();
  assert.equal(report['ml-kem-768'], mlkemDefaultBackend.name);
  assert.equal(
    report['x-wing'],
    mlkemDefaultBackend.name === 'node:crypto' ? 'node:crypto' : 'node:crypto + @noble/post-quantum',
  );
});

// SPEC.md "KEM keys, seeds and ciphertexts" — test vectors of our own.
const SPEC = {
  'ml-kem-768': {
    seed: seq(0x00, 64),
    eseed: seq(0x40, 32),
    publicKeySha256: '0b7934c83125c788995e2ba6bd761e33046b3e40571be53e023309a29f398cc9',
    ciphertextSha256: 'dbf4e9aa48b078ad46ec1c9c47bda8c2d2fec9d0e7a21bd48d2238a2abedb856',
    sharedSecret: '9cddd089ffe70e3996e76f7c8d06746df34d07e8657bc0fcf2bb0e1c3084aea1',
  },
  'x-wing': {
    seed: seq(0x00, 32),
    eseed: seq(0x20, 64),
    publicKeySha256: 'c9a3565ffde4f72b51661be391ee13e46378d7f06dd5c8bf5af9d2cfb5b8336b',
    ciphertextSha256: '67eb40cd5d72deddbbfb5a6ff826a776b53e4406d46caea66412ebe1bbf6c5fb',
    sharedSecret: '9ef8c4373f751b482022f88f3e8cceeb4815a3c1afbc784324ac9eeb50932023',
  },
} as const;

test('SPEC §KEM test vectors (and noble, computed directly, agrees)', () => {
  const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  for (const alg of ALGS) {
    const v = SPEC[alg];
    const { publicKey } = kem.keygen(alg, v.seed);
    assert.equal(sha256(publicKey), v.publicKeySha256, alg);
    const { ciphertext, sharedSecret } = kem.encapsulate(alg, publicKey, v.eseed);
    assert.equal(sha256(ciphertext), v.ciphertextSha256, alg);
    assert.equal(toHex(sharedSecret), v.sharedSecret, alg);
    assert.equal(toHex(kem.decapsulate(alg, v.seed, ciphertext)), v.sharedSecret, alg);
    const noble = alg === 'x-wing' ? ml_kem768_x25519 : ml_kem768;
    const ref = noble.keygen(v.seed);
    assert.equal(sha256(ref.publicKey), v.publicKeySha256);
    assert.equal(toHex(noble.encapsulate(ref.publicKey, v.eseed).sharedSecret), v.sharedSecret);
  }
});
