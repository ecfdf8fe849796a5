// Ed25519 (RFC 8032 §5.1, PureEdDSA, no context): the secret key is the 32-byte seed, the public key
// the 32-byte point encoding A, signatures 64 bytes R ‖ S. Native through OpenSSL: private KeyObjects
// built the fastest way (src/crypto/key-import.ts), public ones from a fixed RFC 8410 DER prefix;
// @noble/curves as the fallback and as the cross-check.

import type { KeyObject } from 'node:crypto';
import { createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { CofferError } from '../errors.js';
import { asUint8, concatBytes, fromHex } from './bytes.js';
import { importQuietly } from './held-keys.js';
import { KeyCache, SECRET_CACHE_BYTES } from './key-cache.js';
import { ed25519PublicKeyOf, importEd25519Seed } from './key-import.js';
import { nodeView, type SigBackend } from './sig-backend.js';

/** RFC 8410 §4 SubjectPublicKeyInfo with the 32-byte public key as the BIT STRING. */
const ED25519_SPKI_PREFIX = fromHex('302a300506032b6570032100');

const secrets = new KeyCache<KeyObject>('ed25519/secret', {
  maxBytes: SECRET_CACHE_BYTES,
  // Measured RSS of one prepared key (KeyObject and its EVP_PKEY): ≈ 2.7 KiB.
  entryBytes: 3072,
});
const publics = new KeyCache<KeyObject>('ed25519/public', 256);

/**
 * EINVAL unless `publicKey` is a canonical encoding of a curve point (RFC 8032 §5.1.3: y < p, and
 * x = 0 never with the sign bit set). OpenSSL imports any 32 bytes, so the check is ours, and both
 * paths share it so they agree on what "malformed" means.
 */
export function assertEd25519PublicKey(publicKey: Uint8Array): void {
  try {
    ed25519.Point.fromBytes(publicKey, false);
  } catch {
    throw new CofferError('EINVAL', 'ed25519 public key is not a valid point encoding (RFC 8032 §5.1.3)');
  }
}

function preparedSecret(seed: Uint8Array): KeyObject {
  // The fastest import OpenSSL offers (src/crypto/key-import.ts): what a key outside the cache costs.
  return secrets.get(seed, () => importEd25519Seed(seed));
}

function preparedPublic(publicKey: Uint8Array): KeyObject {
  return publics.get(publicKey, () => {
    assertEd25519PublicKey(publicKey);
    const der = nodeView(concatBytes(ED25519_SPKI_PREFIX, publicKey));
    return importQuietly(() => createPublicKey({ key: der, format: 'der', type: 'spki' }));
  });
}

export const ed25519Native: SigBackend = Object.freeze({
  implementation: 'node:crypto',
  publicKey(secretKey: Uint8Array): Uint8Array {
    // Asked for at key creation and import, not per signature: derived from the prepared key each time.
    return ed25519PublicKeyOf(preparedSecret(secretKey));
  },
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
    return asUint8(nodeSign(null, message, preparedSecret(secretKey)));
  },
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    const key = preparedPublic(publicKey);
    try {
      return nodeVerify(null, message, key, signature);
    } catch {
      return false;
    }
  },
});

export const ed25519Noble: SigBackend = Object.freeze({
  implementation: '@noble/curves',
  publicKey(secretKey: Uint8Array): Uint8Array {
    return ed25519.getPublicKey(secretKey);
  },
  // noble re-derives the expanded key per call and takes no prepared key, so there is nothing to
  // cache here; this path only runs where OpenSSL lacks Ed25519.
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
    return ed25519.sign(message, secretKey);
  },
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    assertEd25519PublicKey(publicKey);
    try {
      // zip215: false = RFC 8032 strict decoding, which is what OpenSSL and Wycheproof apply.
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
});
