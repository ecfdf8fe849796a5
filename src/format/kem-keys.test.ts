// Proves the KEM key interchange formats: the X-Wing draft's example PEMs parse to the key pair of
// seed 00..1f and re-encode byte for byte; ML-KEM-768 SPKI matches what OpenSSL 3.5 exports; the
// parsers are strict (labels, PEM layout, canonical base64 and DER, OIDs, parameters, versions,
// private-key forms) and no mutation of a valid encoding is ever accepted as a different key.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { toHex } from '../crypto/bytes.js';
import * as kem from '../crypto/kem.js';
import { CofferError } from '../errors.js';
import { vectorPath } from '../testing/vectors.js';
import {
  decodeKemPrivateKeyDer,
  decodeKemPrivateKeyPem,
  decodeKemPublicKeyDer,
  decodeKemPublicKeyPem,
  encodeKemPrivateKeyDer,
  encodeKemPrivateKeyPem,
  encodeKemPublicKeyDer,
  encodeKemPublicKeyPem,
} from './kem-keys.js';

const seq = (length: number) => Uint8Array.from({ length }, (_, i) => i);
const pubPem = readFileSync(vectorPath('xwing/xwing.pub.pem'), 'utf8');
const privPem = readFileSync(vectorPath('xwing/xwing.priv.pem'), 'utf8');
const hexBytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('X-Wing draft example PEMs: the key pair of seed 00..1f, re-encoded byte for byte', () => {
  const priv = decodeKemPrivateKeyPem(privPem);
  assert.equal(priv.alg, 'x-wing');
  assert.equal(toHex(priv.secretKey), toHex(seq(32)));
  const pub = decodeKemPublicKeyPem(pubPem);
  assert.equal(pub.alg, 'x-wing');
  assert.deepEqual(pub.publicKey, kem.keygen('x-wing', priv.secretKey).publicKey);
  assert.equal(encodeKemPublicKeyPem('x-wing', pub.publicKey), pubPem);
  assert.equal(encodeKemPrivateKeyPem('x-wing', priv.secretKey), privPem);
  // CRLF line ends are the same document.
  assert.deepEqual(decodeKemPublicKeyPem(pubPem.replace(/\n/g, '\r\n')).publicKey, pub.publicKey);
});

test('ML-KEM-768: SPKI equals OpenSSL 3.5 output; PKCS#8 uses the 64-byte seed form', () => {
  const seed = seq(64);
  const { publicKey } = kem.keygen('ml-kem-768', seed);
  const spki = encodeKemPublicKeyDer('ml-kem-768', publicKey);
  // SHA-256 of createPublicKey(seedKey).export({ type: 'spki' }) under Node 24.21 / OpenSSL 3.5.8.
  assert.equal(sha256(spki), 'c23e23dd3d485a9256cda09358a4a286e00b373db10761eadf99f710649ca31c');
  assert.deepEqual(decodeKemPublicKeyDer(spki), { alg: 'ml-kem-768', publicKey });
  const der = encodeKemPrivateKeyDer('ml-kem-768', seed);
  assert.equal(toHex(der.subarray(0, 22)), '3054020100300b060960864801650304040204428040');
  assert.equal(der.length, 86);
  assert.deepEqual(decodeKemPrivateKeyDer(der), { alg: 'ml-kem-768', secretKey: seed });
  const pem = encodeKemPrivateKeyPem('ml-kem-768', seed);
  assert.deepEqual(decodeKemPrivateKeyPem(pem).secretKey, seed);
  assert.deepEqual(
    decodeKemPublicKeyPem(encodeKemPublicKeyPem('ml-kem-768', publicKey)).publicKey,
    publicKey,
  );
});

/** DER TLV in hex, for building malformed encodings by hand. */
function tlvHex(tag: string, content: string): string {
  const n = content.length / 2;
  const length =
    n < 0x80
      ? n.toString(16).padStart(2, '0')
      : n < 0x100
        ? `81${n.toString(16)}`
        : `82${n.toString(16).padStart(4, '0')}`;
  return `${tag}${length}${content}`;
}

const ML_KEM_OID = '0609608648016503040402';
const X_WING_OID = '060b2b0601040183e62d81c87a';

test('ML-KEM-768 expandedKey and both forms are refused: the seed is the secret key', () => {
  const expanded = tlvHex('04', '00'.repeat(2400));
  const both = tlvHex('30', tlvHex('04', '11'.repeat(64)) + expanded);
  for (const inner of [expanded, both]) {
    const der = hexBytes(tlvHex('30', `020100${tlvHex('30', ML_KEM_OID)}${tlvHex('04', inner)}`));
    assert.throws(() => decodeKemPrivateKeyDer(der), { code: 'EINVAL', message: /seed form/ });
  }
  // The seed form itself, built by hand, is accepted.
  const seedForm = hexBytes(
    tlvHex('30', `020100${tlvHex('30', ML_KEM_OID)}${tlvHex('04', tlvHex('80', '22'.repeat(64)))}`),
  );
  assert.deepEqual(decodeKemPrivateKeyDer(seedForm).secretKey, new Uint8Array(64).fill(0x22));
});

test('strict PEM: label, layout, canonical base64, nothing around the block', () => {
  const body = pubPem.split('\n').slice(1, -2).join('');
  const rewrap = (width: number) =>
    `-----BEGIN PUBLIC KEY-----\n${body.match(new RegExp(`.{1,${width}}`, 'g'))!.join('\n')}\n-----END PUBLIC KEY-----\n`;
  assert.deepEqual(decodeKemPublicKeyPem(rewrap(64)).publicKey, decodeKemPublicKeyPem(pubPem).publicKey);
  const bad = [
    rewrap(76),
    rewrap(48),
    pubPem.replace('PUBLIC KEY-----\n', 'PUBLIC KEY-----\n\n'),
    `junk\n${pubPem}`,
    `${pubPem}trailing\n`,
    `${pubPem}${pubPem}`,
    pubPem.replace('BEGIN PUBLIC KEY', 'BEGIN RSA PUBLIC KEY'),
    pubPem.replace(/-----END PUBLIC KEY-----/, '-----END PRIVATE KEY-----'),
    pubPem.replace('MIIE1DAN', 'MIIE1DA '),
    pubPem.replace('MIIE1DAN', 'MIIE1DA*'),
    ' '.concat(pubPem),
    '',
  ];
  for (const pem of bad)
    assert.throws(() => decodeKemPublicKeyPem(pem), { code: 'EINVAL' }, JSON.stringify(pem.slice(0, 40)));
  // The private PEM is not a public key and vice versa.
  assert.throws(() => decodeKemPublicKeyPem(privPem), { code: 'EINVAL' });
  assert.throws(() => decodeKemPrivateKeyPem(pubPem), { code: 'EINVAL' });
  // Non-canonical base64: 1240 DER bytes end in "…eg==", where 4 bits of 'g' are padding and must be
  // zero; 'h' decodes to the same bytes if they were ignored.
  assert.ok(pubPem.endsWith('eg==\n-----END PUBLIC KEY-----\n'));
  assert.throws(() => decodeKemPublicKeyPem(pubPem.replace('eg==', 'eh==')), { code: 'EINVAL' });
  assert.deepEqual(
    Buffer.from(pubPem.replace('eg==', 'eh==').split('\n').slice(1, -2).join(''), 'base64'),
    Buffer.from(encodeKemPublicKeyDer('x-wing', decodeKemPublicKeyPem(pubPem).publicKey)),
  );
  assert.throws(() => decodeKemPublicKeyPem(42 as unknown as string), { code: 'EINVAL' });
  assert.throws(() => decodeKemPublicKeyPem('A'.repeat(20_000)), { code: 'E2BIG' });
});

test('strict DER: wrong OID, parameters, unused bits, lengths, versions, extra fields are EINVAL', () => {
  const pub = toHex(decodeKemPublicKeyPem(pubPem).publicKey);
  const spki = (alg: string, bits: string) => hexBytes(tlvHex('30', tlvHex('30', alg) + tlvHex('03', bits)));
  const good = spki(X_WING_OID, `00${pub}`);
  assert.deepEqual(
    good,
    encodeKemPublicKeyDer('x-wing', hexBytes(pub)),
    'the hand-built form is the real one',
  );
  const hex = toHex(good);
  const cases: [string, Uint8Array, RegExp?][] = [
    ['trailing byte', hexBytes(`${hex}00`)],
    ['truncated', good.subarray(0, good.length - 1)],
    ['parameters NULL', spki(`${X_WING_OID}0500`, `00${pub}`)],
    ['unused bits', spki(X_WING_OID, `01${pub}`)],
    ['non-minimal length', hexBytes(hex.replace(/^308204d4/, '30830004d4'))],
    ['indefinite length', hexBytes(`3080${hex.slice(8)}0000`)],
    ['Ed25519 key', spki('06032b6570', `00${'00'.repeat(32)}`), /not an X-Wing or ML-KEM-768 key/],
    ['X-Wing OID, ML-KEM size', spki(X_WING_OID, `00${pub.slice(0, 1184 * 2)}`), /1216 bytes/],
    ['ML-KEM OID, X-Wing size', spki(ML_KEM_OID, `00${pub}`), /1184 bytes/],
  ];
  for (const [name, der, message] of cases) {
    assert.throws(
      () => decodeKemPublicKeyDer(der),
      { code: 'EINVAL', ...(message ? { message } : {}) },
      name,
    );
  }
  const pkcs8 = (version: string, octets: string, extra = '') =>
    hexBytes(
      tlvHex('30', `${tlvHex('02', version)}${tlvHex('30', X_WING_OID)}${tlvHex('04', octets)}${extra}`),
    );
  const seed = toHex(seq(32));
  assert.deepEqual(pkcs8('00', seed), encodeKemPrivateKeyDer('x-wing', seq(32)));
  const privateCases: [string, Uint8Array][] = [
    ['version 1', pkcs8('01', seed)],
    ['version 0 as two bytes', pkcs8('0000', seed)],
    ['attributes', pkcs8('00', seed, 'a000')],
    ['public key field', pkcs8('00', seed, tlvHex('81', `00${pub}`))],
    ['31-byte seed', pkcs8('00', seed.slice(2))],
    ['33-byte seed', pkcs8('00', `${seed}00`)],
    ['SPKI given as PKCS#8', good],
  ];
  for (const [name, der] of privateCases)
    assert.throws(() => decodeKemPrivateKeyDer(der), { code: 'EINVAL' }, name);
  assert.throws(() => decodeKemPublicKeyDer(pkcs8('00', seed)), { code: 'EINVAL' });
  assert.throws(() => decodeKemPublicKeyDer('30' as unknown as Uint8Array), { code: 'EINVAL' });
});

test('encoders validate their arguments', () => {
  assert.throws(() => encodeKemPublicKeyDer('x-wing', new Uint8Array(1184)), { code: 'EINVAL' });
  assert.throws(() => encodeKemPublicKeyDer('ml-kem-1024' as kem.KemAlgorithm, new Uint8Array(1184)), {
    code: 'EINVAL',
  });
  assert.throws(() => encodeKemPrivateKeyDer('ml-kem-768', new Uint8Array(32)), { code: 'EINVAL' });
  assert.throws(() => encodeKemPrivateKeyPem('x-wing', 'seed' as unknown as Uint8Array), { code: 'EINVAL' });
});

test('no single-byte change of a valid encoding parses as anything but itself or EINVAL', () => {
  const pub = decodeKemPublicKeyPem(pubPem).publicKey;
  const encodings = [
    {
      der: encodeKemPublicKeyDer('x-wing', pub),
      decode: (d: Uint8Array) => decodeKemPublicKeyDer(d).publicKey,
      skip: 24,
    },
    {
      der: encodeKemPrivateKeyDer('x-wing', seq(32)),
      decode: (d: Uint8Array) => decodeKemPrivateKeyDer(d).secretKey,
      skip: 22,
    },
    {
      der: encodeKemPrivateKeyDer('ml-kem-768', seq(64)),
      decode: (d: Uint8Array) => decodeKemPrivateKeyDer(d).secretKey,
      skip: 22,
    },
  ];
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat({ max: 2 }), (at, xor, which) => {
      const { der, decode, skip } = encodings[which]!;
      const position = at % der.length;
      const mutated = Uint8Array.from(der);
      mutated[position]! ^= xor;
      try {
        const key = decode(mutated);
        // Only a change inside the key bytes may parse, and then to exactly the changed key.
        assert.ok(position >= skip, `header byte ${position} changed yet parsed`);
        assert.deepEqual(key, mutated.subarray(der.length - key.length));
      } catch (error) {
        if (!(error instanceof CofferError) || error.code !== 'EINVAL') throw error;
      }
    }),
    { numRuns: 400 },
  );
});
