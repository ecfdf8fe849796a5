// KEM key interchange: SubjectPublicKeyInfo and PKCS#8 (RFC 5958 OneAsymmetricKey v1) in DER and
// PEM for X-Wing (draft-connolly-cfrg-xwing-kem-10 §5.8, OID 1.3.6.1.4.1.62253.25722: the raw 1216-byte
// key in the BIT STRING, the raw 32-byte seed in the privateKey OCTET STRING) and ML-KEM-768
// (draft-ietf-lamps-kyber-certificates, OID 2.16.840.1.101.3.4.4.2: the seed-only private key form,
// because the seed is Coffer's secret key). Parsing is strict: one DER encoding per key, absent
// parameters, no attributes or embedded public key, RFC 7468 strict PEM; anything else is EINVAL.
// No crypto here (docs/architecture.md): the caller derives or checks keys with crypto/kem.ts.

import { decodeBase64 } from '../base64.js';
import { assertBytes, assertOneOf, equalBytes } from '../crypto/bytes.js';
import type { KemAlgorithm } from '../crypto/kem.js';
import { CofferError } from '../errors.js';
import {
  DerReader,
  encodeBitString,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  TAG,
} from './asn1.js';

interface KeyFormat {
  oid: string;
  /** DER of the OBJECT IDENTIFIER (tag, length, value). */
  oidDer: Uint8Array;
  publicKey: number;
  secretKey: number;
  /** Wraps the secret key in the privateKey OCTET STRING's contents. */
  wrapSecret(secretKey: Uint8Array): Uint8Array;
}

const X_WING_OID = '1.3.6.1.4.1.62253.25722';
const ML_KEM_768_OID = '2.16.840.1.101.3.4.4.2';
/** PKCS#8 version 0 (RFC 5958 v1: no embedded public key). */
const VERSION_0 = Uint8Array.of(TAG.INTEGER, 1, 0);

const FORMATS: Readonly<Record<KemAlgorithm, KeyFormat>> = Object.freeze({
  'x-wing': {
    oid: X_WING_OID,
    oidDer: encodeOid(X_WING_OID),
    publicKey: 1216,
    secretKey: 32,
    wrapSecret: (secretKey) => secretKey,
  },
  'ml-kem-768': {
    oid: ML_KEM_768_OID,
    oidDer: encodeOid(ML_KEM_768_OID),
    publicKey: 1184,
    secretKey: 64,
    // ML-KEM-768-PrivateKey ::= CHOICE { seed [0] IMPLICIT OCTET STRING (SIZE (64)), ... }
    wrapSecret: (secretKey) => encodeTlv(0x80, secretKey),
  },
});

const ALGORITHMS = Object.keys(FORMATS) as KemAlgorithm[];
/** Largest PEM text accepted; real KEM keys are under 2 KiB of text. */
const MAX_PEM_LENGTH = 16 * 1024;

function bad(what: string): CofferError {
  return new CofferError('EINVAL', `malformed ${what}`);
}

/** AlgorithmIdentifier with absent parameters (X-Wing §5.8.1, ML-KEM alike): the OID fills the sequence. */
function readAlgorithm(reader: DerReader, what: string): KemAlgorithm {
  const algId = reader.sequence();
  const oid = algId.oid();
  algId.end();
  const alg = ALGORITHMS.find((a) => FORMATS[a].oid === oid);
  if (alg === undefined) throw new CofferError('EINVAL', `${what}: not an X-Wing or ML-KEM-768 key`);
  return alg;
}

/** SubjectPublicKeyInfo DER: SEQUENCE { SEQUENCE { OID }, BIT STRING (0 unused bits ‖ key) }. */
export function encodeKemPublicKeyDer(alg: KemAlgorithm, publicKey: Uint8Array): Uint8Array {
  assertOneOf('alg', alg, ALGORITHMS);
  const format = FORMATS[alg];
  assertBytes('publicKey', publicKey, format.publicKey);
  return encodeSequence(encodeSequence(format.oidDer), encodeBitString(publicKey));
}

export function decodeKemPublicKeyDer(der: Uint8Array): { alg: KemAlgorithm; publicKey: Uint8Array } {
  assertBytes('DER input', der);
  const what = 'SubjectPublicKeyInfo';
  const outer = new DerReader(der);
  const spki = outer.sequence();
  outer.end();
  const alg = readAlgorithm(spki, what);
  const bits = spki.bitString();
  spki.end();
  if (bits.length !== FORMATS[alg].publicKey) {
    throw new CofferError('EINVAL', `${what}: ${alg} public key must be ${FORMATS[alg].publicKey} bytes`);
  }
  const publicKey = Uint8Array.from(bits);
  // One encoding per key: anything that does not re-encode byte for byte is not DER.
  if (!equalBytes(encodeKemPublicKeyDer(alg, publicKey), der)) throw bad(what);
  return { alg, publicKey };
}

/** PKCS#8 DER: SEQUENCE { INTEGER 0, SEQUENCE { OID }, OCTET STRING (secret) }. */
export function encodeKemPrivateKeyDer(alg: KemAlgorithm, secretKey: Uint8Array): Uint8Array {
  assertOneOf('alg', alg, ALGORITHMS);
  const format = FORMATS[alg];
  assertBytes('secretKey', secretKey, format.secretKey);
  // The intermediate encodings hold the secret too: wipe them once the outer one is built.
  const wrapped = format.wrapSecret(secretKey);
  const octets = encodeOctetString(wrapped);
  try {
    return encodeSequence(VERSION_0, encodeSequence(format.oidDer), octets);
  } finally {
    octets.fill(0);
    if (wrapped !== secretKey) wrapped.fill(0);
  }
}

export function decodeKemPrivateKeyDer(der: Uint8Array): { alg: KemAlgorithm; secretKey: Uint8Array } {
  assertBytes('DER input', der);
  const what = 'PKCS#8 private key';
  const outer = new DerReader(der);
  const body = outer.sequence();
  outer.end();
  const version = body.read(TAG.INTEGER);
  if (version.length !== 1 || version[0] !== 0) {
    throw new CofferError('EINVAL', `${what}: only version 0 without an embedded public key is accepted`);
  }
  const alg = readAlgorithm(body, what);
  const inner = body.octetString();
  // Attributes and the v2 publicKey field would follow the OCTET STRING: end() rejects them.
  body.end();
  const format = FORMATS[alg];
  let secretKey: Uint8Array;
  if (alg === 'ml-kem-768') {
    if (inner[0] !== 0x80) {
      throw new CofferError('EINVAL', `${what}: ML-KEM-768 keys are accepted only in the seed form`);
    }
    const choice = new DerReader(inner);
    const seed = choice.read(0x80);
    choice.end();
    secretKey = Uint8Array.from(seed);
  } else {
    secretKey = Uint8Array.from(inner);
  }
  if (secretKey.length !== format.secretKey) {
    secretKey.fill(0);
    throw new CofferError('EINVAL', `${what}: ${alg} secret key must be ${format.secretKey} bytes`);
  }
  const again = encodeKemPrivateKeyDer(alg, secretKey);
  const canonical = equalBytes(again, der);
  again.fill(0);
  if (!canonical) {
    secretKey.fill(0);
    throw bad(what);
  }
  return { alg, secretKey };
}

const BASE64_LINE = /^[A-Za-z0-9+/]{1,64}={0,2}$/;

function encodePem(label: string, der: Uint8Array): string {
  const body = Buffer.from(der).toString('base64');
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** RFC 7468 §3 strict form: exact label, 64-column base64 lines, canonical base64, nothing else. */
function decodePem(label: string, pem: unknown): Uint8Array {
  if (typeof pem !== 'string') throw new CofferError('EINVAL', 'PEM input must be a string');
  if (pem.length > MAX_PEM_LENGTH)
    throw new CofferError('E2BIG', `PEM input over ${MAX_PEM_LENGTH} characters`);
  const lines = pem.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  const what = `PEM ${label}`;
  if (
    lines.length < 3 ||
    lines[0] !== `-----BEGIN ${label}-----` ||
    lines.at(-1) !== `-----END ${label}-----`
  ) {
    throw new CofferError('EINVAL', `expected a single "${label}" PEM block`);
  }
  const body = lines.slice(1, -1);
  body.forEach((line, i) => {
    const isLast = i === body.length - 1;
    if (!BASE64_LINE.test(line) || (!isLast && (line.length !== 64 || line.includes('=')))) throw bad(what);
  });
  const text = body.join('');
  try {
    return decodeBase64(text, 'base64', what);
  } catch {
    throw bad(what);
  }
}

export function encodeKemPublicKeyPem(alg: KemAlgorithm, publicKey: Uint8Array): string {
  return encodePem('PUBLIC KEY', encodeKemPublicKeyDer(alg, publicKey));
}

export function decodeKemPublicKeyPem(pem: string): { alg: KemAlgorithm; publicKey: Uint8Array } {
  return decodeKemPublicKeyDer(decodePem('PUBLIC KEY', pem));
}

/** The PEM string holds the secret seed: callers handle it as secret material. */
export function encodeKemPrivateKeyPem(alg: KemAlgorithm, secretKey: Uint8Array): string {
  const der = encodeKemPrivateKeyDer(alg, secretKey);
  try {
    return encodePem('PRIVATE KEY', der);
  } finally {
    der.fill(0);
  }
}

export function decodeKemPrivateKeyPem(pem: string): { alg: KemAlgorithm; secretKey: Uint8Array } {
  const der = decodePem('PRIVATE KEY', pem);
  try {
    return decodeKemPrivateKeyDer(der);
  } finally {
    der.fill(0);
  }
}
