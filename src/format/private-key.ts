// Private key interchange for import (SPEC §14.4): PKCS#8 (RFC 5958 OneAsymmetricKey, v1 and v2)
// for Ed25519 (RFC 8410 §7), ECDSA P-256 and secp256k1 (RFC 5915 ECPrivateKey inside, RFC 5480
// curves), ML-DSA-65 (RFC 9881 §6: seed or both forms) and the KEM keys of kem-keys.ts; SEC 1
// "EC PRIVATE KEY" (RFC 5915, as `openssl ecparam -genkey` writes it); and private JWKs (RFC 8037
// OKP, RFC 7518 EC, RFC 9964 AKP). Every parser returns Coffer's secret key form (the Ed25519 /
// ML-DSA seed, the EC scalar, the KEM seed) and its canonical public key, and checks every public
// part the input carries against the secret — a key file whose halves disagree is refused (EINVAL)
// rather than imported as a key that verifies nothing. Secrets are copied out once; intermediate
// buffers are wiped (best effort, SPEC §1).
import { assertBytes, assertOneOf, equalBytes, wipe } from '../crypto/bytes.js';
import type { KemAlgorithm } from '../crypto/kem.js';
import * as kem from '../crypto/kem.js';
import type { SigAlgorithm } from '../crypto/sig.js';
import * as sig from '../crypto/sig.js';
import { assertScalar, convertEcPublicKey, type EcAlgorithm } from '../crypto/sig-ecdsa.js';
import { mlDsa65ExpandedSecretKey } from '../crypto/sig-mldsa.js';
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
import { decodeKemPrivateKeyDer } from './kem-keys.js';
import { decodePem, encodePem } from './pem.js';
import { decodeBase64 } from './text-encodings.js';

export type ImportAlgorithm = SigAlgorithm | KemAlgorithm;

export interface ParsedPrivateKey {
  alg: ImportAlgorithm;
  /** Coffer's secret key form: 32-byte seed (Ed25519, ML-DSA-65, X-Wing), scalar (EC), 64-byte d ‖ z (ML-KEM). */
  secretKey: Uint8Array;
  /** The canonical public key (as `sig.publicKey` / `kem.keygen` return it). */
  publicKey: Uint8Array;
}

const OID = Object.freeze({
  ed25519: '1.3.101.112',
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  secp256k1: '1.3.132.0.10',
  mlDsa65: '2.16.840.1.101.3.4.3.18',
  xWing: '1.3.6.1.4.1.62253.25722',
  mlKem768: '2.16.840.1.101.3.4.4.2',
});

const CURVE_OID: Readonly<Record<EcAlgorithm, string>> = {
  'ecdsa-p256': OID.prime256v1,
  secp256k1: OID.secp256k1,
};
const ML_DSA_65_EXPANDED = 4032;

const invalid = (what: string): CofferError => new CofferError('EINVAL', what);

function curveOf(oid: string): EcAlgorithm {
  if (oid === OID.prime256v1) return 'ecdsa-p256';
  if (oid === OID.secp256k1) return 'secp256k1';
  throw invalid(`unsupported EC curve ${oid} (need prime256v1 or secp256k1)`);
}

/** EINVAL unless the public key the file carries is the one its secret derives. */
function assertSamePublic(alg: ImportAlgorithm, derived: Uint8Array, carried: Uint8Array | undefined): void {
  if (carried === undefined) return;
  let same: boolean;
  if (alg === 'ecdsa-p256' || alg === 'secp256k1') {
    let point: Uint8Array;
    try {
      point = convertEcPublicKey(alg, carried, false);
    } catch {
      throw invalid(`${alg} private key file carries a malformed public key`);
    }
    same = equalBytes(point, convertEcPublicKey(alg, derived, false));
  } else {
    same = equalBytes(carried, derived);
  }
  if (!same)
    throw invalid(`${alg} private key file carries a public key that does not match its private key`);
}

/** Builds the result for a signature key, validating the secret (scalar range) on the way. */
function sigKey(alg: SigAlgorithm, secret: Uint8Array, carriedPublic?: Uint8Array): ParsedPrivateKey {
  const secretKey = Uint8Array.from(secret);
  try {
    if (alg === 'ecdsa-p256' || alg === 'secp256k1') assertScalar(alg, secretKey);
    const publicKey = sig.publicKey(alg, secretKey);
    assertSamePublic(alg, publicKey, carriedPublic);
    return { alg, secretKey, publicKey };
  } catch (error) {
    wipe(secretKey);
    throw error;
  }
}

// ---- RFC 5915 ECPrivateKey ----

/**
 * ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING (32), parameters [0] EXPLICIT OID
 * OPTIONAL, publicKey [1] EXPLICIT BIT STRING OPTIONAL }. `curve` is known from PKCS#8's algorithm
 * (then parameters, if present, must agree) or must come from parameters (SEC 1 files).
 */
function parseEcPrivateKey(der: Uint8Array, curve: EcAlgorithm | undefined): ParsedPrivateKey {
  const outer = new DerReader(der);
  const body = outer.sequence();
  outer.end();
  const version = body.read(TAG.INTEGER);
  if (version.length !== 1 || version[0] !== 1) throw invalid('ECPrivateKey version must be 1');
  const secret = body.octetString();
  // RFC 5915 §3: the octet string is ceiling(log2(n)/8) = 32 bytes long, leading zeros kept.
  if (secret.length !== 32) throw invalid('ECPrivateKey privateKey must be 32 bytes');
  let alg = curve;
  if (body.peekTag() === 0xa0) {
    const params = new DerReader(body.read(0xa0));
    const named = curveOf(params.oid());
    params.end();
    if (alg !== undefined && named !== alg) throw invalid('ECPrivateKey parameters name another curve');
    alg = named;
  }
  let carried: Uint8Array | undefined;
  if (body.peekTag() === 0xa1) {
    const wrapper = new DerReader(body.read(0xa1));
    carried = wrapper.bitString();
    wrapper.end();
  }
  body.end();
  if (alg === undefined) throw invalid('EC private key without a named curve');
  return sigKey(alg, secret, carried);
}

// ---- PKCS#8 (RFC 5958 §2) ----

function parseMlDsaPrivate(inner: Uint8Array, carried: Uint8Array | undefined): ParsedPrivateKey {
  const reader = new DerReader(inner);
  const tag = reader.peekTag();
  let seed: Uint8Array;
  let expanded: Uint8Array | undefined;
  if (tag === 0x80) {
    seed = reader.read(0x80);
  } else if (tag === TAG.SEQUENCE) {
    const both = reader.sequence();
    seed = both.octetString();
    expanded = both.octetString();
    both.end();
  } else if (tag === TAG.OCTET_STRING) {
    throw invalid(
      'ML-DSA-65 private key holds only the expanded key; Coffer needs the 32-byte seed (RFC 9881 "seed" or "both" form)',
    );
  } else {
    throw invalid('malformed ML-DSA-65 private key (RFC 9881 §6 CHOICE)');
  }
  reader.end();
  if (seed.length !== 32) throw invalid('ML-DSA-65 seed must be 32 bytes');
  const parsed = sigKey('ml-dsa-65', seed, carried);
  if (expanded !== undefined) {
    if (expanded.length !== ML_DSA_65_EXPANDED) {
      wipe(parsed.secretKey);
      throw invalid(`ML-DSA-65 expanded key must be ${ML_DSA_65_EXPANDED} bytes`);
    }
    const derived = mlDsa65ExpandedSecretKey(parsed.secretKey);
    const same = equalBytes(derived, expanded);
    wipe(derived);
    if (!same) {
      wipe(parsed.secretKey);
      // RFC 9881 §8: the two halves of a "both" key must be checked for consistency.
      throw invalid('ML-DSA-65 private key: the expanded key does not derive from the seed');
    }
  }
  return parsed;
}

function kemKey(der: Uint8Array): ParsedPrivateKey {
  const { alg, secretKey } = decodeKemPrivateKeyDer(der);
  return { alg, secretKey, publicKey: kem.keygen(alg, secretKey).publicKey };
}

/** Strict PKCS#8 DER (unencrypted) → secret and public key. */
export function privateKeyFromPkcs8(der: Uint8Array, expected?: ImportAlgorithm): ParsedPrivateKey {
  assertBytes('PKCS#8 DER', der);
  const outer = new DerReader(der);
  const body = outer.sequence();
  outer.end();
  const version = body.read(TAG.INTEGER);
  if (version.length !== 1 || version[0]! > 1) throw invalid('PKCS#8 version must be 0 (v1) or 1 (v2)');
  const algId = body.sequence();
  const oid = algId.oid();
  if (oid === OID.xWing || oid === OID.mlKem768) return expect(kemKey(der), expected);
  let ecCurve: EcAlgorithm | undefined;
  if (oid === OID.ecPublicKey) {
    if (algId.done) throw invalid('EC private key without a named curve');
    ecCurve = curveOf(algId.oid());
  }
  algId.end();
  const inner = body.octetString();
  // Attributes ([0], e.g. a Windows key name) carry nothing Coffer keeps; the v2 public key ([1]) is checked.
  if (body.peekTag() === 0xa0) body.read(0xa0);
  let carried: Uint8Array | undefined;
  if (body.peekTag() === 0x81) {
    if (version[0] !== 1) throw invalid('PKCS#8 v1 must not carry a public key (RFC 5958 §2)');
    const bits = body.read(0x81);
    if (bits[0] !== 0) throw invalid('PKCS#8 public key BIT STRING with unused bits');
    carried = bits.subarray(1);
  }
  body.end();
  let parsed: ParsedPrivateKey;
  if (ecCurve !== undefined) {
    parsed = parseEcPrivateKey(inner, ecCurve);
    assertSamePublic(ecCurve, parsed.publicKey, carried);
  } else if (oid === OID.ed25519) {
    const seedReader = new DerReader(inner);
    const seed = seedReader.octetString();
    seedReader.end();
    if (seed.length !== 32) throw invalid('Ed25519 private key must be 32 bytes (RFC 8410 §7)');
    parsed = sigKey('ed25519', seed, carried);
  } else if (oid === OID.mlDsa65) {
    parsed = parseMlDsaPrivate(inner, carried);
  } else {
    throw invalid(`unsupported private key algorithm ${oid}`);
  }
  return expect(parsed, expected);
}

function expect(parsed: ParsedPrivateKey, expected: ImportAlgorithm | undefined): ParsedPrivateKey {
  if (expected !== undefined && parsed.alg !== expected) {
    wipe(parsed.secretKey);
    throw invalid(`expected a ${expected} key, got ${parsed.alg}`);
  }
  return parsed;
}

/** SEC 1 ECPrivateKey DER (the body of "EC PRIVATE KEY"); the curve comes from its parameters. */
export function privateKeyFromSec1(der: Uint8Array, expected?: ImportAlgorithm): ParsedPrivateKey {
  assertBytes('SEC 1 DER', der);
  return expect(parseEcPrivateKey(der, undefined), expected);
}

/** "PRIVATE KEY" (PKCS#8) or "EC PRIVATE KEY" (SEC 1) PEM. Encrypted PKCS#8 is pkcs8-encrypted.ts. */
export function privateKeyFromPem(pem: string, expected?: ImportAlgorithm): ParsedPrivateKey {
  const block = decodePem(pem, ['PRIVATE KEY', 'EC PRIVATE KEY']);
  try {
    return block.label === 'PRIVATE KEY'
      ? privateKeyFromPkcs8(block.bytes, expected)
      : privateKeyFromSec1(block.bytes, expected);
  } finally {
    wipe(block.bytes);
  }
}

// ---- writer (for export paths and round-trip tests): the forms OpenSSL writes ----

const VERSION_0 = Uint8Array.of(TAG.INTEGER, 1, 0);

/**
 * PKCS#8 v1 DER of a signature key: Ed25519 as RFC 8410, EC as RFC 5915 with the public key (as
 * OpenSSL writes), ML-DSA-65 in the seed form. The result holds the secret: the caller wipes it.
 */
export function privateKeyToPkcs8(alg: SigAlgorithm, secretKey: Uint8Array): Uint8Array {
  assertOneOf('alg', alg, sig.SIG_ALGORITHMS);
  const publicKey = sig.publicKey(alg, secretKey);
  const parts: Uint8Array[] = [];
  try {
    if (alg === 'ed25519') {
      parts.push(encodeOctetString(secretKey));
      return encodeSequence(VERSION_0, encodeSequence(encodeOid(OID.ed25519)), encodeOctetString(parts[0]!));
    }
    if (alg === 'ml-dsa-65') {
      parts.push(encodeTlv(0x80, secretKey));
      return encodeSequence(VERSION_0, encodeSequence(encodeOid(OID.mlDsa65)), encodeOctetString(parts[0]!));
    }
    const point = convertEcPublicKey(alg, publicKey, false);
    parts.push(
      encodeSequence(
        Uint8Array.of(TAG.INTEGER, 1, 1),
        encodeOctetString(secretKey),
        encodeTlv(0xa1, encodeBitString(point)),
      ),
    );
    const algId = encodeSequence(encodeOid(OID.ecPublicKey), encodeOid(CURVE_OID[alg]));
    return encodeSequence(VERSION_0, algId, encodeOctetString(parts[0]!));
  } finally {
    wipe(...parts);
  }
}

/** "PRIVATE KEY" PEM of privateKeyToPkcs8; the string holds the secret. */
export function privateKeyToPem(alg: SigAlgorithm, secretKey: Uint8Array): string {
  const der = privateKeyToPkcs8(alg, secretKey);
  try {
    return encodePem('PRIVATE KEY', der);
  } finally {
    wipe(der);
  }
}

// ---- private JWK (RFC 7517 §4, RFC 8037 §2, RFC 7518 §6.2.2, RFC 9964 §6) ----

function member(jwk: Record<string, unknown>, name: string, length: number): Uint8Array {
  const value = jwk[name];
  if (typeof value !== 'string') throw invalid(`JWK member '${name}' must be a string`);
  const bytes = decodeBase64(value, 'base64url', `JWK member '${name}'`);
  if (bytes.length !== length) {
    wipe(bytes);
    throw invalid(`JWK member '${name}' must encode ${length} bytes`);
  }
  return bytes;
}

/**
 * A private JWK → secret and public key. The public members (x, y / pub) are required and must
 * match the private one (d / priv); unknown members are ignored (RFC 7517 §4).
 */
export function privateKeyFromJwk(jwk: unknown, expected?: ImportAlgorithm): ParsedPrivateKey {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw invalid('JWK must be an object');
  const record = jwk as Record<string, unknown>;
  let secret: Uint8Array | undefined;
  try {
    if (record.kty === 'OKP' && record.crv === 'Ed25519') {
      secret = member(record, 'd', 32);
      return expect(sigKey('ed25519', secret, member(record, 'x', 32)), expected);
    }
    if (record.kty === 'EC' && (record.crv === 'P-256' || record.crv === 'secp256k1')) {
      const alg: EcAlgorithm = record.crv === 'P-256' ? 'ecdsa-p256' : 'secp256k1';
      secret = member(record, 'd', 32);
      const point = new Uint8Array(65);
      point[0] = 4;
      point.set(member(record, 'x', 32), 1);
      point.set(member(record, 'y', 32), 33);
      return expect(sigKey(alg, secret, point), expected);
    }
    if (record.kty === 'AKP' && record.alg === 'ML-DSA-65') {
      // RFC 9964 §6: `priv` is the 32-byte seed ξ.
      secret = member(record, 'priv', 32);
      return expect(sigKey('ml-dsa-65', secret, member(record, 'pub', 1952)), expected);
    }
  } finally {
    wipe(secret);
  }
  throw invalid(
    'unsupported private JWK: need kty OKP/Ed25519, EC/P-256 or secp256k1, or AKP/ML-DSA-65 with its private member',
  );
}
