// Proves ML-KEM-768 (FIPS 203) on every backend this Node has (noble everywhere, OpenSSL on Node
// >= 24.7) and through the public kem API: Wycheproof mlkem_768_test.json (keygen from d‖z, decaps
// incl. implicit rejection, wrong-length inputs), the §7.2 modulus check, and the §6.3 rejection
// value K̄ = J(z ‖ c) recomputed independently with SHAKE256.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { forEachWycheproofCase, type WycheproofCase } from '../testing/vectors.js';
import { fromHex, toHex } from './bytes.js';
import * as kem from './kem.js';
import { _mlkemBackends, ML_KEM_768, type MlKemBackend } from './mlkem.js';

interface MlKemCase extends WycheproofCase {
  seed: string;
  ek?: string;
  c: string;
  K: string;
}

const FILE = 'wycheproof/mlkem_768_test.json';
const backends = [_mlkemBackends.native, _mlkemBackends.noble].filter(
  (b): b is MlKemBackend => b !== undefined,
);

test('Wycheproof mlkem_768_test.json through the public kem API', () => {
  let invalid = 0;
  const count = forEachWycheproofCase<MlKemCase>(FILE, (c) => {
    const seed = fromHex(c.seed);
    const ciphertext = fromHex(c.c);
    if (c.result === 'invalid') {
      // The file's invalid cases are all wrong-length seeds or ciphertexts: EINVAL, never a value.
      invalid++;
      assert.ok(seed.length !== 64 || ciphertext.length !== 1088, `tcId ${c.tcId}`);
      assert.throws(
        () => kem.decapsulate('ml-kem-768', seed, ciphertext),
        { code: 'EINVAL' },
        `tcId ${c.tcId}`,
      );
      if (seed.length !== 64) assert.throws(() => kem.keygen('ml-kem-768', seed), { code: 'EINVAL' });
      return;
    }
    const { publicKey } = kem.keygen('ml-kem-768', seed);
    if (c.ek !== undefined) assert.equal(toHex(publicKey), c.ek, `tcId ${c.tcId} ek`);
    assert.equal(toHex(kem.decapsulate('ml-kem-768', seed, ciphertext)), c.K, `tcId ${c.tcId} ${c.comment}`);
  });
  assert.equal(count, 193);
  assert.equal(invalid, 40);
});

for (const backend of backends) {
  test(`Wycheproof mlkem_768_test.json valid cases on the ${backend.name} backend`, () => {
    let ran = 0;
    forEachWycheproofCase<MlKemCase>(FILE, (c) => {
      if (c.result === 'invalid') return; // length checks live in kem.ts, proven above
      const secret = backend.expandSecret(fromHex(c.seed));
      try {
        if (c.ek !== undefined) assert.equal(toHex(secret.publicKey), c.ek, `tcId ${c.tcId}`);
        assert.equal(toHex(secret.decapsulate(fromHex(c.c))), c.K, `tcId ${c.tcId} ${c.comment}`);
        ran++;
      } finally {
        secret.dispose();
      }
    });
    assert.equal(ran, 153);
  });
}

/** Sets 12-bit coefficient `index` (0..767) of the encoded t̂ in an encapsulation key. */
function withCoefficient(publicKey: Uint8Array, index: number, value: number): Uint8Array {
  const out = Uint8Array.from(publicKey);
  const at = Math.floor(index / 2) * 3;
  if (index % 2 === 0) {
    out[at] = value & 0xff;
    out[at + 1] = (out[at + 1]! & 0xf0) | (value >> 8);
  } else {
    out[at + 1] = (out[at + 1]! & 0x0f) | ((value & 0x0f) << 4);
    out[at + 2] = value >> 4;
  }
  return out;
}

test('FIPS 203 §7.2 modulus check: a coefficient >= q is EINVAL on every path, q-1 is accepted', () => {
  const { publicKey } = kem.keygen('ml-kem-768', new Uint8Array(64).fill(0x42));
  let rejected = 0;
  for (const index of [0, 1, 255, 256, 511, 766, 767]) {
    for (const value of [3329, 3330, 4095]) {
      const bad = withCoefficient(publicKey, index, value);
      assert.throws(() => kem.encapsulate('ml-kem-768', bad), { code: 'EINVAL' });
      assert.throws(() => kem.encapsulate('ml-kem-768', bad, new Uint8Array(32)), { code: 'EINVAL' });
      for (const backend of backends) {
        assert.throws(() => backend.expandPublic(bad), { code: 'EINVAL' }, `${backend.name} ${index}`);
      }
      rejected++;
    }
    const edge = withCoefficient(publicKey, index, 3328);
    const { ciphertext } = kem.encapsulate('ml-kem-768', edge, new Uint8Array(32).fill(1));
    assert.equal(ciphertext.length, 1088);
    for (const backend of backends) backend.expandPublic(edge).dispose();
  }
  assert.equal(rejected, 21);
  // ρ (the last 32 bytes) is a seed, not coefficients: any value is well formed.
  const rho = Uint8Array.from(publicKey);
  rho.fill(0xff, 1152);
  assert.equal(kem.encapsulate('ml-kem-768', rho).ciphertext.length, 1088);
});

test('FIPS 203 §6.3 implicit rejection: a forged ciphertext gives K̄ = SHAKE256(z ‖ c, 32)', () => {
  const seed = Uint8Array.from({ length: 64 }, (_, i) => (i * 7 + 3) & 0xff);
  const z = seed.subarray(32);
  const { publicKey } = kem.keygen('ml-kem-768', seed);
  const { ciphertext, sharedSecret } = kem.encapsulate('ml-kem-768', publicKey, new Uint8Array(32).fill(9));
  assert.deepEqual(kem.decapsulate('ml-kem-768', seed, ciphertext), sharedSecret);
  for (const position of [0, 500, 1087]) {
    const forged = Uint8Array.from(ciphertext);
    forged[position]! ^= 0x01;
    const expected = createHash('shake256', { outputLength: 32 }).update(z).update(forged).digest('hex');
    for (const backend of backends) {
      const secret = backend.expandSecret(seed);
      assert.equal(toHex(secret.decapsulate(forged)), expected, `${backend.name} byte ${position}`);
      secret.dispose();
    }
    assert.equal(toHex(kem.decapsulate('ml-kem-768', seed, forged)), expected);
  }
});

test('ML-KEM-768 sizes are FIPS 203 Table 3 and the eseed is the message m', () => {
  assert.deepEqual(
    { ...ML_KEM_768 },
    { seed: 64, publicKey: 1184, ciphertext: 1088, sharedSecret: 32, message: 32 },
  );
  const { secretKey, publicKey } = kem.keygen('ml-kem-768');
  assert.equal(secretKey.length, 64);
  assert.equal(publicKey.length, 1184);
  const m = new Uint8Array(32).fill(5);
  const a = kem.encapsulate('ml-kem-768', publicKey, m);
  const b = kem.encapsulate('ml-kem-768', publicKey, m);
  assert.deepEqual(a, b);
  assert.deepEqual(m, new Uint8Array(32).fill(5), 'a caller-supplied m is left untouched');
  assert.equal(a.ciphertext.length, 1088);
  assert.deepEqual(kem.decapsulate('ml-kem-768', secretKey, a.ciphertext), a.sharedSecret);
});
