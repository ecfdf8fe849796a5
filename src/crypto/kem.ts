// Public KEM surface of `coffer/crypto` (SPEC §1): X-Wing and ML-KEM-768 over Uint8Array. Secret
// keys are seeds (32 bytes for X-Wing, d‖z 64 bytes for ML-KEM-768); expanded keys live only in a
// bounded in-memory cache. `seed` / `eseed` make keygen and encapsulation deterministic (vectors,
// deterministic test mode). Every argument is checked before any work: bad input is EINVAL, while a
// wrong-but-well-formed ciphertext decapsulates to the implicit-rejection secret (FIPS 203 §6.3).
import { assertBytes, assertOneOf, assertOptionalBytes } from './bytes.js';
import { _clearMlKemCache, ML_KEM_768, mlkemDecapsulate, mlkemEncapsulate, mlkemPublicKey } from './mlkem.js';
import { systemRng } from './rng.js';
import { _clearXWingCache, X_WING, xwingDecapsulate, xwingEncapsulate, xwingPublicKey } from './xwing.js';

export type KemAlgorithm = 'x-wing' | 'ml-kem-768';
export const KEM_ALGORITHMS: readonly KemAlgorithm[] = Object.freeze(['x-wing', 'ml-kem-768'] as const);

export interface KemSizes {
  /** The secret key is the seed: X-Wing sk (32), ML-KEM-768 d‖z (64). */
  readonly secretKey: number;
  readonly publicKey: number;
  readonly ciphertext: number;
  readonly sharedSecret: number;
  /** Encapsulation seed: X-Wing m ‖ ek_X (64), ML-KEM-768 m (32). */
  readonly eseed: number;
}

export const KEM_SIZES: Readonly<Record<KemAlgorithm, KemSizes>> = Object.freeze({
  'x-wing': Object.freeze({
    secretKey: X_WING.seed,
    publicKey: X_WING.publicKey,
    ciphertext: X_WING.ciphertext,
    sharedSecret: X_WING.sharedSecret,
    eseed: X_WING.eseed,
  }),
  'ml-kem-768': Object.freeze({
    secretKey: ML_KEM_768.seed,
    publicKey: ML_KEM_768.publicKey,
    ciphertext: ML_KEM_768.ciphertext,
    sharedSecret: ML_KEM_768.sharedSecret,
    eseed: ML_KEM_768.message,
  }),
});

export interface KemKeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface KemEncapsulation {
  ciphertext: Uint8Array;
  sharedSecret: Uint8Array;
}

/**
 * Generates a key pair. With `seed` (the secret key itself) the result is deterministic, which is
 * also how a stored secret key gives back its public key.
 */
export function keygen(alg: KemAlgorithm, seed?: Uint8Array): KemKeyPair {
  assertOneOf('alg', alg, KEM_ALGORITHMS);
  const length = KEM_SIZES[alg].secretKey;
  assertOptionalBytes('seed', seed, length);
  const secretKey = seed === undefined ? systemRng.randomBytes(length) : Uint8Array.from(seed);
  const publicKey = alg === 'x-wing' ? xwingPublicKey(secretKey) : mlkemPublicKey(secretKey);
  return { secretKey, publicKey };
}

/**
 * Encapsulates a fresh shared secret to `publicKey`. A malformed key (wrong length, or an ML-KEM
 * part failing the FIPS 203 §7.2 modulus check) is EINVAL. `eseed` derandomises the operation and
 * must be uniformly random and never reused outside tests.
 */
export function encapsulate(alg: KemAlgorithm, publicKey: Uint8Array, eseed?: Uint8Array): KemEncapsulation {
  assertOneOf('alg', alg, KEM_ALGORITHMS);
  const sizes = KEM_SIZES[alg];
  assertBytes('publicKey', publicKey, sizes.publicKey);
  assertOptionalBytes('eseed', eseed, sizes.eseed);
  return alg === 'x-wing' ? xwingEncapsulate(publicKey, eseed) : mlkemEncapsulate(publicKey, eseed);
}

/** Recovers the 32-byte shared secret. A ciphertext of the wrong length is EINVAL; a forged one is not. */
export function decapsulate(alg: KemAlgorithm, secretKey: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  assertOneOf('alg', alg, KEM_ALGORITHMS);
  const sizes = KEM_SIZES[alg];
  assertBytes('secretKey', secretKey, sizes.secretKey);
  assertBytes('ciphertext', ciphertext, sizes.ciphertext);
  return alg === 'x-wing' ? xwingDecapsulate(secretKey, ciphertext) : mlkemDecapsulate(secretKey, ciphertext);
}

/**
 * Forgets every cached expanded key, wiping the JS-held ones (best effort: OpenSSL KeyObjects are
 * released only when collected). The keystore calls this when it locks or closes.
 */
export function clearCache(): void {
  _clearXWingCache();
  _clearMlKemCache();
}
