// KEM key interchange: SubjectPublicKeyInfo and PKCS#8 (RFC 5958 OneAsymmetricKey v1) in DER and
// PEM for X-Wing (draft-connolly-cfrg-xwing-kem-10 §5.8, OID 1.3.6.1.4.1.62253.25722: the raw 1216-byte
// key in the BIT STRING, the raw 32-byte seed in the privateKey OCTET STRING) and ML-KEM-768
// (draft-ietf-lamps-kyber-certificates, OID 2.16.840.1.101.3.4.4.2: the seed-only private key form,
// because the seed is Coffer's secret key). Parsing is strict: one DER encoding per key, absent
// parameters, no attributes or embedded public key, RFC 7468 strict PEM; anything else is EINVAL.
// No crypto here (DESIGN §1): the caller derives or checks keys with crypto/kem.ts.

import type { KemAlgorithm } from '../crypto/kem.js';
import { CofferError } from '../errors.js';

interface KeyFormat {
  /** DER of the OBJECT IDENTIFIER (tag, length, value). */
  oid: Uint8Array;
  publicKey: number;
  secretKey: number;
  /** Wraps the secret key in the privateKey OCTET STRING's contents. */
  wrapSecret(secretKey: Uint8Array): Uint8Array;
}

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));

const FORMATS: Readonly<Record<KemAlgorithm, KeyFormat>> = Object.freeze({
  'x-wing': {
    oid: hex('060b2b0601040183e62d81c87a'),
    publicKey: 1216,
    secretKey: 32,
    wrapSecret: (secretKey) => secretKey,
  },
  'ml-kem-768': {
    oid: hex('0609608648016503040402'),
    publicKey: 1184,
    secretKey: 64,
    // ML-KEM-768-PrivateKey ::= CHOICE { seed [0] IMPLICIT OCTET STRING (SIZE (64)), ... }
    wrapSecret: (secretKey) => concat(hex('8040'), secretKey),
  },
});

const ALGORITHMS = Object.keys(FORMATS) as KemAlgorithm[];
/** Largest PEM text accepted; real KEM keys are under 2 KiB of text. */
const MAX_PEM_LENGTH = 16 * 1024;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function tlv(tag: number, value: Uint8Array): Uint8Array {
  const n = value.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return concat(Uint8Array.of(tag, ...length), value);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function bad(what: string): CofferError {
  return new CofferError('EINVAL', `malformed ${what}`);
}

/** Reads one DER TLV at `offset`; definite, minimal lengths only (X.690 §10.1). */
function readTlv(
  der: Uint8Array,
  offset: number,
  what: string,
): { tag: number; value: Uint8Array; end: number } {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined) throw bad(what);
  let length = first;
  let start = offset + 2;
  if (first >= 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 2) throw bad(what);
    length = 0;
    for (let i = 0; i < count; i++) {
      const byte = der[start + i];
      if (byte === undefined || (i === 0 && byte === 0)) throw bad(what);
      length = (length << 8) | byte;
    }
    if (length < 0x80) throw bad(what);
    start += count;
  }
  const end = start + length;
  if (end > der.length) throw bad(what);
  return { tag, value: der.subarray(start, end), end };
}

/** Reads `tag` at `offset` of `der`, which must be followed by nothing when `last`. */
function expect(der: Uint8Array, offset: number, tag: number, what: string, last: boolean) {
  const item = readTlv(der, offset, what);
  if (item.tag !== tag || (last && item.end !== der.length)) throw bad(what);
  return item;
}

function algorithmOf(oid: Uint8Array, what: string): KemAlgorithm {
  const alg = ALGORITHMS.find((a) => sameBytes(FORMATS[a].oid, oid));
  if (alg === undefined) throw new CofferError('EINVAL', `${what}: not an X-Wing or ML-KEM-768 key`);
  return alg;
}

function checkAlgorithm(alg: unknown): asserts alg is KemAlgorithm {
  if (typeof alg !== 'string' || !(ALGORITHMS as string[]).includes(alg)) {
    throw new CofferError('EINVAL', `alg must be one of ${ALGORITHMS.join(', ')}`);
  }
}

function checkKey(name: string, key: unknown, length: number): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw new CofferError('EINVAL', `${name} must be a Uint8Array`);
  if (key.length !== length)
    throw new CofferError('EINVAL', `${name} must be ${length} bytes, got ${key.length}`);
}

function checkDer(der: unknown): asserts der is Uint8Array {
  if (!(der instanceof Uint8Array)) throw new CofferError('EINVAL', 'DER input must be a Uint8Array');
}

/** SubjectPublicKeyInfo DER: SEQUENCE { SEQUENCE { OID }, BIT STRING (0 unused bits ‖ key) }. */
export function encodeKemPublicKeyDer(alg: KemAlgorithm, publicKey: Uint8Array): Uint8Array {
  checkAlgorithm(alg);
  const format = FORMATS[alg];
  checkKey('publicKey', publicKey, format.publicKey);
  return tlv(0x30, concat(tlv(0x30, format.oid), tlv(0x03, concat(Uint8Array.of(0), publicKey))));
}

export function decodeKemPublicKeyDer(der: Uint8Array): { alg: KemAlgorithm; publicKey: Uint8Array } {
  checkDer(der);
  const what = 'SubjectPublicKeyInfo';
  const spki = expect(der, 0, 0x30, what, true).value;
  const algId = expect(spki, 0, 0x30, what, false);
  // Parameters MUST be absent (X-Wing §5.8.1, RFC for ML-KEM alike): the OID fills the sequence.
  const oid = expect(algId.value, 0, 0x06, what, true);
  const alg = algorithmOf(algId.value.subarray(0, oid.end), what);
  const bits = expect(spki.subarray(algId.end), 0, 0x03, what, true).value;
  if (bits[0] !== 0 || bits.length - 1 !== FORMATS[alg].publicKey) {
    throw new CofferError('EINVAL', `${what}: ${alg} public key must be ${FORMATS[alg].publicKey} bytes`);
  }
  const publicKey = Uint8Array.from(bits.subarray(1));
  // One encoding per key: anything that does not re-encode byte for byte is not DER.
  if (!sameBytes(encodeKemPublicKeyDer(alg, publicKey), der)) throw bad(what);
  return { alg, publicKey };
}

/** PKCS#8 DER: SEQUENCE { INTEGER 0, SEQUENCE { OID }, OCTET STRING (secret) }. */
export function encodeKemPrivateKeyDer(alg: KemAlgorithm, secretKey: Uint8Array): Uint8Array {
  checkAlgorithm(alg);
  const format = FORMATS[alg];
  checkKey('secretKey', secretKey, format.secretKey);
  return tlv(0x30, concat(hex('020100'), tlv(0x30, format.oid), tlv(0x04, format.wrapSecret(secretKey))));
}

export function decodeKemPrivateKeyDer(der: Uint8Array): { alg: KemAlgorithm; secretKey: Uint8Array } {
  checkDer(der);
  const what = 'PKCS#8 private key';
  const body = expect(der, 0, 0x30, what, true).value;
  const version = expect(body, 0, 0x02, what, false);
  if (version.value.length !== 1 || version.value[0] !== 0) {
    throw new CofferError('EINVAL', `${what}: only version 0 without an embedded public key is accepted`);
  }
  const rest = body.subarray(version.end);
  const algId = expect(rest, 0, 0x30, what, false);
  const oid = expect(algId.value, 0, 0x06, what, true);
  const alg = algorithmOf(algId.value.subarray(0, oid.end), what);
  // Attributes and the v2 publicKey field would follow the OCTET STRING: `last` rejects them.
  const inner = expect(rest.subarray(algId.end), 0, 0x04, what, true).value;
  const format = FORMATS[alg];
  let secretKey: Uint8Array;
  if (alg === 'ml-kem-768') {
    if (inner[0] !== 0x80) {
      throw new CofferError('EINVAL', `${what}: ML-KEM-768 keys are accepted only in the seed form`);
    }
    secretKey = Uint8Array.from(expect(inner, 0, 0x80, what, true).value);
  } else {
    secretKey = Uint8Array.from(inner);
  }
  if (secretKey.length !== format.secretKey) {
    secretKey.fill(0);
    throw new CofferError('EINVAL', `${what}: ${alg} secret key must be ${format.secretKey} bytes`);
  }
  const again = encodeKemPrivateKeyDer(alg, secretKey);
  const canonical = sameBytes(again, der);
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
  if (text.length % 4 !== 0) throw bad(what);
  const der = Buffer.from(text, 'base64');
  if (der.toString('base64') !== text) throw bad(what);
  return new Uint8Array(der);
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
