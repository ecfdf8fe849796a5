// The shape every signature implementation (native node:crypto or @noble) has, so `sig.ts` can pick
// one per algorithm at load and the tests can drive both paths with the same inputs. Internal.
import type { KeyObject } from 'node:crypto';

/**
 * Preconditions (checked by `sig.ts` before any call): every argument is a Uint8Array of the
 * algorithm's length, the context (if any) is at most 255 bytes. Backends check what only they can:
 * scalar ranges, point encodings.
 */
export interface SigBackend {
  readonly implementation: string;
  /** Canonical public key for a secret key; EINVAL for an out-of-range secret. */
  publicKey(secretKey: Uint8Array): Uint8Array;
  sign(secretKey: Uint8Array, message: Uint8Array, context?: Uint8Array): Uint8Array;
  /** false for any bad signature; EINVAL only for a malformed public key. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context?: Uint8Array): boolean;
}

/** A prepared native private key and the public key that goes with it (cached together). */
export interface PreparedSecret {
  readonly key: KeyObject;
  readonly publicKey: Uint8Array;
}

/** A Buffer view of bytes without copying, for node:crypto calls whose typings ask for Buffer. */
export function nodeView(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
