// Public key formats (SPEC "Public key formats"): raw ↔ SubjectPublicKeyInfo DER / PEM for every
// signature algorithm, JWK for Ed25519 (RFC 8037 OKP), the EC curves (RFC 7518 EC, RFC 8812
// "secp256k1") and ML-DSA-65 (RFC 9964 AKP), and OpenSSH public key lines and wire blobs for
// ssh-ed25519 and ecdsa-sha2-nistp256 (RFC 8709, RFC 5656). Parsers are strict and validate the key itself (curve points, canonical Ed25519
// encodings) through the crypto layer, so a parsed key is always usable; everything else is EINVAL.
// EC keys are written uncompressed everywhere (the form every consumer must accept, RFC 5480 §2.2)
// and parsed back to Coffer's canonical raw form: 65 bytes for P-256, 33 compressed for secp256k1.
import { assertBytes, assertOneOf, concatBytes, equalBytes } from '../crypto/bytes.js';
import { SIG_ALGORITHMS, SIG_LENGTHS, type SigAlgorithm } from '../crypto/sig.js';
import { convertEcPublicKey, type EcAlgorithm } from '../crypto/sig-ecdsa.js';
import { assertEd25519PublicKey } from '../crypto/sig-ed25519.js';
import { CofferError } from '../errors.js';
import { DerReader, encodeBitString, encodeOid, encodeSequence } from './asn1.js';
import { SshReader, sshString } from './ssh-wire.js';
import { decodeBase64, encodeBase64 } from './text-encodings.js';

export const PUBLIC_KEY_FORMATS = ['raw', 'spki', 'pem', 'jwk', 'openssh'] as const;
export type PublicKeyFormat = (typeof PUBLIC_KEY_FORMATS)[number];

export interface ParsedPublicKey {
  alg: SigAlgorithm;
  /** Canonical raw form, as `sig.publicKey` returns it. */
  publicKey: Uint8Array;
}

export type PublicJwk =
  | { kty: 'OKP'; crv: 'Ed25519'; x: string }
  | { kty: 'EC'; crv: 'P-256' | 'secp256k1'; x: string; y: string }
  | { kty: 'AKP'; alg: 'ML-DSA-65'; pub: string };

const OID = Object.freeze({
  ed25519: '1.3.101.112', // RFC 8410 §3
  ecPublicKey: '1.2.840.10045.2.1', // RFC 5480 §2.1.1
  prime256v1: '1.2.840.10045.3.1.7',
  secp256k1: '1.3.132.0.10', // SEC 2 §A.2.1
  mlDsa65: '2.16.840.1.101.3.4.3.18', // RFC 9881 / NIST CSOR
});

const isEc = (alg: SigAlgorithm): alg is EcAlgorithm => alg === 'ecdsa-p256' || alg === 'secp256k1';

/** Validates a raw key (length and, for curves, the point) and returns the canonical raw form. */
function canonical(alg: SigAlgorithm, publicKey: unknown): Uint8Array {
  assertOneOf('alg', alg, SIG_ALGORITHMS);
  assertBytes('publicKey', publicKey);
  const accepted = SIG_LENGTHS[alg].publicKeyAccepted;
  if (!accepted.includes(publicKey.length)) {
    throw new CofferError(
      'EINVAL',
      `${alg} public key must be ${accepted.join(' or ')} bytes, got ${publicKey.length}`,
    );
  }
  if (isEc(alg)) return convertEcPublicKey(alg, publicKey, alg === 'secp256k1');
  if (alg === 'ed25519') assertEd25519PublicKey(publicKey);
  return publicKey.slice();
}

/** The key as it is written into SPKI, JWK and OpenSSH: EC points uncompressed. */
function encodedPoint(alg: SigAlgorithm, publicKey: Uint8Array): Uint8Array {
  const raw = canonical(alg, publicKey);
  return isEc(alg) ? convertEcPublicKey(alg, raw, false) : raw;
}

function expect(parsed: ParsedPublicKey, expected: SigAlgorithm | undefined): ParsedPublicKey {
  if (expected !== undefined) {
    assertOneOf('alg', expected, SIG_ALGORITHMS);
    if (parsed.alg !== expected)
      throw new CofferError('EINVAL', `expected a ${expected} key, got ${parsed.alg}`);
  }
  return parsed;
}

// ---- SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) ----

function algorithmIdentifier(alg: SigAlgorithm): Uint8Array {
  switch (alg) {
    case 'ed25519':
      return encodeSequence(encodeOid(OID.ed25519));
    case 'ecdsa-p256':
      return encodeSequence(encodeOid(OID.ecPublicKey), encodeOid(OID.prime256v1));
    case 'secp256k1':
      return encodeSequence(encodeOid(OID.ecPublicKey), encodeOid(OID.secp256k1));
    case 'ml-dsa-65':
      return encodeSequence(encodeOid(OID.mlDsa65));
  }
}

export function publicKeyToSpki(alg: SigAlgorithm, publicKey: Uint8Array): Uint8Array {
  return encodeSequence(algorithmIdentifier(alg), encodeBitString(encodedPoint(alg, publicKey)));
}

/**
 * Strict SPKI DER → canonical raw key. Parameters must be absent for Ed25519 and ML-DSA (RFC 8410
 * §3, RFC 9881) and the named curve for EC (no implicit or explicit curves, RFC 5480 §2.1.1).
 */
export function publicKeyFromSpki(der: Uint8Array, expected?: SigAlgorithm): ParsedPublicKey {
  assertBytes('SPKI', der);
  const outer = new DerReader(der);
  const spki = outer.sequence();
  outer.end();
  const algId = spki.sequence();
  const key = spki.bitString();
  spki.end();
  const oid = algId.oid();
  let alg: SigAlgorithm;
  if (oid === OID.ed25519) {
    alg = 'ed25519';
  } else if (oid === OID.mlDsa65) {
    alg = 'ml-dsa-65';
  } else if (oid === OID.ecPublicKey) {
    if (algId.done) throw new CofferError('EINVAL', 'EC public key without a named curve');
    const curve = algId.oid();
    if (curve === OID.prime256v1) alg = 'ecdsa-p256';
    else if (curve === OID.secp256k1) alg = 'secp256k1';
    else throw new CofferError('EINVAL', `unsupported EC curve ${curve}`);
  } else {
    throw new CofferError('EINVAL', `unsupported public key algorithm ${oid}`);
  }
  algId.end();
  return expect({ alg, publicKey: canonical(alg, key) }, expected);
}

// ---- PEM (RFC 7468 §13) ----

const PEM_BEGIN = '-----BEGIN PUBLIC KEY-----';
const PEM_END = '-----END PUBLIC KEY-----';

export function publicKeyToPem(alg: SigAlgorithm, publicKey: Uint8Array): string {
  const base64 = Buffer.from(publicKeyToSpki(alg, publicKey)).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `${PEM_BEGIN}\n${lines.join('\n')}\n${PEM_END}\n`;
}

/**
 * One PUBLIC KEY block, nothing else but surrounding whitespace; LF or CRLF line ends; body lines
 * of at most 76 characters (RFC 7468 writes 64, MIME writers 76) and canonical base64.
 */
export function publicKeyFromPem(pem: string, expected?: SigAlgorithm): ParsedPublicKey {
  if (typeof pem !== 'string') throw new CofferError('EINVAL', 'PEM must be a string');
  const lines = pem.trim().split(/\r?\n/);
  if (lines.length < 3 || lines[0] !== PEM_BEGIN || lines[lines.length - 1] !== PEM_END) {
    throw new CofferError('EINVAL', 'PEM must be one "PUBLIC KEY" block');
  }
  const body = lines.slice(1, -1);
  if (body.some((line) => line.length === 0 || line.length > 76)) {
    throw new CofferError('EINVAL', 'PEM body lines must be 1 to 76 characters (no headers, no blank lines)');
  }
  return publicKeyFromSpki(decodeBase64(body.join(''), 'base64'), expected);
}

const base64url = (bytes: Uint8Array): string => encodeBase64(bytes, 'base64url');

// ---- JWK (RFC 7517, RFC 8037 §2, RFC 7518 §6.2.1, RFC 8812 §3.1, RFC 9964 §6 AKP) ----

const JWK_CURVE: Readonly<Record<EcAlgorithm, 'P-256' | 'secp256k1'>> = {
  'ecdsa-p256': 'P-256',
  secp256k1: 'secp256k1',
};

export function publicKeyToJwk(alg: SigAlgorithm, publicKey: Uint8Array): PublicJwk {
  const point = encodedPoint(alg, publicKey);
  if (alg === 'ed25519') return { kty: 'OKP', crv: 'Ed25519', x: base64url(point) };
  if (isEc(alg)) {
    return {
      kty: 'EC',
      crv: JWK_CURVE[alg],
      x: base64url(point.subarray(1, 33)),
      y: base64url(point.subarray(33)),
    };
  }
  // RFC 9964 §6: the AKP key type carries its algorithm; `pub` is the FIPS 204 encoded public key.
  return { kty: 'AKP', alg: 'ML-DSA-65', pub: base64url(point) };
}

function jwkMember(jwk: Record<string, unknown>, name: string, length: number): Uint8Array {
  const value = jwk[name];
  if (typeof value !== 'string') throw new CofferError('EINVAL', `JWK member '${name}' must be a string`);
  const bytes = decodeBase64(value, 'base64url', `JWK member '${name}'`);
  // RFC 7518 §6.2.1.2: coordinates are full-length, leading zeros kept.
  if (bytes.length !== length)
    throw new CofferError('EINVAL', `JWK member '${name}' must encode ${length} bytes`);
  return bytes;
}

/**
 * A public JWK → canonical raw key. Unknown members are ignored (RFC 7517 §4), but a private member
 * 'd' is refused: a secret where a public key belongs is a mistake worth stopping.
 */
export function publicKeyFromJwk(jwk: unknown, expected?: SigAlgorithm): ParsedPublicKey {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw new CofferError('EINVAL', 'JWK must be an object');
  }
  const record = jwk as Record<string, unknown>;
  if ('d' in record || 'priv' in record) {
    throw new CofferError('EINVAL', 'JWK holds a private key; pass the public JWK');
  }
  let parsed: ParsedPublicKey;
  if (record.kty === 'OKP' && record.crv === 'Ed25519') {
    parsed = { alg: 'ed25519', publicKey: canonical('ed25519', jwkMember(record, 'x', 32)) };
  } else if (record.kty === 'EC' && (record.crv === 'P-256' || record.crv === 'secp256k1')) {
    const alg: EcAlgorithm = record.crv === 'P-256' ? 'ecdsa-p256' : 'secp256k1';
    const point = concatBytes(Uint8Array.of(0x04), jwkMember(record, 'x', 32), jwkMember(record, 'y', 32));
    parsed = { alg, publicKey: canonical(alg, point) };
  } else if (record.kty === 'AKP' && record.alg === 'ML-DSA-65') {
    parsed = { alg: 'ml-dsa-65', publicKey: canonical('ml-dsa-65', jwkMember(record, 'pub', 1952)) };
  } else {
    throw new CofferError(
      'EINVAL',
      'unsupported JWK: need kty OKP/crv Ed25519, kty EC/crv P-256 or secp256k1, or kty AKP/alg ML-DSA-65',
    );
  }
  return expect(parsed, expected);
}

// ---- OpenSSH (RFC 4253 §6.6 string encoding, RFC 8709 §4, RFC 5656 §3.1) ----

const SSH_TYPE: Partial<Record<SigAlgorithm, string>> = {
  ed25519: 'ssh-ed25519',
  'ecdsa-p256': 'ecdsa-sha2-nistp256',
};

function assertComment(comment: string): void {
  // A comment runs to the end of the line, so line breaks or NUL would smuggle in a second key.
  const hasControl = [...comment].some((ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x20 || code === 0x7f;
  });
  if (hasControl) {
    throw new CofferError('EINVAL', 'OpenSSH comment must not contain control characters');
  }
}

/** The OpenSSH key type name of an algorithm ('ssh-ed25519', 'ecdsa-sha2-nistp256'); EINVAL otherwise. */
export function sshKeyType(alg: SigAlgorithm): string {
  assertOneOf('alg', alg, SIG_ALGORITHMS);
  const type = SSH_TYPE[alg];
  if (type === undefined) throw new CofferError('EINVAL', `OpenSSH has no key type for ${alg}`);
  return type;
}

/** The public key blob of the SSH wire protocol: string type ‖ [string "nistp256"] ‖ string key. */
export function publicKeyToSshBlob(alg: SigAlgorithm, publicKey: Uint8Array): Uint8Array {
  const type = sshKeyType(alg);
  const point = encodedPoint(alg, publicKey);
  const parts = [sshString(type)];
  if (alg === 'ecdsa-p256') parts.push(sshString('nistp256'));
  parts.push(sshString(point));
  return concatBytes(...parts);
}

/**
 * A public key blob → canonical raw key. The blob's type must be one Coffer supports (and, with
 * `expectedType`, equal it); the curve name must match; the key must be valid; nothing may trail.
 */
export function publicKeyFromSshBlob(
  blob: Uint8Array,
  expected?: SigAlgorithm,
  expectedType?: string,
): ParsedPublicKey {
  assertBytes('SSH key blob', blob);
  const reader = new SshReader(blob, 'OpenSSH key blob');
  const type = new TextDecoder().decode(reader.string());
  if (expectedType !== undefined && type !== expectedType) {
    throw new CofferError('EINVAL', `OpenSSH key blob does not match type '${expectedType}'`);
  }
  const alg = (Object.keys(SSH_TYPE) as SigAlgorithm[]).find((a) => SSH_TYPE[a] === type);
  if (alg === undefined) throw new CofferError('EINVAL', `unsupported OpenSSH key type '${type}'`);
  if (alg === 'ecdsa-p256' && !equalBytes(reader.string(), new TextEncoder().encode('nistp256'))) {
    throw new CofferError('EINVAL', `OpenSSH key blob does not match type '${type}'`);
  }
  const point = reader.string();
  reader.end();
  // RFC 5656 §3.1 allows compressed points, but OpenSSH itself only accepts uncompressed.
  if (alg === 'ecdsa-p256' && point.length !== 65) {
    throw new CofferError('EINVAL', 'ecdsa-sha2-nistp256 key must be an uncompressed point');
  }
  return expect({ alg, publicKey: canonical(alg, point) }, expected);
}

/** `ssh-ed25519 AAAA… comment` / `ecdsa-sha2-nistp256 AAAA… comment` (authorized_keys format). */
export function publicKeyToOpenSsh(alg: SigAlgorithm, publicKey: Uint8Array, comment = ''): string {
  const type = sshKeyType(alg);
  if (typeof comment !== 'string') throw new CofferError('EINVAL', 'comment must be a string');
  assertComment(comment);
  const base64 = encodeBase64(publicKeyToSshBlob(alg, publicKey));
  return comment === '' ? `${type} ${base64}` : `${type} ${base64} ${comment}`;
}

/**
 * One public key line (no authorized_keys options): type, base64 blob, optional comment. The blob's
 * own type (and curve) must match the line's, and the key must be valid.
 */
export function publicKeyFromOpenSsh(
  line: string,
  expected?: SigAlgorithm,
): ParsedPublicKey & { comment: string } {
  if (typeof line !== 'string') throw new CofferError('EINVAL', 'OpenSSH public key must be a string');
  const match = /^(\S+) (\S+)(?: (.*))?$/.exec(line.replace(/\r?\n$/, ''));
  if (match === null) throw new CofferError('EINVAL', 'OpenSSH public key must be "type base64 [comment]"');
  const [, type, base64, comment = ''] = match;
  assertComment(comment);
  const alg = (Object.keys(SSH_TYPE) as SigAlgorithm[]).find((a) => SSH_TYPE[a] === type);
  if (alg === undefined) throw new CofferError('EINVAL', `unsupported OpenSSH key type '${type}'`);
  const parsed = publicKeyFromSshBlob(decodeBase64(base64!, 'base64', 'OpenSSH key blob'), expected, type);
  return { ...parsed, comment };
}

// ---- one entry point for `ks.publicKey(id, format)` ----

/** The public key in the given format: raw / spki bytes, pem / openssh text, or a JWK object. */
export function exportPublicKey(
  alg: SigAlgorithm,
  publicKey: Uint8Array,
  format: PublicKeyFormat,
): Uint8Array | string | PublicJwk {
  switch (format) {
    case 'raw':
      return canonical(alg, publicKey);
    case 'spki':
      return publicKeyToSpki(alg, publicKey);
    case 'pem':
      return publicKeyToPem(alg, publicKey);
    case 'jwk':
      return publicKeyToJwk(alg, publicKey);
    case 'openssh':
      return publicKeyToOpenSsh(alg, publicKey);
    default:
      throw new CofferError('EINVAL', `format must be one of ${PUBLIC_KEY_FORMATS.join(', ')}`);
  }
}
