// ECDSA r ‖ s ↔ DER ECDSA-Sig-Value: round trips for every r and s (fast-check), agreement with
// OpenSSL's own DER signatures, strict rejection of BER and malformed forms, and a fuzz run proving
// random or mutated input fails only with CofferError EINVAL.
import assert from 'node:assert/strict';
import { sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../crypto/bytes.js';
import * as sig from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { ECDSA_DER_MAX_LENGTH, ecdsaSignatureFromDer, ecdsaSignatureToDer } from './ecdsa-der.js';
import { publicKeyToPem } from './public-key.js';

const einval = { code: 'EINVAL' };
const rs = fc.uint8Array({ minLength: 64, maxLength: 64 });

test('round trip: raw → DER → raw is the identity, DER is minimal and at most 72 bytes', () => {
  fc.assert(
    fc.property(rs, (raw) => {
      const der = ecdsaSignatureToDer(raw);
      assert.ok(der.length <= ECDSA_DER_MAX_LENGTH);
      assert.deepEqual(ecdsaSignatureFromDer(der), raw);
      // DER → raw → DER is the identity too: one encoding per signature.
      assert.deepEqual(ecdsaSignatureToDer(ecdsaSignatureFromDer(der)), der);
    }),
    { numRuns: 2000 },
  );
});

test('known encodings: high bit gets a 0x00 pad, leading zeros are stripped, zero is 020100', () => {
  const raw = new Uint8Array(64);
  raw[0] = 0x80;
  raw[63] = 0x01;
  assert.equal(toHex(ecdsaSignatureToDer(raw)), `3026022100${'80'}${'00'.repeat(31)}020101`);
  assert.equal(toHex(ecdsaSignatureToDer(new Uint8Array(64))), '3006020100020100');
  const max = new Uint8Array(64).fill(0xff);
  assert.equal(ecdsaSignatureToDer(max).length, 72);
});

test('DER from OpenSSL converts to r ‖ s that verifies, and ours converts back for OpenSSL', () => {
  for (const alg of ['ecdsa-p256', 'secp256k1'] as const) {
    const { secretKey, publicKey } = sig.keygen(alg);
    const pem = publicKeyToPem(alg, publicKey);
    const message = new TextEncoder().encode(`DER interop ${alg}`);
    // The private key as OpenSSL sees it, to let OpenSSL make DER signatures itself.
    const pkcs8 =
      alg === 'ecdsa-p256'
        ? '3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420'
        : '303e020100301006072a8648ce3d020106052b8104000a042730250201010420';
    const key = {
      key: Buffer.concat([Buffer.from(pkcs8, 'hex'), secretKey]),
      format: 'der' as const,
      type: 'pkcs8' as const,
    };
    for (let i = 0; i < 20; i++) {
      const der = nodeSign('sha256', message, { ...key, dsaEncoding: 'der' });
      const raw = ecdsaSignatureFromDer(der);
      assert.deepEqual(ecdsaSignatureToDer(raw), new Uint8Array(der));
      if (alg === 'ecdsa-p256') assert.equal(sig.verify(alg, publicKey, message, raw), true);
      const ours = sig.sign(alg, secretKey, message);
      assert.equal(
        nodeVerify('sha256', message, { key: pem, dsaEncoding: 'der' }, ecdsaSignatureToDer(ours)),
        true,
      );
    }
  }
});

test('strict parsing: BER and malformed forms are EINVAL', () => {
  const good = '3006020101020101';
  assert.equal(toHex(ecdsaSignatureFromDer(fromHex(good))), `${'00'.repeat(31)}01${'00'.repeat(31)}01`);
  const bad = [
    '', // empty
    '3006020101020101' + '00', // trailing byte
    '308106020101020101', // long-form length for 6
    '3080020101020101' + '0000', // indefinite length
    '30070201010202000101', // wrong outer length
    '300702020001020101', // non-minimal r (00 01)
    '3006020181020101', // negative r
    '3003020101', // only r
    '3009020101020101020101', // three integers
    '3006040101020101', // OCTET STRING instead of INTEGER
    '3106020101020101', // SET instead of SEQUENCE
    `3026022101${'00'.repeat(32)}020101`, // r wider than 32 bytes
    `3027022200${'ff'.repeat(33)}020101`, // r of 33 magnitude bytes
  ];
  for (const hex of bad) assert.throws(() => ecdsaSignatureFromDer(fromHex(hex)), einval, hex);
  assert.throws(() => ecdsaSignatureFromDer(new Uint8Array(73)), einval);
  assert.throws(() => ecdsaSignatureFromDer('3006' as unknown as Uint8Array), einval);
  assert.throws(() => ecdsaSignatureToDer(new Uint8Array(63)), einval);
  assert.throws(() => ecdsaSignatureToDer(null as unknown as Uint8Array), einval);
});

function onlyEinval(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof CofferError && error.code === 'EINVAL', String(error));
  }
}

test('fuzz: random bytes and mutated valid DER fail only with CofferError EINVAL', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => onlyEinval(() => ecdsaSignatureFromDer(bytes))),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(rs, fc.nat(), fc.integer({ min: 1, max: 255 }), (raw, at, xor) => {
      const der = ecdsaSignatureToDer(raw);
      const i = at % der.length;
      der[i]! ^= xor;
      // A mutation either fails cleanly or still decodes to exactly what re-encodes to it.
      onlyEinval(() => assert.deepEqual(ecdsaSignatureToDer(ecdsaSignatureFromDer(der)), der));
    }),
    { numRuns: 5000 },
  );
});
