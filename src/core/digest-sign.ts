// Prehashed signing with keystore keys (SPEC §14.2): the caller hashed the data itself (inputs beyond
// the 1 MiB message bound, wallet flows) and hands in the digest, whose length must be its hash's.
// ECDSA keys only: Ed25519 and ML-DSA-65 would need their own prehash variants, which ordinary
// verifiers reject (crypto/prehash.ts says why). The key's state and uses are checked as for `sign`.

import type { DigestAlgorithm } from '../crypto/hash.js';
import {
  assertDigest,
  type DigestSignOptions,
  PREHASH_ALGORITHMS,
  signDigest as signDigestWith,
} from '../crypto/prehash.js';
import { CofferError } from '../errors.js';
import { protectVersion } from './lifecycle.js';
import type { Session } from './session.js';

export interface SignDigestOptions extends DigestSignOptions {
  /** The hash that made the digest: sha256, sha384, sha512 or keccak256. */
  hash: DigestAlgorithm;
}

export async function signDigest(
  s: Session,
  id: string,
  digest: unknown,
  options: SignDigestOptions,
): Promise<{ signature: Uint8Array; version: number }> {
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'options must be an object with the hash');
  assertDigest(options.hash, digest);
  const { info } = await s.loadKey(id);
  const v = protectVersion(info, 'sign', s.now());
  if (!(PREHASH_ALGORITHMS as readonly string[]).includes(info.algorithm)) {
    throw new CofferError(
      info.algorithm === 'ed25519' || info.algorithm === 'ml-dsa-65' ? 'EINVAL' : 'EPERM',
      info.algorithm === 'ed25519' || info.algorithm === 'ml-dsa-65'
        ? `key ${id} is ${info.algorithm}, which cannot sign a digest (its prehash variant is another algorithm that ordinary verifiers reject): sign the message itself, or use an ECDSA key`
        : `key ${id} (${info.algorithm}) is not a signing key`,
    );
  }
  const secret = await s.secret(info, v.version);
  const signature = signDigestWith(
    info.algorithm as 'ecdsa-p256' | 'secp256k1',
    secret,
    options.hash,
    digest,
    options.recoverable === undefined ? undefined : { recoverable: options.recoverable },
  );
  s.usage.count(id, v.version);
  s.auditOperation('op.sign', id, v.version);
  return { signature, version: v.version };
}
