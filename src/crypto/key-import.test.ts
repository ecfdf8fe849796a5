// Keys built by src/crypto/key-import.ts (issue 14, the cold-key path), checked against @noble/curves
// as an independent implementation: the public point of each imported EC scalar, and that the imported
// KeyObject's signatures verify under it. Scalars are taken in turn across both curves, so the ECDH
// object reused per curve is shown to give each key its own point, never the previous key's.
import assert from 'node:assert/strict';
import { createHash, randomBytes, sign } from 'node:crypto';
import { test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { clearKeyCaches } from './key-cache.js';
import { ecdhObjectsHeld, ecPublicPoint, importEcScalar, importEd25519Seed } from './key-import.js';
import * as sig from './sig.js';
import { derToP1363, p1363ToDer } from './sig-ecdsa.js';

const CURVES = { prime256v1: p256, secp256k1 } as const;

test('importEcScalar: each scalar in turn, on both curves, gets its own point and signs verifiably', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.constantFrom('prime256v1', 'secp256k1' as const),
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
        ),
        {
          minLength: 2,
          maxLength: 6,
        },
      ),
      (keys) => {
        const message = randomBytes(48);
        const digest = createHash('sha256').update(message).digest();
        for (const [curve, bytes] of keys) {
          const scalar = Uint8Array.from(bytes);
          scalar[0]! &= 0x7f; // below both orders
          scalar[31]! |= 1; // not zero
          const expected = CURVES[curve].getPublicKey(scalar, false);
          const { key, uncompressed } = importEcScalar(curve, scalar);
          // Absent where the raw-private import was taken (it computes no point).
          if (uncompressed !== undefined) assert.deepEqual(uncompressed, expected);
          assert.deepEqual(ecPublicPoint(curve, scalar), expected);
          const signature = sign('sha256', message, { key, dsaEncoding: 'ieee-p1363' });
          assert.ok(
            CURVES[curve].verify(signature, digest, expected, { prehash: false, lowS: false }),
            `${curve}: OpenSSL's signature verifies under noble`,
          );
        }
      },
    ),
    { numRuns: 40 },
  );
});

test('importEd25519Seed: the KeyObject signs as RFC 8032 says for that seed (checked by noble)', () => {
  for (let i = 0; i < 20; i++) {
    const seed = new Uint8Array(randomBytes(32));
    const message = randomBytes(40);
    const signature = sign(null, message, importEd25519Seed(seed));
    assert.ok(ed25519.verify(signature, message, ed25519.getPublicKey(seed)));
  }
});

test('sig.publicKey of an EC key first prepared by sign is derived from the secret (raw-private path)', () => {
  for (const [alg, noble, compressed] of [
    ['ecdsa-p256', p256, false],
    ['secp256k1', secp256k1, true],
  ] as const) {
    for (let i = 0; i < 10; i++) {
      const scalar = new Uint8Array(randomBytes(32));
      scalar[0]! &= 0x7f;
      scalar[31]! |= 1;
      sig.clearKeyCache();
      sig.sign(alg, scalar, new Uint8Array(32)); // prepares the key without its public point
      assert.deepEqual(sig.publicKey(alg, scalar), noble.getPublicKey(scalar, compressed));
    }
  }
});

test('derToP1363: OpenSSL DER signatures become the r ‖ s noble reads from the same DER', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ maxLength: 100 }),
      (bytes, message) => {
        const scalar = Uint8Array.from(bytes);
        scalar[0]! &= 0x7f;
        scalar[31]! |= 1;
        const der = new Uint8Array(sign('sha256', message, importEcScalar('prime256v1', scalar).key));
        assert.deepEqual(derToP1363(der), p256.Signature.fromBytes(der, 'der').toBytes('compact'));
      },
    ),
    { numRuns: 200 },
  );
  // Short r and s (leading zero bytes dropped by DER) are left-padded, not shifted.
  const short = Uint8Array.from([0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x07]);
  const expected = new Uint8Array(64);
  expected[31] = 5;
  expected[63] = 7;
  assert.deepEqual(derToP1363(short), expected);
});

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

test('p1363ToDer: any r ‖ s becomes the DER noble writes for it, and derToP1363 takes it back', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      fc.nat(32),
      fc.nat(32),
      (bytes, zerosR, zerosS) => {
        // Leading zero bytes in either half (short INTEGERs) as well as top bits set (a 0x00 prefix).
        const rs = Uint8Array.from(bytes);
        rs.fill(0, 0, Math.min(zerosR, 31));
        rs.fill(0, 32, 32 + Math.min(zerosS, 31));
        if (rs.subarray(0, 32).every((b) => b === 0)) rs[31] = 1;
        if (rs.subarray(32).every((b) => b === 0)) rs[63] = 1;
        const der = p1363ToDer(rs);
        assert.deepEqual(derToP1363(der), rs);
        const r = BigInt(`0x${Buffer.from(rs.subarray(0, 32)).toString('hex')}`);
        const s = BigInt(`0x${Buffer.from(rs.subarray(32)).toString('hex')}`);
        if (r < P256_ORDER && s < P256_ORDER) assert.deepEqual(der, new p256.Signature(r, s).toBytes('der'));
      },
    ),
    { numRuns: 300 },
  );
  assert.throws(() => p1363ToDer(new Uint8Array(63)), { code: 'EINVAL' });
});

test('derToP1363: anything but a well-formed SEQUENCE of two INTEGERs of at most 32 bytes is refused', () => {
  for (const hex of [
    '',
    '3006020105020107ff', // trailing byte
    '3106020105020107', // not a SEQUENCE
    '3006030105020107', // not an INTEGER
    '3007020105020207', // INTEGER length past the end
    `30270222 0000${'01'.repeat(32)}020107`.replace(' ', ''), // 34-byte INTEGER
    `3025022101${'01'.repeat(32)}020107`, // 33 bytes without a leading zero
  ]) {
    assert.throws(() => derToP1363(Uint8Array.from(Buffer.from(hex, 'hex'))), { code: 'EINTERNAL' }, hex);
  }
});

test('clearKeyCaches (lock, close) drops the reused ECDH objects and the last scalars they hold', () => {
  ecPublicPoint('prime256v1', p256.utils.randomSecretKey());
  ecPublicPoint('secp256k1', secp256k1.utils.randomSecretKey());
  assert.equal(ecdhObjectsHeld(), 2);
  clearKeyCaches();
  assert.equal(ecdhObjectsHeld(), 0);
  // Still computes the right point afterwards, with a fresh object.
  const scalar = p256.utils.randomSecretKey();
  assert.deepEqual(ecPublicPoint('prime256v1', scalar), p256.getPublicKey(scalar, false));
});
