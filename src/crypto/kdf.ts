// The `kdf` namespace of coffer/crypto (SPEC §1): HKDF (RFC 5869) over SHA-256, SHA-512 and
// SHA3-256, plus the passphrase KDFs re-exported from passphrase-kdf.ts. HKDF runs in OpenSSL
// (hkdfSync); only if this Node's OpenSSL lacks SHA3 does the whole HKDF switch to @noble/hashes, so
// cryptoImplementations().hkdf names exactly one implementation and is always true.
import { hkdfSync } from 'node:crypto';
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { CofferError } from '../errors.js';
import { assertBytes, assertOneOf } from './bytes.js';
import { nativeSupport } from './features.js';
import { keyInput } from './held-keys.js';

export type HkdfHash = 'sha256' | 'sha512' | 'sha3-256';
export const HKDF_HASHES: readonly HkdfHash[] = ['sha256', 'sha512', 'sha3-256'];
/** HashLen in bytes; RFC 5869 §2.3 caps the output at 255·HashLen. */
export const HKDF_HASH_LENGTH: Readonly<Record<HkdfHash, number>> = Object.freeze({
  sha256: 32,
  sha512: 64,
  'sha3-256': 32,
});
/**
 * Longest `info` accepted. RFC 5869 sets no bound, but OpenSSL's HKDF refuses more than 1024 bytes;
 * the same bound applies on every path so a call never works on one Node and fails on another.
 */
export const HKDF_MAX_INFO_LENGTH = 1024;

const NATIVE_HKDF = nativeSupport.sha3;
const NOBLE_HASH = { sha256, sha512, 'sha3-256': sha3_256 } as const;

function validate(
  hash: unknown,
  ikm: unknown,
  salt: unknown,
  info: unknown,
  length: unknown,
): asserts hash is HkdfHash {
  assertOneOf('hash', hash, HKDF_HASHES);
  assertBytes('ikm', ikm);
  assertBytes('salt', salt);
  assertBytes('info', info);
  if (info.length > HKDF_MAX_INFO_LENGTH) {
    throw new CofferError('EINVAL', `info must be at most ${HKDF_MAX_INFO_LENGTH} bytes`);
  }
  const max = 255 * HKDF_HASH_LENGTH[hash];
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 1 || length > max) {
    throw new CofferError('EINVAL', `HKDF-${hash} length must be an integer from 1 to ${max} (255·HashLen)`);
  }
}

/**
 * HKDF-Extract-then-Expand (RFC 5869 §2): `length` bytes from `ikm`. An empty `salt` means HashLen zero
 * bytes (§2.2). Arguments are checked before any work: unknown hash, non-bytes, `info` over 1024
 * bytes, or a length outside 1..255·HashLen → EINVAL.
 */
export function hkdf(
  hash: HkdfHash,
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  validate(hash, ikm, salt, info, length);
  return NATIVE_HKDF ? _hkdfNative(hash, ikm, salt, info, length) : _hkdfNoble(hash, ikm, salt, info, length);
}

/** OpenSSL path (inputs already validated). */
export function _hkdfNative(
  hash: HkdfHash,
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  // hkdfSync returns a fresh ArrayBuffer, so the view owns its memory outright.
  return new Uint8Array(hkdfSync(hash, keyInput(ikm), salt, info, length));
}

/** Pure-JS path (inputs already validated); exported so tests run it on every Node. */
export function _hkdfNoble(
  hash: HkdfHash,
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  return nobleHkdf(NOBLE_HASH[hash], ikm, salt, info, length);
}

export {
  type Argon2idOptions,
  argon2id,
  assertPassphrase,
  DEFAULT_PASSPHRASE_KDF,
  derivePassphraseKey,
  derivePassphraseKeyAsync,
  PASSPHRASE_KDF_ALGORITHMS,
  PASSPHRASE_KDF_LIMITS,
  type Passphrase,
  type PassphraseKdfAlgorithm,
  type PassphraseKdfParams,
  type Pbkdf2Options,
  parsePassphraseKdfParams,
  pbkdf2Sha256,
  type ScryptOptions,
  scrypt,
} from './passphrase-kdf.js';
