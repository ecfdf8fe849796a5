// One entry point per direction for keys that come from outside (SPEC §14.3–14.4): `parsePublicKey`
// for trust anchors and verification keys (PEM/SPKI, JWK, OpenSSH line, raw bytes with a named
// algorithm) and `parsePrivateKey` for imports into non-exportable keys (PKCS#8 PEM/DER, encrypted
// PKCS#8, SEC 1, JWK, OpenSSH). The format is recognised from the input itself — a PEM label, the
// "openssh-key-v1" magic, a JSON object, a DER SEQUENCE — never guessed by trying parsers in turn,
// so an error names what was wrong with the format the input claims to be.
import { assertOneOf, wipe } from '../crypto/bytes.js';
import { SIG_ALGORITHMS, SIG_LENGTHS, type SigAlgorithm } from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { DerReader, TAG } from './asn1.js';
import { privateKeyFromOpenSsh, privateKeyFromOpenSshBlob } from './openssh-private-key.js';
import { pemLabel } from './pem.js';
import { privateKeyFromEncryptedPem, privateKeyFromEncryptedPkcs8 } from './pkcs8-encrypted.js';
import {
  type ImportAlgorithm,
  type ParsedPrivateKey,
  privateKeyFromJwk,
  privateKeyFromPem,
  privateKeyFromPkcs8,
  privateKeyFromSec1,
} from './private-key.js';
import {
  type ParsedPublicKey,
  publicKeyFromJwk,
  publicKeyFromOpenSsh,
  publicKeyFromPem,
  publicKeyFromSpki,
  publicKeyToSpki,
} from './public-key.js';

/** Largest key input accepted by the entry points (text or bytes). */
export const MAX_KEY_INPUT = 64 * 1024;

export type KeyInput = string | Uint8Array | Record<string, unknown>;

export interface ParsePublicKeyOptions {
  /** Required for raw bytes (they carry no algorithm); otherwise the parsed algorithm must equal it. */
  alg?: SigAlgorithm;
}

function size(input: unknown): void {
  const length = typeof input === 'string' || input instanceof Uint8Array ? input.length : 0;
  if (length > MAX_KEY_INPUT) throw new CofferError('E2BIG', `key input over ${MAX_KEY_INPUT} bytes`);
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CofferError('EINVAL', 'key input looks like JSON but does not parse');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CofferError('EINVAL', 'a JWK must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/**
 * A verification key from: a "PUBLIC KEY" PEM, an OpenSSH public key line, a JWK (object or JSON
 * text), SPKI DER bytes, or raw key bytes with `alg`. A private key given here is EINVAL.
 */
export function parsePublicKey(input: KeyInput, options: ParsePublicKeyOptions = {}): ParsedPublicKey {
  size(input);
  const expected = options.alg;
  if (expected !== undefined) assertOneOf('alg', expected, SIG_ALGORITHMS);
  if (typeof input === 'string') {
    const text = input.trim();
    const label = pemLabel(text);
    if (label !== undefined) {
      if (label !== 'PUBLIC KEY') {
        throw new CofferError('EINVAL', `expected a "PUBLIC KEY" PEM block, got "${label}"`);
      }
      return publicKeyFromPem(text, expected);
    }
    if (text.startsWith('{')) return publicKeyFromJwk(parseJsonObject(text), expected);
    if (/^(ssh-|ecdsa-sha2-)/.test(text)) {
      const { alg, publicKey } = publicKeyFromOpenSsh(text, expected);
      return { alg, publicKey };
    }
    throw new CofferError('EINVAL', 'unrecognised public key text: need PEM, an OpenSSH line or a JWK');
  }
  if (input instanceof Uint8Array) {
    // Raw keys have the algorithm's lengths (32 / 33 / 65 / 1952), which no SPKI of it has.
    if (expected !== undefined && SIG_LENGTHS[expected].publicKeyAccepted.includes(input.length)) {
      return publicKeyFromSpki(publicKeyToSpki(expected, input), expected);
    }
    if (input[0] === 0x30) return publicKeyFromSpki(input, expected);
    throw new CofferError(
      'EINVAL',
      'public key bytes must be SPKI DER, or a raw key of the algorithm named by alg',
    );
  }
  if (typeof input === 'object' && input !== null) return publicKeyFromJwk(input, expected);
  throw new CofferError('EINVAL', 'public key must be a string, bytes or a JWK object');
}

export interface ParsePrivateKeyOptions {
  /** For encrypted PKCS#8 and encrypted OpenSSH keys. */
  passphrase?: string | Uint8Array;
  /** The parsed algorithm must equal it. */
  alg?: ImportAlgorithm;
}

const OPENSSH_MAGIC = 'openssh-key-v1\0';

/**
 * A private key from: PEM ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH
 * PRIVATE KEY"), a private JWK (object or JSON text), or DER / binary bytes (PKCS#8, encrypted
 * PKCS#8 — told apart by their structure —, or the openssh-key-v1 blob). The caller wipes
 * `secretKey` once it is wrapped.
 */
export function parsePrivateKey(input: KeyInput, options: ParsePrivateKeyOptions = {}): ParsedPrivateKey {
  size(input);
  const { passphrase, alg } = options;
  if (typeof input === 'string') {
    const text = input.trim();
    const label = pemLabel(text);
    switch (label) {
      case 'PRIVATE KEY':
      case 'EC PRIVATE KEY':
        return privateKeyFromPem(text, alg);
      case 'ENCRYPTED PRIVATE KEY':
        if (passphrase === undefined)
          throw new CofferError('EINVAL', 'the key is encrypted: a passphrase is needed');
        return privateKeyFromEncryptedPem(text, passphrase, alg);
      case 'OPENSSH PRIVATE KEY':
        return expectAlg(privateKeyFromOpenSsh(text, passphrase), alg);
      case undefined:
        if (text.startsWith('{')) return privateKeyFromJwk(parseJsonObject(text), alg);
        throw new CofferError('EINVAL', 'unrecognised private key text: need PEM or a JWK');
      default:
        throw new CofferError('EINVAL', `unsupported PEM block "${label}" for a private key`);
    }
  }
  if (input instanceof Uint8Array) {
    if (new TextDecoder().decode(input.subarray(0, OPENSSH_MAGIC.length)) === OPENSSH_MAGIC) {
      return expectAlg(privateKeyFromOpenSshBlob(input, passphrase), alg);
    }
    // EncryptedPrivateKeyInfo is SEQUENCE { SEQUENCE algId, … }; PKCS#8 SEQUENCE { INTEGER, SEQUENCE
    // algId, … }; SEC 1 SEQUENCE { INTEGER 1, OCTET STRING, … }.
    const body = new DerReader(input).sequence();
    if (body.peekTag() === TAG.SEQUENCE) {
      if (passphrase === undefined)
        throw new CofferError('EINVAL', 'the key is encrypted: a passphrase is needed');
      return privateKeyFromEncryptedPkcs8(input, passphrase, alg);
    }
    body.read(TAG.INTEGER);
    return body.peekTag() === TAG.OCTET_STRING
      ? privateKeyFromSec1(input, alg)
      : privateKeyFromPkcs8(input, alg);
  }
  if (typeof input === 'object' && input !== null) return privateKeyFromJwk(input, alg);
  throw new CofferError('EINVAL', 'private key must be a string, bytes or a JWK object');
}

function expectAlg<T extends ParsedPrivateKey>(parsed: T, alg: ImportAlgorithm | undefined): T {
  if (alg !== undefined && parsed.alg !== alg) {
    wipe(parsed.secretKey);
    throw new CofferError('EINVAL', `expected a ${alg} key, got ${parsed.alg}`);
  }
  return parsed;
}
