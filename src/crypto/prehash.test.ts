// Prehashed ECDSA (SPEC §14.2): a signature over a digest is the signature over the message that
// OpenSSL checks natively (node:crypto verify with the matching hash); digest lengths are tied to
// the hash named; Ed25519 and ML-DSA-65 are refused with the reason; recovery returns the signer.
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { concatBytes } from './bytes.js';
import { DIGEST_LENGTHS, digest } from './hash.js';
import { recoverDigestPublicKey, signDigest, verifyDigest } from './prehash.js';
import * as sig from './sig.js';
import { CURVES } from './sig-ecdsa.js';

const einval = (e: unknown) => e instanceof CofferError && e.code === 'EINVAL';
const message = new TextEncoder().encode('a large file, hashed by the caller');

/** An OpenSSL key object for a 65-byte P-256 point (the form sig.keygen returns for P-256). */
function nodeKey(publicKey: Uint8Array) {
  return createPublicKey({
    key: Buffer.concat([CURVES['ecdsa-p256'].spkiPrefix65, publicKey]),
    format: 'der',
    type: 'spki',
  });
}

for (const alg of ['ecdsa-p256', 'secp256k1'] as const) {
  test(`${alg}: signDigest(sha256(m)) is an ordinary signature of m (sig.verify and OpenSSL agree)`, () => {
    const { secretKey, publicKey } = sig.keygen(alg);
    const signature = signDigest(alg, secretKey, 'sha256', digest('sha256', message));
    assert.equal(signature.length, 64);
    assert.equal(sig.verify(alg, publicKey, message, signature), true);
    assert.equal(verifyDigest(alg, publicKey, 'sha256', digest('sha256', message), signature), true);
    // And the other way: sig.sign's signature verifies as a digest signature.
    const plain = sig.sign(alg, secretKey, message);
    assert.equal(verifyDigest(alg, publicKey, 'sha256', digest('sha256', message), plain), true);
  });
}

test('P-256 with SHA-384 and SHA-512 digests: OpenSSL verifies the truncated-digest signatures', () => {
  const { secretKey, publicKey } = sig.keygen('ecdsa-p256');
  const key = nodeKey(publicKey);
  for (const hash of ['sha384', 'sha512'] as const) {
    const signature = signDigest('ecdsa-p256', secretKey, hash, digest(hash, message));
    assert.equal(nodeVerify(hash, message, { key, dsaEncoding: 'ieee-p1363' }, signature), true, hash);
    assert.equal(
      nodeVerify(hash, concatBytes(message, Uint8Array.of(0)), { key, dsaEncoding: 'ieee-p1363' }, signature),
      false,
    );
    assert.equal(verifyDigest('ecdsa-p256', publicKey, hash, digest(hash, message), signature), true);
  }
});

test('digest length must match the named hash', () => {
  const { secretKey, publicKey } = sig.keygen('secp256k1');
  for (const hash of ['sha256', 'sha384', 'sha512', 'keccak256'] as const) {
    const good = new Uint8Array(DIGEST_LENGTHS[hash]);
    assert.throws(() => signDigest('secp256k1', secretKey, hash, good.subarray(1)), einval);
    assert.throws(() => signDigest('secp256k1', secretKey, hash, concatBytes(good, good)), einval);
    assert.throws(
      () => verifyDigest('secp256k1', publicKey, hash, good.subarray(1), new Uint8Array(64)),
      einval,
    );
  }
  assert.throws(() => signDigest('secp256k1', secretKey, 'md5' as 'sha256', new Uint8Array(16)), einval);
});

test('Ed25519 and ML-DSA-65 refuse digests, naming Ed25519ph / HashML-DSA', () => {
  const ed = sig.keygen('ed25519');
  const ml = sig.keygen('ml-dsa-65');
  const d = digest('sha256', message);
  assert.throws(() => signDigest('ed25519', ed.secretKey, 'sha256', d), /Ed25519ph/);
  assert.throws(() => signDigest('ml-dsa-65', ml.secretKey, 'sha256', d), /HashML-DSA/);
  assert.throws(() => verifyDigest('ed25519', ed.publicKey, 'sha256', d, new Uint8Array(64)), einval);
});

test('recoverable secp256k1: v recovers the signer for sha256 and keccak256; options are checked', () => {
  const { secretKey, publicKey } = sig.keygen('secp256k1');
  for (const hash of ['sha256', 'keccak256'] as const) {
    const d = digest(hash, message);
    const signature = signDigest('secp256k1', secretKey, hash, d, { recoverable: true });
    assert.equal(signature.length, 65);
    assert.ok(signature[64]! <= 1);
    assert.deepEqual(recoverDigestPublicKey('secp256k1', hash, d, signature), publicKey);
    assert.equal(verifyDigest('secp256k1', publicKey, hash, d, signature.subarray(0, 64)), true);
  }
  const p = sig.keygen('ecdsa-p256');
  assert.throws(
    () => signDigest('ecdsa-p256', p.secretKey, 'sha256', digest('sha256', message), { recoverable: true }),
    einval,
  );
  assert.throws(
    () => signDigest('secp256k1', secretKey, 'sha256', new Uint8Array(32), { recover: true } as never),
    einval,
  );
});

test('secp256k1 digest verification refuses high-S (BIP-62), as sig.verify does', () => {
  const { secretKey, publicKey } = sig.keygen('secp256k1');
  const d = digest('sha256', message);
  const low = signDigest('secp256k1', secretKey, 'sha256', d);
  const s = BigInt(`0x${Buffer.from(low.subarray(32)).toString('hex')}`);
  const high = low.slice();
  high.set(Buffer.from((CURVES.secp256k1.order - s).toString(16).padStart(64, '0'), 'hex'), 32);
  assert.equal(verifyDigest('secp256k1', publicKey, 'sha256', d, high), false);
  const withV = concatBytes(high, Uint8Array.of(0));
  assert.throws(
    () => recoverDigestPublicKey('secp256k1', 'sha256', d, withV),
    (e: unknown) => e instanceof CofferError && e.code === 'EBADMSG',
  );
});

test('property: random digests sign and verify; a flipped digest bit never verifies', () => {
  const { secretKey, publicKey } = sig.keygen('ecdsa-p256');
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 48, maxLength: 48 }), fc.nat(383), (d, bit) => {
      const signature = signDigest('ecdsa-p256', secretKey, 'sha384', d);
      assert.equal(verifyDigest('ecdsa-p256', publicKey, 'sha384', d, signature), true);
      const flipped = d.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      // Bits past the first 256 are truncated away by ECDSA (FIPS 186-5 §6.4.1), so only those verify.
      assert.equal(verifyDigest('ecdsa-p256', publicKey, 'sha384', flipped, signature), bit >= 256);
    }),
    { numRuns: 40 },
  );
});

test('Keccak-256 is the Ethereum hash, not SHA3-256', () => {
  // keccak256("") from the Ethereum yellow paper, and SHA3-256("") differs.
  assert.equal(
    Buffer.from(digest('keccak256', new Uint8Array(0))).toString('hex'),
    'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
  );
  assert.notEqual(
    Buffer.from(digest('keccak256', new Uint8Array(0))).toString('hex'),
    createHash('sha3-256').update('').digest('hex'),
  );
});
