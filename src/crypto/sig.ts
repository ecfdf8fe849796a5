// Public signature API of `coffer/crypto` (SPEC §1, SPEC "Signatures"): Ed25519, ECDSA P-256,
// secp256k1 and ML-DSA-65 behind one synchronous keygen / publicKey / sign / verify surface, plus
// secp256k1 public key recovery for wallets. Every argument is validated here before any work
// (EINVAL); the implementation per algorithm is chosen once, at load, from `nativeSupport`.
//
// Error contract for verify: it returns false for every bad signature (wrong length, out-of-range
// values, high-S on secp256k1, wrong key, wrong message, wrong context) and never throws for one.
// It throws EINVAL only when the caller passed something that is not a valid argument at all: an
// unknown alg, a non-Uint8Array, bad options, or a malformed public key (wrong length, bad SEC 1
// prefix, not a curve point, non-canonical Ed25519 encoding) — a caller bug, not a forgery.
import { createECDH, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { CofferError } from '../errors.js';
import { assertBytes, assertOneOf, wipe } from './bytes.js';
import { nativeSupport } from './features.js';
import { clearKeyCaches } from './key-cache.js';
import { systemRng } from './rng.js';
import type { SigBackend } from './sig-backend.js';
import {
  deriveScalar,
  ecdsaP256Native,
  ecdsaP256Noble,
  recoverSecp256k1,
  secp256k1Native,
  secp256k1Noble,
  signRecoverableSecp256k1,
} from './sig-ecdsa.js';
import { ed25519Native, ed25519Noble } from './sig-ed25519.js';
import { mlDsa65Native, mlDsa65Noble } from './sig-mldsa.js';

export type SigAlgorithm = 'ed25519' | 'ecdsa-p256' | 'secp256k1' | 'ml-dsa-65';
export const SIG_ALGORITHMS: readonly SigAlgorithm[] = Object.freeze([
  'ed25519',
  'ecdsa-p256',
  'secp256k1',
  'ml-dsa-65',
]);

export interface SigLengths {
  /** keygen seed. */
  readonly seed: number;
  readonly secretKey: number;
  /** The form keygen / publicKey return. */
  readonly publicKey: number;
  /** Every length verify accepts for a public key. */
  readonly publicKeyAccepted: readonly number[];
  readonly signature: number;
}

export const SIG_LENGTHS: Readonly<Record<SigAlgorithm, SigLengths>> = Object.freeze({
  ed25519: { seed: 32, secretKey: 32, publicKey: 32, publicKeyAccepted: [32], signature: 64 },
  'ecdsa-p256': { seed: 32, secretKey: 32, publicKey: 65, publicKeyAccepted: [65, 33], signature: 64 },
  secp256k1: { seed: 32, secretKey: 32, publicKey: 33, publicKeyAccepted: [33, 65], signature: 64 },
  'ml-dsa-65': { seed: 32, secretKey: 32, publicKey: 1952, publicKeyAccepted: [1952], signature: 3309 },
});

/** FIPS 204 §5.2: the context string is at most 255 bytes. */
export const MAX_CONTEXT_LENGTH = 255;

export interface SigKeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface SignOptions {
  /** ml-dsa-65 only: FIPS 204 context string, 0–255 bytes (empty = none). */
  context?: Uint8Array;
}
export type VerifyOptions = SignOptions;

const BACKENDS: Readonly<Record<SigAlgorithm, SigBackend>> = Object.freeze({
  ed25519: nativeSupport.ed25519 ? ed25519Native : ed25519Noble,
  'ecdsa-p256': nativeSupport.p256 ? ecdsaP256Native : ecdsaP256Noble,
  secp256k1: nativeSupport.secp256k1 ? secp256k1Native : secp256k1Noble,
  'ml-dsa-65': nativeSupport.mlDsa65 ? mlDsa65Native : mlDsa65Noble,
});

function assertAlg(alg: unknown): asserts alg is SigAlgorithm {
  assertOneOf('alg', alg, SIG_ALGORITHMS);
}

/** Validates options and returns the context, if one applies. */
function readContext(alg: SigAlgorithm, options: unknown): Uint8Array | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CofferError('EINVAL', 'options must be an object');
  }
  for (const name of Object.keys(options)) {
    // An unknown key is most likely a typo (`ctx` for `context`): signing without the intended
    // context would be a silent downgrade, so it is an error.
    if (name !== 'context') throw new CofferError('EINVAL', `unknown option '${name}'`);
  }
  const context = (options as SignOptions).context;
  if (context === undefined) return undefined;
  assertBytes('options.context', context);
  if (alg !== 'ml-dsa-65') {
    throw new CofferError('EINVAL', `options.context is only defined for ml-dsa-65, not ${alg}`);
  }
  if (context.length > MAX_CONTEXT_LENGTH) {
    throw new CofferError('EINVAL', `options.context must be at most ${MAX_CONTEXT_LENGTH} bytes`);
  }
  return context;
}

/**
 * Derives the secret key from a seed: Ed25519 and ML-DSA-65 use the seed itself (RFC 8032 §5.1.5,
 * FIPS 204 ξ); the ECDSA curves map it to a scalar with HKDF and rejection (see deriveScalar).
 */
function secretFromSeed(alg: SigAlgorithm, seed: Uint8Array): Uint8Array {
  if (alg === 'ecdsa-p256' || alg === 'secp256k1') return deriveScalar(alg, seed);
  return seed.slice();
}

/**
 * A fresh pair made by OpenSSL's own generator, with both halves read off the generated key: no
 * import of the secret back into OpenSSL, which cost several key generations (issue 14). The secret
 * has the form a seeded keygen produces — the 32-byte Ed25519 seed, or a uniform ECDSA scalar in
 * [1, n-1] left-padded to 32 bytes — so the rest of the keystore cannot tell the two apart.
 */
function nativeFreshPair(alg: SigAlgorithm): SigKeyPair | undefined {
  if (alg === 'ed25519' && nativeSupport.ed25519) {
    // Encoded by the generator itself: exporting a freshly generated Ed25519 KeyObject as JWK can
    // deadlock Node 20 (a KeyGenJob freed by GC inside the export waits on a mutex it holds);
    // keygen.test.ts runs enough fresh pairs to catch it.
    // (@types/node has no overload for a JWK encoding here, though Node supports it.)
    const generate = generateKeyPairSync as unknown as (
      type: 'ed25519',
      options: { privateKeyEncoding: { format: 'jwk' } },
    ) => { privateKey: JsonWebKey };
    const jwk = generate('ed25519', { privateKeyEncoding: { format: 'jwk' } }).privateKey;
    const d = Buffer.from(jwk.d ?? '', 'base64url');
    const x = Buffer.from(jwk.x ?? '', 'base64url');
    if (d.length !== 32 || x.length !== 32)
      throw new CofferError('EINTERNAL', 'ed25519: OpenSSL exported a key of the wrong size');
    // Own copies: a small Buffer.from lives in Node's shared pool, which a secret must not.
    const pair = { secretKey: Uint8Array.from(d), publicKey: Uint8Array.from(x) };
    d.fill(0);
    return pair;
  }
  const curve = alg === 'ecdsa-p256' && nativeSupport.p256 ? 'prime256v1' : undefined;
  const k1 = alg === 'secp256k1' && nativeSupport.secp256k1 ? 'secp256k1' : undefined;
  const name = curve ?? k1;
  if (name === undefined) return undefined;
  const ecdh = createECDH(name);
  ecdh.generateKeys();
  const scalar = ecdh.getPrivateKey();
  // getPrivateKey drops leading zero bytes; the stored form is always 32 bytes.
  const secretKey = new Uint8Array(32);
  secretKey.set(scalar, 32 - scalar.length);
  scalar.fill(0);
  const publicKey = Uint8Array.from(
    ecdh.getPublicKey(null, alg === 'secp256k1' ? 'compressed' : 'uncompressed'),
  );
  return { secretKey, publicKey };
}

/**
 * A new key pair; with a 32-byte `seed` the result is fully deterministic. Without one, the native
 * generator makes the pair when there is one (nativeFreshPair), else a random seed goes the seeded way.
 */
export function keygen(alg: SigAlgorithm, seed?: Uint8Array): SigKeyPair {
  assertAlg(alg);
  if (seed === undefined) {
    const fresh = nativeFreshPair(alg);
    if (fresh) return fresh;
  }
  if (seed !== undefined) assertBytes('seed', seed, SIG_LENGTHS[alg].seed);
  const source = seed ?? systemRng.randomBytes(SIG_LENGTHS[alg].seed);
  let secretKey: Uint8Array;
  try {
    secretKey = secretFromSeed(alg, source);
  } finally {
    if (seed === undefined) wipe(source);
  }
  return { secretKey, publicKey: BACKENDS[alg].publicKey(secretKey) };
}

/** The public key of a secret key (33-byte compressed for secp256k1, 65-byte for P-256). */
export function publicKey(alg: SigAlgorithm, secretKey: Uint8Array): Uint8Array {
  assertAlg(alg);
  assertBytes('secretKey', secretKey, SIG_LENGTHS[alg].secretKey);
  return BACKENDS[alg].publicKey(secretKey);
}

/** Signs `message` (any length; the keystore bounds it). ML-DSA-65 signatures are randomized. */
export function sign(
  alg: SigAlgorithm,
  secretKey: Uint8Array,
  message: Uint8Array,
  options?: SignOptions,
): Uint8Array {
  assertAlg(alg);
  assertBytes('secretKey', secretKey, SIG_LENGTHS[alg].secretKey);
  assertBytes('message', message);
  const context = readContext(alg, options);
  return BACKENDS[alg].sign(secretKey, message, context);
}

/** true iff `signature` is valid; false for any bad signature (see the error contract above). */
export function verify(
  alg: SigAlgorithm,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  options?: VerifyOptions,
): boolean {
  assertAlg(alg);
  assertBytes('publicKey', publicKey, ...SIG_LENGTHS[alg].publicKeyAccepted);
  assertBytes('message', message);
  assertBytes('signature', signature);
  const context = readContext(alg, options);
  if (signature.length !== SIG_LENGTHS[alg].signature) return false;
  return BACKENDS[alg].verify(publicKey, message, signature, context);
}

/**
 * secp256k1 signature over a 32-byte hash the caller computed (keccak-256 for Ethereum):
 * r ‖ s ‖ v (65 bytes), low-S, v ∈ {0, 1} in practice (2, 3 only when r ≥ n, ~2^-127).
 */
export function signRecoverable(
  alg: 'secp256k1',
  secretKey: Uint8Array,
  messageHash: Uint8Array,
): Uint8Array {
  assertOneOf('alg', alg, ['secp256k1'] as const);
  assertBytes('secretKey', secretKey, 32);
  assertBytes('messageHash', messageHash, 32);
  return signRecoverableSecp256k1(secretKey, messageHash);
}

/**
 * The 33-byte compressed public key that made a recoverable signature over `messageHash`.
 * EINVAL for wrong lengths or v > 3; EBADMSG when the signature recovers no key (or is high-S).
 * Recovery always yields *some* key for a well-formed signature: compare it with the expected one.
 */
export function recoverPublicKey(
  alg: 'secp256k1',
  messageHash: Uint8Array,
  signature: Uint8Array,
): Uint8Array {
  assertOneOf('alg', alg, ['secp256k1'] as const);
  assertBytes('messageHash', messageHash, 32);
  assertBytes('signature', signature, 65);
  return recoverSecp256k1(messageHash, signature);
}

/**
 * Drops every cached prepared key (native KeyObjects, expanded ML-DSA keys). The caches keep secret
 * material alive after callers wipe their copies; the keystore calls this on lock and close.
 */
export function clearKeyCache(): void {
  clearKeyCaches();
}
