// HMAC (RFC 2104, FIPS 198-1) over SHA-256 and SHA-512 through OpenSSL: SPEC §1 `mac.hmac`, used
// for `hmac-sha256` keys and by protocols built on HMAC (HKDF callers, BIP-32 / SLIP-10 chains).
// verifyHmac compares in constant time so a forger learns nothing from how long a rejection takes.
import { createHmac } from 'node:crypto';
import { CofferError } from '../errors.js';
import { assertBytes, assertOneOf, equalBytes } from './bytes.js';
import { keyInput } from './held-keys.js';

export type HmacHash = 'sha256' | 'sha512';
export const HMAC_HASHES: readonly HmacHash[] = ['sha256', 'sha512'];
/** Tag length in bytes: the full digest; truncated tags are not produced or accepted. */
export const HMAC_LENGTH: Readonly<Record<HmacHash, number>> = Object.freeze({ sha256: 32, sha512: 64 });

function validate(hash: unknown, key: unknown, message: unknown): asserts hash is HmacHash {
  assertOneOf('hash', hash, HMAC_HASHES);
  assertBytes('key', key);
  // RFC 2104 allows any key length, but an empty key is always a caller bug (an unset secret), and
  // protocols that use short constant keys (BIP-32's "Bitcoin seed", 12 bytes) still pass.
  if (key.length === 0) throw new CofferError('EINVAL', 'key must not be empty');
  assertBytes('message', message);
}

function compute(hash: HmacHash, key: Uint8Array, message: Uint8Array): Uint8Array {
  const digest = createHmac(hash, keyInput(key)).update(message).digest();
  // Copy out of the Buffer so callers never hold a view into memory Node may share or reuse.
  const tag = new Uint8Array(digest);
  digest.fill(0);
  return tag;
}

/** HMAC-`hash`(key, message): the full-length tag (32 bytes for sha256, 64 for sha512). */
export function hmac(hash: HmacHash, key: Uint8Array, message: Uint8Array): Uint8Array {
  validate(hash, key, message);
  return compute(hash, key, message);
}

/**
 * True iff `tag` is the full-length HMAC of `message` under `key`. A wrong tag, including one of the
 * wrong length, returns false and never throws; only arguments of the wrong type or an unknown hash
 * are EINVAL. Truncated tags are refused (false) on purpose: Coffer never emits them.
 */
export function verifyHmac(hash: HmacHash, key: Uint8Array, message: Uint8Array, tag: Uint8Array): boolean {
  validate(hash, key, message);
  assertBytes('tag', tag);
  const expected = compute(hash, key, message);
  try {
    // The length is public (fixed per hash), so rejecting on it first leaks nothing.
    return equalBytes(expected, tag);
  } finally {
    expected.fill(0);
  }
}
