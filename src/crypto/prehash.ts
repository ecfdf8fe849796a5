// Prehashed signing (SPEC §14.2): ECDSA over a digest the caller computed, for inputs beyond the
// keystore's 1 MiB message bound and for wallet flows (Ethereum and Bitcoin sign a Keccak-256 /
// double-SHA-256 digest, never the message). The digest is checked against the length of the hash
// it names, so a truncated or wrong-hash digest is EINVAL instead of a signature over garbage.
//
// Only ECDSA has a prehash form that every verifier accepts: ECDSA signs a hash by definition
// (FIPS 186-5 §6.4.1), so a signature over H(m) given as a digest is the very signature `sig.sign`
// makes over m. Ed25519 and ML-DSA-65 are refused on purpose: Ed25519ph (RFC 8032 §5.1, PH =
// SHA-512) and HashML-DSA (FIPS 204 §5.4) are different algorithms with their own domain separation,
// whose signatures an ordinary Ed25519 / ML-DSA verifier (OpenSSL, JOSE, X.509, SSH) rejects.
//
// node:crypto cannot sign or verify a given digest with ECDSA (it always hashes), so both run in
// @noble/curves: RFC 6979 nonces hedged with fresh randomness (§3.6), low-S for secp256k1.
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CofferError } from '../errors.js';
import { assertBytes, assertOneOf, concatBytes } from './bytes.js';
import { DIGEST_ALGORITHMS, DIGEST_LENGTHS, type DigestAlgorithm } from './hash.js';
import { SIG_ALGORITHMS, type SigAlgorithm } from './sig.js';
import { assertScalar, CURVES, convertEcPublicKey } from './sig-ecdsa.js';

export type PrehashAlgorithm = 'ecdsa-p256' | 'secp256k1';
export const PREHASH_ALGORITHMS: readonly PrehashAlgorithm[] = Object.freeze(['ecdsa-p256', 'secp256k1']);

export interface DigestSignOptions {
  /** secp256k1 only: return r ‖ s ‖ v (65 bytes, v ∈ {0, 1, 2, 3}) so the key can be recovered. */
  recoverable?: boolean;
}

const NOBLE = { 'ecdsa-p256': p256, secp256k1 } as const;

const REFUSED: Readonly<Record<string, string>> = {
  ed25519:
    'ed25519 cannot sign a digest: Ed25519ph (RFC 8032 §5.1) is a different algorithm that ordinary Ed25519 verifiers reject; sign the message itself (up to 1 MiB), or use an ECDSA key',
  'ml-dsa-65':
    'ml-dsa-65 cannot sign a digest: HashML-DSA (FIPS 204 §5.4) is a different algorithm that pure ML-DSA verifiers (JOSE, X.509, OpenSSL) reject; sign the message itself (up to 1 MiB)',
};

function assertPrehashAlg(alg: unknown): asserts alg is PrehashAlgorithm {
  assertOneOf('alg', alg, SIG_ALGORITHMS);
  const refusal = REFUSED[alg];
  if (refusal !== undefined) throw new CofferError('EINVAL', refusal);
}

/** EINVAL unless `digest` has exactly the length of the hash it names. */
export function assertDigest(hash: unknown, digest: unknown): asserts digest is Uint8Array {
  assertOneOf('hash', hash, DIGEST_ALGORITHMS);
  assertBytes('digest', digest);
  const expected = DIGEST_LENGTHS[hash as DigestAlgorithm];
  if (digest.length !== expected) {
    throw new CofferError('EINVAL', `a ${hash} digest is ${expected} bytes, got ${digest.length}`);
  }
}

function readOptions(alg: PrehashAlgorithm, options: unknown): boolean {
  if (options === undefined) return false;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CofferError('EINVAL', 'options must be an object');
  }
  for (const name of Object.keys(options)) {
    if (name !== 'recoverable') throw new CofferError('EINVAL', `unknown option '${name}'`);
  }
  const recoverable = (options as DigestSignOptions).recoverable;
  if (recoverable === undefined) return false;
  if (typeof recoverable !== 'boolean')
    throw new CofferError('EINVAL', 'options.recoverable must be a boolean');
  if (recoverable && alg !== 'secp256k1') {
    throw new CofferError('EINVAL', `recoverable signatures are defined for secp256k1 only, not ${alg}`);
  }
  return recoverable;
}

/**
 * ECDSA signature over `digest` (the output of `hash`): r ‖ s (64 bytes), or r ‖ s ‖ v (65) with
 * `recoverable`. A digest longer than the curve order is truncated to its leftmost 256 bits, as
 * ECDSA specifies (FIPS 186-5 §6.4.1, step 2), so P-256 with SHA-384 / SHA-512 works as in OpenSSL.
 */
export function signDigest(
  alg: SigAlgorithm,
  secretKey: Uint8Array,
  hash: DigestAlgorithm,
  digest: Uint8Array,
  options?: DigestSignOptions,
): Uint8Array {
  assertPrehashAlg(alg);
  assertBytes('secretKey', secretKey, 32);
  assertDigest(hash, digest);
  const recoverable = readOptions(alg, options);
  assertScalar(alg, secretKey);
  const lowS = CURVES[alg].lowS;
  if (!recoverable) return NOBLE[alg].sign(digest, secretKey, { prehash: false, lowS, extraEntropy: true });
  const recovered = secp256k1.sign(digest, secretKey, {
    prehash: false,
    lowS: true,
    format: 'recovered',
    extraEntropy: true,
  });
  // noble's layout is v ‖ r ‖ s; the wallet convention (and sig.signRecoverable's) is r ‖ s ‖ v.
  return concatBytes(recovered.subarray(1, 65), recovered.subarray(0, 1));
}

/**
 * true iff `signature` (r ‖ s, 64 bytes) is valid for `digest` under `publicKey`; false for every bad
 * signature (and high-S on secp256k1), EINVAL for bad arguments — the contract of `sig.verify`.
 */
export function verifyDigest(
  alg: SigAlgorithm,
  publicKey: Uint8Array,
  hash: DigestAlgorithm,
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  assertPrehashAlg(alg);
  assertBytes('publicKey', publicKey, 33, 65);
  assertDigest(hash, digest);
  assertBytes('signature', signature);
  convertEcPublicKey(alg, publicKey, false);
  if (signature.length !== 64) return false;
  try {
    return NOBLE[alg].verify(signature, digest, publicKey, { prehash: false, lowS: CURVES[alg].lowS });
  } catch {
    return false;
  }
}

/**
 * The 33-byte compressed secp256k1 key that made a recoverable signature (r ‖ s ‖ v) over `digest`.
 * EINVAL for malformed arguments or v > 3; EBADMSG for high-S or when no key recovers.
 */
export function recoverDigestPublicKey(
  alg: 'secp256k1',
  hash: DigestAlgorithm,
  digest: Uint8Array,
  signature: Uint8Array,
): Uint8Array {
  assertOneOf('alg', alg, ['secp256k1'] as const);
  assertDigest(hash, digest);
  assertBytes('signature', signature, 65);
  const v = signature[64]!;
  if (v > 3) throw new CofferError('EINVAL', 'recovery id (last signature byte) must be 0, 1, 2 or 3');
  const s = BigInt(`0x${Buffer.from(signature.subarray(32, 64)).toString('hex')}`);
  if (s > CURVES.secp256k1.halfOrder) throw new CofferError('EBADMSG', 'secp256k1 signature is not low-S');
  try {
    const nobleLayout = concatBytes(Uint8Array.of(v), signature.subarray(0, 64));
    return secp256k1.recoverPublicKey(nobleLayout, digest, { prehash: false });
  } catch {
    throw new CofferError('EBADMSG', 'no public key recovers from this signature and digest');
  }
}
