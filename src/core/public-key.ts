// Public key export for `ks.publicKey(id, format)` (keystore issue): `raw`, `pem` (SPKI), `spki`
// (DER), `jwk` where a JWK is defined, and `ssh` (OpenSSH line) for the curves OpenSSH knows.
import { CofferError } from '../errors.js';
import { encodeKemPublicKeyDer, encodeKemPublicKeyPem } from '../format/kem-keys.js';
import { exportPublicKey as exportSignatureKey, publicKeyToOpenSsh } from '../format/public-key.js';
import { isSignatureAlgorithm } from './material.js';
import type { KeyAlgorithm } from './types.js';

export const PUBLIC_KEY_FORMATS = ['raw', 'pem', 'spki', 'jwk', 'ssh'] as const;
export type PublicKeyFormat = (typeof PUBLIC_KEY_FORMATS)[number];

export function exportPublicKey(
  algorithm: KeyAlgorithm,
  publicKey: Uint8Array,
  format: PublicKeyFormat,
  options: { comment?: string } = {},
): Uint8Array | string | object {
  if (!(PUBLIC_KEY_FORMATS as readonly string[]).includes(format)) {
    throw new CofferError('EINVAL', `format must be one of ${PUBLIC_KEY_FORMATS.join(', ')}`);
  }
  if (isSignatureAlgorithm(algorithm)) {
    if (format === 'ssh') return publicKeyToOpenSsh(algorithm, publicKey, options.comment ?? '');
    return exportSignatureKey(algorithm, publicKey, format);
  }
  if (algorithm === 'x-wing') {
    if (format === 'raw') return Uint8Array.from(publicKey);
    if (format === 'pem') return encodeKemPublicKeyPem('x-wing', publicKey);
    if (format === 'spki') return encodeKemPublicKeyDer('x-wing', publicKey);
    throw new CofferError('EINVAL', `x-wing public keys have no ${format} form (use raw, pem or spki)`);
  }
  throw new CofferError('EINVAL', `${algorithm} is a symmetric key: it has no public key`);
}
