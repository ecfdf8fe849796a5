// Proves X-Wing (draft-connolly-cfrg-xwing-kem-10): the authors' test vectors (keygen from seed,
// EncapsulateDerand, Decapsulate) on every ML-KEM backend and through the public API, agreement with
// noble's independent X-Wing (ml_kem768_x25519) on random seeds, and the draft's behaviour for a
// low-order X25519 part (no check: ss_X is the all-zero X25519 output, the combiner still runs).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha3_256, shake256 } from '@noble/hashes/sha3.js';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import fc from 'fast-check';
import { loadJson, nonEmpty } from '../testing/vectors.js';
import { concatBytes, fromHex, toHex } from './bytes.js';
import * as kem from './kem.js';
import { _mlkemBackends, type MlKemBackend } from './mlkem.js';
import { X_WING, xwingDecapsulate, xwingEncapsulate, xwingPublicKey } from './xwing.js';

interface XWingVector {
  seed: string;
  sk: string;
  pk: string;
  eseed: string;
  ct: string;
  ss: string;
}

const vectors = nonEmpty('xwing/test-vectors.json', loadJson<XWingVector[]>('xwing/test-vectors.json'));
const backends = [_mlkemBackends.native, _mlkemBackends.noble].filter(
  (b): b is MlKemBackend => b !== undefined,
);
const LABEL = fromHex('5c2e2f2f5e5c');

test('draft vectors through the public kem API', () => {
  let count = 0;
  for (const v of vectors) {
    const { secretKey, publicKey } = kem.keygen('x-wing', fromHex(v.seed));
    assert.equal(toHex(secretKey), v.sk, 'the secret key is the 32-byte seed');
    assert.equal(toHex(publicKey), v.pk);
    const { ciphertext, sharedSecret } = kem.encapsulate('x-wing', publicKey, fromHex(v.eseed));
    assert.equal(toHex(ciphertext), v.ct);
    assert.equal(toHex(sharedSecret), v.ss);
    assert.equal(toHex(kem.decapsulate('x-wing', fromHex(v.sk), fromHex(v.ct))), v.ss);
    count++;
  }
  assert.equal(count, 3);
});

for (const backend of backends) {
  test(`draft vectors with ML-KEM on the ${backend.name} backend`, () => {
    let count = 0;
    for (const v of vectors) {
      assert.equal(toHex(xwingPublicKey(fromHex(v.seed), backend)), v.pk);
      const out = xwingEncapsulate(fromHex(v.pk), fromHex(v.eseed), backend);
      assert.equal(toHex(out.ciphertext), v.ct);
      assert.equal(toHex(out.sharedSecret), v.ss);
      assert.equal(toHex(xwingDecapsulate(fromHex(v.sk), fromHex(v.ct), backend)), v.ss);
      count++;
    }
    assert.equal(count, 3);
  });
}

test('agrees with noble ml_kem768_x25519 (an independent X-Wing) on random seeds and eseeds', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      (seed, eseed) => {
        const theirs = ml_kem768_x25519.keygen(seed);
        const ours = kem.keygen('x-wing', seed);
        assert.deepEqual(ours.publicKey, Uint8Array.from(theirs.publicKey));
        const enc = kem.encapsulate('x-wing', ours.publicKey, eseed);
        const ref = ml_kem768_x25519.encapsulate(theirs.publicKey, eseed);
        assert.deepEqual(enc.ciphertext, Uint8Array.from(ref.cipherText));
        assert.deepEqual(enc.sharedSecret, Uint8Array.from(ref.sharedSecret));
        // Random (non-derandomised) encapsulation by us, decapsulation by noble.
        const fresh = kem.encapsulate('x-wing', ours.publicKey);
        assert.deepEqual(
          Uint8Array.from(ml_kem768_x25519.decapsulate(fresh.ciphertext, theirs.secretKey)),
          fresh.sharedSecret,
        );
      },
    ),
    { numRuns: 20 },
  );
});

/** The ML-KEM half of an X-Wing seed, computed with noble only (§5.2 expandDecapsulationKey). */
function nobleMlKemSecret(seed: Uint8Array): Uint8Array {
  return ml_kem768.keygen(shake256(seed, { dkLen: 96 }).subarray(0, 64)).secretKey;
}

test('a low-order X25519 public part is used as the draft says: ss_X = 0, no error', () => {
  const seed = new Uint8Array(32).fill(0x11);
  const { publicKey } = kem.keygen('x-wing', seed);
  const lowOrder = [
    '00'.repeat(32),
    `01${'00'.repeat(31)}`,
    `ec${'ff'.repeat(30)}7f`,
    `${'00'.repeat(31)}80`,
  ];
  for (const pkXHex of lowOrder) {
    const pkX = fromHex(pkXHex);
    const pk = concatBytes(publicKey.subarray(0, 1184), pkX);
    const eseed = new Uint8Array(64).fill(0x22);
    for (const backend of backends) {
      const { ciphertext, sharedSecret } = xwingEncapsulate(pk, eseed, backend);
      const ctX = ciphertext.subarray(1088);
      const ssM = ml_kem768.decapsulate(ciphertext.subarray(0, 1088), nobleMlKemSecret(seed));
      const expected = sha3_256(concatBytes(ssM, new Uint8Array(32), ctX, pkX, LABEL));
      assert.equal(toHex(sharedSecret), toHex(expected), `${backend.name} pk_X ${pkXHex}`);
    }
    assert.equal(kem.encapsulate('x-wing', pk).ciphertext.length, 1120);
  }
});

test('a low-order X25519 ciphertext part decapsulates (ss_X = 0) instead of throwing', () => {
  const seed = new Uint8Array(32).fill(0x33);
  const { publicKey } = kem.keygen('x-wing', seed);
  const { ciphertext } = kem.encapsulate('x-wing', publicKey, new Uint8Array(64).fill(0x44));
  const forged = Uint8Array.from(ciphertext);
  forged.fill(0, 1088); // ct_X = 0, a point of order 2
  const ssM = ml_kem768.decapsulate(forged.subarray(0, 1088), nobleMlKemSecret(seed));
  const expected = sha3_256(
    concatBytes(ssM, new Uint8Array(32), forged.subarray(1088), publicKey.subarray(1184), LABEL),
  );
  for (const backend of backends) {
    assert.equal(toHex(xwingDecapsulate(seed, forged, backend)), toHex(expected), backend.name);
  }
  assert.equal(toHex(kem.decapsulate('x-wing', seed, forged)), toHex(expected));
});

test('an X-Wing public key whose ML-KEM part fails the modulus check is EINVAL', () => {
  const { publicKey } = kem.keygen('x-wing', new Uint8Array(32).fill(0x55));
  const bad = Uint8Array.from(publicKey);
  bad[0] = 0xff;
  bad[1] = 0x0f; // first coefficient = 4095 >= q
  assert.throws(() => kem.encapsulate('x-wing', bad), { code: 'EINVAL' });
  assert.throws(() => kem.encapsulate('x-wing', bad, new Uint8Array(64)), { code: 'EINVAL' });
  for (const backend of backends) {
    assert.throws(() => xwingEncapsulate(bad, undefined, backend), { code: 'EINVAL' }, backend.name);
  }
});

test('X-Wing sizes are draft §5.1', () => {
  assert.deepEqual(
    { ...X_WING },
    { seed: 32, publicKey: 1216, ciphertext: 1120, sharedSecret: 32, eseed: 64 },
  );
});
