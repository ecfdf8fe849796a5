// Helpers the format compositions share (SPEC §14.15.4): a keystore key's algorithm and raw public
// key read through the operations surface, and signers bound to one key for the pure encoders of
// src/format/ — so every format works the same in the process, through the agent and the daemon.
import type { KeyOperations } from '../core/surface.js';
import type { KeyInfo, SignatureAlgorithm } from '../core/types.js';
import type { DigestAlgorithm } from '../crypto/hash.js';
import { CofferError } from '../errors.js';

export interface SigningKey {
  info: KeyInfo;
  alg: SignatureAlgorithm;
  /** The primary version's raw public key (SPEC §1.B.1). */
  publicKey: Uint8Array;
  version: number;
}

const SIGNATURE_ALGORITHMS = ['ed25519', 'ecdsa-p256', 'secp256k1', 'ml-dsa-65'];

/** The key, checked to be a signature key of one of `allowed` (EPERM naming the algorithm otherwise). */
export async function signingKey(
  ops: KeyOperations,
  id: string,
  allowed: readonly SignatureAlgorithm[],
  what: string,
): Promise<SigningKey> {
  const info = await ops.getKey(id);
  if (
    !SIGNATURE_ALGORITHMS.includes(info.algorithm) ||
    !allowed.includes(info.algorithm as SignatureAlgorithm)
  ) {
    throw new CofferError(
      'EPERM',
      `key ${id} is ${info.algorithm}: ${what} needs ${allowed.length === 1 ? (/^[aeiou]/.test(allowed[0]!) ? 'an' : 'a') : 'one of'} ${allowed.join(', ')} key${allowed.length === 1 ? '' : 's'}`,
    );
  }
  const publicKey = (await ops.publicKey(id, 'raw')) as Uint8Array;
  return { info, alg: info.algorithm as SignatureAlgorithm, publicKey, version: info.primaryVersion };
}

/** A signer for the pure encoders: the keystore signs the message with the key's primary version. */
export function messageSigner(
  ops: KeyOperations,
  key: SigningKey,
): (message: Uint8Array) => Promise<Uint8Array> {
  return async (message) => {
    const { signature, version } = await ops.sign(key.info.id, message);
    if (version !== key.version) {
      // Rotated between reading the public key and signing: the output would name the wrong key.
      throw new CofferError('ECONFLICT', `key ${key.info.id} was rotated while signing: try again`);
    }
    return signature;
  };
}

/** A digest signer (r ‖ s ‖ v) for wallet encoders: secp256k1, recoverable. */
export function recoverableSigner(
  ops: KeyOperations,
  key: SigningKey,
  hash: DigestAlgorithm,
): (digest: Uint8Array) => Promise<Uint8Array> {
  return async (digest) => {
    const { signature, version } = await ops.signDigest(key.info.id, digest, { hash, recoverable: true });
    if (version !== key.version)
      throw new CofferError('ECONFLICT', `key ${key.info.id} was rotated while signing: try again`);
    return signature;
  };
}
