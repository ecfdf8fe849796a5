// Native (node:crypto) against pure-JS (@noble) for every signature algorithm, with fast-check:
// the same seed gives the same public key, a signature from either path verifies on the other,
// Ed25519 signatures are byte-identical (RFC 8032 is deterministic), and both paths agree on which
// public keys are malformed. ML-DSA-65 has a native path only on Node ≥ 24.7 — under Node 20 the
// test proves the native path is absent and the report says noble; `npm test` reruns this file
// under Node 24, where the cross-check runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { cryptoImplementations, nativeSupport } from './features.js';
import * as sig from './sig.js';
import type { SigBackend } from './sig-backend.js';
import { CURVES, ecdsaP256Native, ecdsaP256Noble, secp256k1Native, secp256k1Noble } from './sig-ecdsa.js';
import { ed25519Native, ed25519Noble } from './sig-ed25519.js';
import { mlDsa65Native, mlDsa65Noble } from './sig-mldsa.js';

const seed = fc.uint8Array({ minLength: 32, maxLength: 32 });
const message = fc.uint8Array({ maxLength: 300 });

const PAIRS: [sig.SigAlgorithm, SigBackend, SigBackend, number][] = [
  ['ed25519', ed25519Native, ed25519Noble, 100],
  ['ecdsa-p256', ecdsaP256Native, ecdsaP256Noble, 40],
  ['secp256k1', secp256k1Native, secp256k1Noble, 40],
];

/** EINVAL or the boolean verify result: what a backend makes of a candidate public key. */
function classify(backend: SigBackend, publicKey: Uint8Array, signature: Uint8Array): string {
  try {
    return String(backend.verify(publicKey, new Uint8Array(1), signature));
  } catch (error) {
    if (error instanceof CofferError) return error.code;
    throw error;
  }
}

for (const [alg, native, noble, numRuns] of PAIRS) {
  test(`${alg}: native and noble derive the same public key from the same seed`, () => {
    fc.assert(
      fc.property(seed, (s) => {
        const { secretKey, publicKey } = sig.keygen(alg, s);
        assert.deepEqual(native.publicKey(secretKey), publicKey);
        assert.deepEqual(noble.publicKey(secretKey), publicKey);
      }),
      { numRuns },
    );
  });

  test(`${alg}: native signatures verify on noble and noble signatures on native`, () => {
    fc.assert(
      fc.property(seed, message, (s, m) => {
        const { secretKey, publicKey } = sig.keygen(alg, s);
        const fromNative = native.sign(secretKey, m);
        const fromNoble = noble.sign(secretKey, m);
        assert.equal(noble.verify(publicKey, m, fromNative), true);
        assert.equal(native.verify(publicKey, m, fromNoble), true);
        const other = Uint8Array.of(...m, 1);
        assert.equal(noble.verify(publicKey, other, fromNative), false);
        assert.equal(native.verify(publicKey, other, fromNoble), false);
      }),
      { numRuns },
    );
  });

  test(`${alg}: both paths agree on which public keys are malformed`, () => {
    const lengths = sig.SIG_LENGTHS[alg].publicKeyAccepted;
    const prefix = fc.constantFrom(0x00, 0x02, 0x03, 0x04, 0x06, 0x07);
    const candidate = fc.oneof(
      fc.uint8Array({ minLength: lengths[0]!, maxLength: lengths[0]! }),
      // For EC keys: random x with a plausible prefix, so some decode and some do not.
      fc
        .tuple(prefix, fc.constantFrom(...lengths), fc.uint8Array({ minLength: 64, maxLength: 64 }))
        .map(([p, len, body]) => Uint8Array.of(p, ...body.subarray(0, len - 1))),
    );
    const signature = new Uint8Array(sig.SIG_LENGTHS[alg].signature).fill(1);
    const seen = new Set<string>();
    fc.assert(
      fc.property(candidate, (pk) => {
        const verdict = classify(native, pk, signature);
        assert.equal(classify(noble, pk, signature), verdict);
        seen.add(verdict);
      }),
      { numRuns: 200 },
    );
    // Random candidates hit both sides of the line: valid points (false) and malformed (EINVAL).
    assert.deepEqual([...seen].sort(), ['EINVAL', 'false']);
  });
}

test('ed25519: signatures are byte-identical across paths (deterministic RFC 8032)', () => {
  fc.assert(
    fc.property(seed, message, (s, m) => {
      assert.deepEqual(ed25519Native.sign(s, m), ed25519Noble.sign(s, m));
    }),
    { numRuns: 100 },
  );
});

test('secp256k1: both paths sign low-S; P-256 native high-S signatures verify on noble', () => {
  const { secretKey, publicKey } = sig.keygen('ecdsa-p256');
  let highS = 0;
  for (let i = 0; i < 64; i++) {
    const m = Uint8Array.of(i);
    const signature = ecdsaP256Native.sign(secretKey, m);
    if (BigInt(`0x${Buffer.from(signature.subarray(32)).toString('hex')}`) > CURVES['ecdsa-p256'].halfOrder)
      highS++;
    assert.equal(ecdsaP256Noble.verify(publicKey, m, signature), true);
  }
  // OpenSSL does not normalise P-256 signatures: about half are high-S (64 draws: ≥ 1 w.p. 1 − 2^-64).
  assert.ok(highS > 0);
  const k1 = sig.keygen('secp256k1');
  for (let i = 0; i < 32; i++) {
    for (const backend of [secp256k1Native, secp256k1Noble]) {
      const signature = backend.sign(k1.secretKey, Uint8Array.of(i));
      assert.ok(
        BigInt(`0x${Buffer.from(signature.subarray(32)).toString('hex')}`) <= CURVES.secp256k1.halfOrder,
      );
    }
  }
});

test('ml-dsa-65: native against noble where Node has ML-DSA, else noble is reported and native is absent', () => {
  if (!nativeSupport.mlDsa65) {
    assert.equal(cryptoImplementations()['ml-dsa-65'], '@noble/post-quantum');
    // The native backend really cannot run here (so selecting noble is not a guess).
    assert.throws(() => mlDsa65Native.publicKey(new Uint8Array(32)));
    return;
  }
  const context = fc.option(fc.uint8Array({ maxLength: 255 }), { nil: undefined });
  fc.assert(
    fc.property(seed, message, context, (s, m, ctx) => {
      const publicKey = mlDsa65Native.publicKey(s);
      assert.deepEqual(mlDsa65Noble.publicKey(s), publicKey);
      assert.equal(mlDsa65Noble.verify(publicKey, m, mlDsa65Native.sign(s, m, ctx), ctx), true);
      assert.equal(mlDsa65Native.verify(publicKey, m, mlDsa65Noble.sign(s, m, ctx), ctx), true);
    }),
    { numRuns: 12 },
  );
});
