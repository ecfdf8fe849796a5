// Secret key material per algorithm (SPEC §3): generation, public key derivation, and wrapping under
// the key-wrap key with associated data that binds app, purpose, key id, version and algorithm.
import * as kem from '../crypto/kem.js';
import { type Rng, systemRng } from '../crypto/rng.js';
import * as sig from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { textEncoder } from './encoding.js';
import { openWithKey, sealWithKey } from './master-key.js';
import type { KeyAlgorithm, SignatureAlgorithm } from './types.js';

export const SIGNATURE_ALGORITHMS: readonly KeyAlgorithm[] = [
  'ed25519',
  'ecdsa-p256',
  'secp256k1',
  'ml-dsa-65',
];

export function isSignatureAlgorithm(alg: KeyAlgorithm): alg is SignatureAlgorithm {
  return SIGNATURE_ALGORITHMS.includes(alg);
}

export function hasPublicKey(alg: KeyAlgorithm): boolean {
  return isSignatureAlgorithm(alg) || alg === 'x-wing';
}

export interface Material {
  secret: Uint8Array;
  publicKey?: Uint8Array;
}

/** New secret material for a key version, drawn from the keystore RNG (seeded only in test mode). */
export function generateMaterial(alg: KeyAlgorithm, rng: Rng): Material {
  // On the OS CSPRNG, signing pairs come from OpenSSL's generator with no seed import (issue 14:
  // the import was most of a key's creation cost); a caller's own rng keeps the seeded path.
  if (rng === systemRng && isSignatureAlgorithm(alg)) {
    const { secretKey, publicKey } = sig.keygen(alg);
    return { secret: secretKey, publicKey };
  }
  const seed = rng.randomBytes(32);
  if (isSignatureAlgorithm(alg)) {
    const { secretKey, publicKey } = sig.keygen(alg, seed);
    if (secretKey !== seed) seed.fill(0);
    return { secret: secretKey, publicKey };
  }
  if (alg === 'x-wing') {
    const { secretKey, publicKey } = kem.keygen('x-wing', seed);
    return { secret: secretKey, publicKey };
  }
  return { secret: seed };
}

export interface WrapContext {
  app: string;
  purpose: string;
  keyId: string;
  version: number;
  algorithm: KeyAlgorithm;
}

export function wrapAad(c: WrapContext): Uint8Array {
  return textEncoder.encode(
    `coffer:key:v1|app=${c.app}|purpose=${c.purpose}|key=${c.keyId}|v=${c.version}|alg=${c.algorithm}`,
  );
}

export function wrapSecret(
  keyWrapKey: Uint8Array,
  secret: Uint8Array,
  context: WrapContext,
  rng: Rng,
): Uint8Array {
  return sealWithKey(keyWrapKey, secret, wrapAad(context), rng);
}

export function unwrapSecret(keyWrapKey: Uint8Array, wrapped: Uint8Array, context: WrapContext): Uint8Array {
  try {
    return openWithKey(keyWrapKey, wrapped, wrapAad(context));
  } catch (error) {
    if (error instanceof CofferError && error.code === 'EBADMSG') {
      throw new CofferError(
        'EBADMSG',
        `wrapped secret of key ${context.keyId} version ${context.version} failed authentication (tampered or moved)`,
      );
    }
    throw error;
  }
}
