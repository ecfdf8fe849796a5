// Private key interchange (SPEC §14.4): SPEC vectors, round trips for every algorithm, the
// consistency checks (a file whose public half disagrees with its secret is refused), the KDF work
// caps of encrypted PKCS#8, and fuzzing of every parser: any input either parses to a usable key or
// fails with a CofferError, never another exception.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { concatBytes, fromHex, toHex } from '../crypto/bytes.js';
import * as sig from '../crypto/sig.js';
import { mlDsa65ExpandedSecretKey } from '../crypto/sig-mldsa.js';
import { CofferError } from '../errors.js';
import { encodeBitString, encodeOctetString, encodeOid, encodeSequence, encodeTlv } from './asn1.js';
import { parsePrivateKey, parsePublicKey } from './key-import.js';
import { privateKeyFromOpenSsh, privateKeyToOpenSsh } from './openssh-private-key.js';
import { encodePem } from './pem.js';
import { encryptPkcs8, encryptPkcs8Pem, privateKeyFromEncryptedPkcs8 } from './pkcs8-encrypted.js';
import {
  privateKeyFromJwk,
  privateKeyFromPem,
  privateKeyFromPkcs8,
  privateKeyFromSec1,
  privateKeyToPem,
  privateKeyToPkcs8,
} from './private-key.js';
import { publicKeyToJwk, publicKeyToOpenSsh, publicKeyToPem } from './public-key.js';

const SEED = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;
const einval = code('EINVAL');
const isCofferError = (e: unknown) => e instanceof CofferError;

test('SPEC §14.4 vectors: PKCS#8 of the §1.B.9 keys', () => {
  const ed = sig.keygen('ed25519', SEED);
  assert.equal(
    toHex(privateKeyToPkcs8('ed25519', ed.secretKey)),
    `302e020100300506032b657004220420${toHex(SEED)}`,
  );
  const p256 = sig.keygen('ecdsa-p256', SEED);
  assert.equal(
    toHex(privateKeyToPkcs8('ecdsa-p256', p256.secretKey)),
    `308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420${toHex(p256.secretKey)}a144034200${toHex(p256.publicKey)}`,
  );
  const k1 = sig.keygen('secp256k1', SEED);
  // EC keys carry the uncompressed point, as OpenSSL writes them (§1.B.9's SPKI point).
  assert.equal(
    toHex(privateKeyToPkcs8('secp256k1', k1.secretKey)),
    `308184020100301006072a8648ce3d020106052b8104000a046d306b0201010420${toHex(k1.secretKey)}a144034200042162b099b2710b552351f7aadb01c30a0b87860e577f8cc00bba555db518e5bb9ef95269223443406fb3ff7c19e025ab3afea268f82d12fde5012aa60a33ae63`,
  );
  assert.equal(
    toHex(privateKeyToPkcs8('ml-dsa-65', SEED)),
    `3034020100300b060960864801650304031204228020${toHex(SEED)}`,
  );
});

test('round trips: PKCS#8 DER and PEM, JWK and OpenSSH give back the secret and public key', () => {
  for (const alg of sig.SIG_ALGORITHMS) {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const { secretKey, publicKey } = sig.keygen(alg, seed);
        const want = { alg, secretKey, publicKey };
        assert.deepEqual(privateKeyFromPkcs8(privateKeyToPkcs8(alg, secretKey)), want);
        assert.deepEqual(privateKeyFromPem(privateKeyToPem(alg, secretKey)), want);
        assert.deepEqual(parsePrivateKey(privateKeyToPem(alg, secretKey)), want);
        assert.deepEqual(parsePrivateKey(privateKeyToPkcs8(alg, secretKey)), want);
        if (alg === 'ed25519' || alg === 'ecdsa-p256') {
          const text = privateKeyToOpenSsh(alg, secretKey, { comment: 'c' });
          assert.deepEqual(privateKeyFromOpenSsh(text), { ...want, comment: 'c' });
          assert.deepEqual(parsePublicKey(publicKeyToOpenSsh(alg, publicKey)), { alg, publicKey });
        }
        assert.deepEqual(parsePublicKey(publicKeyToPem(alg, publicKey)), { alg, publicKey });
        assert.deepEqual(parsePublicKey(JSON.stringify(publicKeyToJwk(alg, publicKey))), { alg, publicKey });
        assert.deepEqual(parsePublicKey(publicKey, { alg }), { alg, publicKey });
      }),
      { numRuns: alg === 'ml-dsa-65' ? 3 : 15 },
    );
  }
});

test('encrypted OpenSSH keys round trip; a wrong passphrase is EBADMSG, none at all EINVAL', () => {
  const { secretKey, publicKey } = sig.keygen('ed25519', SEED);
  const text = privateKeyToOpenSsh('ed25519', secretKey, { passphrase: 'pw', rounds: 2, comment: 'x' });
  assert.deepEqual(privateKeyFromOpenSsh(text, 'pw'), { alg: 'ed25519', secretKey, publicKey, comment: 'x' });
  assert.throws(() => privateKeyFromOpenSsh(text, 'wrong'), code('EBADMSG'));
  assert.throws(() => privateKeyFromOpenSsh(text), einval);
});

test('a file whose public half disagrees with its secret is refused', () => {
  const a = sig.keygen('ecdsa-p256', SEED);
  const b = sig.keygen('ecdsa-p256');
  const ecPrivate = (publicKey: Uint8Array) =>
    encodeSequence(
      Uint8Array.of(2, 1, 1),
      encodeOctetString(a.secretKey),
      encodeTlv(0xa0, encodeOid('1.2.840.10045.3.1.7')),
      encodeTlv(0xa1, encodeBitString(publicKey)),
    );
  assert.deepEqual(privateKeyFromSec1(ecPrivate(a.publicKey)).publicKey, a.publicKey);
  assert.throws(() => privateKeyFromSec1(ecPrivate(b.publicKey)), /does not match/);
  // SEC 1 parameters naming another curve than PKCS#8's algorithm.
  const wrongCurve = encodeSequence(
    Uint8Array.of(2, 1, 1),
    encodeOctetString(a.secretKey),
    encodeTlv(0xa0, encodeOid('1.3.132.0.10')),
  );
  const pkcs8 = encodeSequence(
    Uint8Array.of(2, 1, 0),
    encodeSequence(encodeOid('1.2.840.10045.2.1'), encodeOid('1.2.840.10045.3.1.7')),
    encodeOctetString(wrongCurve),
  );
  assert.throws(() => privateKeyFromPkcs8(pkcs8), /another curve/);
  // Ed25519 v2 with a public key: accepted when it matches, refused when not; v1 may not carry one.
  const ed = sig.keygen('ed25519', SEED);
  const v2 = (version: number, publicKey: Uint8Array) =>
    encodeSequence(
      Uint8Array.of(2, 1, version),
      encodeSequence(encodeOid('1.3.101.112')),
      encodeOctetString(encodeOctetString(ed.secretKey)),
      encodeTlv(0x81, Uint8Array.of(0), publicKey),
    );
  assert.deepEqual(privateKeyFromPkcs8(v2(1, ed.publicKey)).publicKey, ed.publicKey);
  assert.throws(() => privateKeyFromPkcs8(v2(1, sig.keygen('ed25519').publicKey)), /does not match/);
  assert.throws(() => privateKeyFromPkcs8(v2(0, ed.publicKey)), einval);
  // JWK: x must match d.
  const jwk = {
    ...publicKeyToJwk('ed25519', ed.publicKey),
    d: Buffer.from(ed.secretKey).toString('base64url'),
  };
  assert.deepEqual(privateKeyFromJwk(jwk).secretKey, ed.secretKey);
  const otherX = (publicKeyToJwk('ed25519', sig.keygen('ed25519').publicKey) as { x: string }).x;
  assert.throws(() => privateKeyFromJwk({ ...jwk, x: otherX }), /does not match/);
  assert.throws(() => privateKeyFromJwk({ kty: 'OKP', crv: 'Ed25519', d: jwk.d }), einval);
});

test('ML-DSA-65 PKCS#8: seed and both forms import, expanded-only and inconsistent both are refused', () => {
  const expanded = mlDsa65ExpandedSecretKey(SEED);
  const wrap = (inner: Uint8Array) =>
    encodeSequence(
      Uint8Array.of(2, 1, 0),
      encodeSequence(encodeOid('2.16.840.1.101.3.4.3.18')),
      encodeOctetString(inner),
    );
  const both = wrap(encodeSequence(encodeOctetString(SEED), encodeOctetString(expanded)));
  assert.deepEqual(privateKeyFromPkcs8(both).secretKey, SEED);
  assert.throws(() => privateKeyFromPkcs8(wrap(encodeOctetString(expanded))), /only the expanded key/);
  const other = expanded.slice();
  other[100]! ^= 1;
  assert.throws(
    () => privateKeyFromPkcs8(wrap(encodeSequence(encodeOctetString(SEED), encodeOctetString(other)))),
    /does not derive/,
  );
  assert.throws(() => privateKeyFromPkcs8(wrap(encodeTlv(0x80, SEED.subarray(1)))), einval);
});

test('encrypted PKCS#8: round trip under PBKDF2 and scrypt, wrong passphrase EBADMSG, work caps EINVAL', () => {
  const { secretKey, publicKey } = sig.keygen('secp256k1', SEED);
  const der = privateKeyToPkcs8('secp256k1', secretKey);
  for (const kdf of [
    { type: 'pbkdf2', prf: 'sha256', iterations: 1000 },
    { type: 'pbkdf2', prf: 'sha1', iterations: 10 },
    { type: 'scrypt', N: 1024, r: 8, p: 1 },
  ] as const) {
    const encrypted = encryptPkcs8(der, 'pässword', { kdf });
    assert.deepEqual(privateKeyFromEncryptedPkcs8(encrypted, 'pässword'), {
      alg: 'secp256k1',
      secretKey,
      publicKey,
    });
    assert.throws(() => privateKeyFromEncryptedPkcs8(encrypted, 'passw0rd'), code('EBADMSG'));
  }
  const pem = encryptPkcs8Pem(der, 'pw', { kdf: { type: 'pbkdf2', prf: 'sha512', iterations: 100 } });
  assert.deepEqual(parsePrivateKey(pem, { passphrase: 'pw' }).secretKey, secretKey);
  assert.throws(() => parsePrivateKey(pem), einval);
  // Caps: a file asking for 10 000 001 PBKDF2 iterations or scrypt N = 2^22 is refused before any work.
  assert.throws(
    () => encryptPkcs8(der, 'pw', { kdf: { type: 'pbkdf2', prf: 'sha256', iterations: 10_000_001 } }),
    einval,
  );
  const hostile = (params: Uint8Array, kdfOid: string) =>
    encodeSequence(
      encodeSequence(
        encodeOid('1.2.840.113549.1.5.13'),
        encodeSequence(
          encodeSequence(encodeOid(kdfOid), params),
          encodeSequence(encodeOid('2.16.840.1.101.3.4.1.42'), encodeOctetString(new Uint8Array(16))),
        ),
      ),
      encodeOctetString(new Uint8Array(32)),
    );
  const int = (hex: string) => encodeTlv(2, fromHex(hex));
  const start = Date.now();
  assert.throws(
    () =>
      privateKeyFromEncryptedPkcs8(
        hostile(
          encodeSequence(encodeOctetString(new Uint8Array(8)), int('00989681')),
          '1.2.840.113549.1.5.12',
        ),
        'pw',
      ),
    einval,
  );
  assert.throws(
    () =>
      privateKeyFromEncryptedPkcs8(
        hostile(
          encodeSequence(encodeOctetString(new Uint8Array(8)), int('400000'), int('08'), int('01')),
          '1.3.6.1.4.1.11591.4.11',
        ),
        'pw',
      ),
    einval,
  );
  // 3DES and PBES1 are refused by name.
  const tdes = encodeSequence(
    encodeSequence(
      encodeOid('1.2.840.113549.1.5.13'),
      encodeSequence(
        encodeSequence(
          encodeOid('1.2.840.113549.1.5.12'),
          encodeSequence(encodeOctetString(new Uint8Array(8)), int('0800')),
        ),
        encodeSequence(encodeOid('1.2.840.113549.3.7'), encodeOctetString(new Uint8Array(8))),
      ),
    ),
    encodeOctetString(new Uint8Array(32)),
  );
  assert.throws(() => privateKeyFromEncryptedPkcs8(tdes, 'pw'), /3DES/);
  assert.ok(Date.now() - start < 60_000); // sanity only: nothing above ran a KDF
});

test('PEM strictness: one block, no legacy encryption headers, equal line widths', () => {
  const { secretKey } = sig.keygen('ed25519', SEED);
  const pem = privateKeyToPem('ed25519', secretKey);
  assert.throws(() => privateKeyFromPem(pem + pem), einval);
  assert.throws(
    () => privateKeyFromPem(pem.replace('-----END PRIVATE KEY-----', '-----END PUBLIC KEY-----')),
    einval,
  );
  assert.throws(
    () =>
      privateKeyFromPem(
        encodePem('EC PRIVATE KEY', new Uint8Array(60)).replace(
          '\n',
          '\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n',
        ),
      ),
    /openssl pkcs8/,
  );
  assert.deepEqual(privateKeyFromPem(pem.replaceAll('\n', '\r\n')).secretKey, secretKey);
  assert.throws(() => parsePrivateKey(pem.replace('MC4', 'MC4=')), einval);
});

test('fuzz: arbitrary and mutated inputs only ever fail with CofferError', () => {
  const { secretKey } = sig.keygen('ecdsa-p256', SEED);
  const samples = [
    privateKeyToPkcs8('ecdsa-p256', secretKey),
    encryptPkcs8(privateKeyToPkcs8('ed25519', SEED), 'pw', {
      kdf: { type: 'pbkdf2', prf: 'sha256', iterations: 1 },
    }),
    new Uint8Array(
      Buffer.from(privateKeyToOpenSsh('ed25519', SEED).split('\n').slice(1, -2).join(''), 'base64'),
    ),
  ];
  const attempt = (input: string | Uint8Array) => {
    try {
      parsePrivateKey(input, { passphrase: 'pw' });
    } catch (error) {
      assert.ok(isCofferError(error), String(error));
    }
    try {
      parsePublicKey(input);
    } catch (error) {
      assert.ok(isCofferError(error), String(error));
    }
  };
  fc.assert(
    fc.property(
      fc.constantFrom(...samples),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (sample, at, xor) => {
        const mutated = sample.slice();
        mutated[at % mutated.length]! ^= xor;
        attempt(mutated);
        attempt(mutated.subarray(0, at % mutated.length));
        attempt(concatBytes(mutated, Uint8Array.of(xor)));
      },
    ),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.uint8Array({ maxLength: 300 })), (input) => attempt(input)),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.dictionary(
        fc.constantFrom('kty', 'crv', 'x', 'y', 'd', 'alg', 'pub', 'priv'),
        fc.oneof(fc.string(), fc.constantFrom('OKP', 'EC', 'AKP', 'Ed25519', 'P-256', 'ML-DSA-65')),
      ),
      (jwk) => {
        try {
          parsePrivateKey(jwk);
        } catch (error) {
          assert.ok(isCofferError(error), String(error));
        }
      },
    ),
    { numRuns: 300 },
  );
});
