// Message digests by name for the prehashed-signing and wallet formats (SPEC §14.2): SHA-256,
// SHA-384, SHA-512 through OpenSSL, Keccak-256 (the pre-FIPS-202 padding Ethereum uses, not
// SHA3-256) through @noble/hashes because no Node exposes it. One table of lengths, so a digest can
// be checked against the hash it claims to be.
import { createHash } from 'node:crypto';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { assertBytes, assertOneOf } from './bytes.js';

export type DigestAlgorithm = 'sha256' | 'sha384' | 'sha512' | 'keccak256';
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = Object.freeze([
  'sha256',
  'sha384',
  'sha512',
  'keccak256',
]);

export const DIGEST_LENGTHS: Readonly<Record<DigestAlgorithm, number>> = Object.freeze({
  sha256: 32,
  sha384: 48,
  sha512: 64,
  keccak256: 32,
});

/** The digest of `data` under the named hash. */
export function digest(alg: DigestAlgorithm, data: Uint8Array): Uint8Array {
  assertOneOf('hash', alg, DIGEST_ALGORITHMS);
  assertBytes('data', data);
  if (alg === 'keccak256') return keccak_256(data);
  return new Uint8Array(createHash(alg).update(data).digest());
}

/** SHA-256 twice (Bitcoin's hash256: message digests, Base58Check checksums). */
export function doubleSha256(data: Uint8Array): Uint8Array {
  return digest('sha256', digest('sha256', data));
}
