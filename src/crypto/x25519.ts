// X25519 (RFC 7748 §5) through OpenSSL, as X-Wing uses it. X-Wing applies no public-key or output
// check (draft-connolly-cfrg-xwing-kem §4/§5: X25519(k, u) is the plain RFC 7748 function), so a
// low-order u yields the all-zero value the function defines instead of an error; the hybrid stays
// secure through ML-KEM-768. OpenSSL refuses to output zero, so those u are recognised up front and
// answered without running the ladder on the secret scalar at all (no timing signal to give away).
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { CofferError } from '../errors.js';
import { importQuietly } from './held-keys.js';

export const X25519_LENGTH = 32;

// Private scalars go in as RFC 8410 PKCS#8 DER (a Buffer we can wipe, unlike a JWK string). Public
// values go in and out as JWK: OpenSSL 3.0's DER decoder/encoder costs 20–60 µs per key, the JWK
// path (raw key bytes) a few µs, and public keys are not secret.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * u-coordinates (little-endian, top bit already cleared) that the clamped ladder sends to zero: the
 * points of order dividing 8 on the curve and 4 on its twist (0, 1, p-1 and the two order-8 roots),
 * plus the non-canonical encodings p and p+1 of 0 and 1. Same list as libsodium's blocklist.
 */
const LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((hex) => Buffer.from(hex, 'hex'));

function checkLength(name: string, value: Uint8Array): void {
  if (value.length !== X25519_LENGTH) {
    throw new CofferError('EINVAL', `${name} must be ${X25519_LENGTH} bytes, got ${value.length}`);
  }
}

/** True when X25519(k, u) is all-zero for every clamped scalar k (RFC 7748 §6.1's "check"). */
export function isLowOrderPoint(u: Uint8Array): boolean {
  checkLength('X25519 u-coordinate', u);
  let found = 0;
  for (const point of LOW_ORDER) {
    let diff = (u[31]! & 0x7f) ^ point[31]!; // RFC 7748 §5: the top bit of u is ignored
    for (let i = 0; i < 31; i++) diff |= u[i]! ^ point[i]!;
    found |= diff === 0 ? 1 : 0;
  }
  return found === 1;
}

/** Imports a 32-byte scalar as an OpenSSL X25519 private key (clamping happens inside OpenSSL). */
export function x25519PrivateKey(scalar: Uint8Array): KeyObject {
  checkLength('X25519 private key', scalar);
  const der = Buffer.concat([PKCS8_PREFIX, scalar]);
  try {
    return importQuietly(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
  } finally {
    der.fill(0);
  }
}

/** Imports any 32-byte u-coordinate (OpenSSL masks the top bit and reduces mod p, as RFC 7748 asks). */
export function x25519PublicKey(u: Uint8Array): KeyObject {
  checkLength('X25519 public key', u);
  const x = Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64url');
  return importQuietly(() => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' }));
}

function publicBytes(publicKey: KeyObject): Uint8Array {
  const { x } = publicKey.export({ format: 'jwk' });
  if (typeof x !== 'string') throw new CofferError('EINTERNAL', 'OpenSSL exported no X25519 public key');
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

/** X25519(k, 9): the public key of a private KeyObject. */
export function x25519PublicFromPrivate(privateKey: KeyObject): Uint8Array {
  return publicBytes(createPublicKey(privateKey));
}

/** A fresh ephemeral key pair generated inside OpenSSL (the scalar never exists as JS bytes). */
export function x25519Ephemeral(): { privateKey: KeyObject; publicKey: Uint8Array } {
  const pair = generateKeyPairSync('x25519');
  return { privateKey: pair.privateKey, publicKey: publicBytes(pair.publicKey) };
}

/** X25519(k, 9) for a raw 32-byte scalar. */
export function x25519Base(scalar: Uint8Array): Uint8Array {
  return x25519PublicFromPrivate(x25519PrivateKey(scalar));
}

/**
 * X25519(k, u) = the u-coordinate of k·u, including the all-zero result for low-order u. `peer` may
 * be a prepared KeyObject for `u` (a cached public key); `u` is still what decides low order.
 */
export function x25519(scalar: Uint8Array | KeyObject, u: Uint8Array, peer?: KeyObject): Uint8Array {
  if (isLowOrderPoint(u)) {
    if (scalar instanceof Uint8Array) checkLength('X25519 private key', scalar);
    return new Uint8Array(X25519_LENGTH);
  }
  const privateKey = scalar instanceof Uint8Array ? x25519PrivateKey(scalar) : scalar;
  let shared: Buffer | undefined;
  try {
    shared = diffieHellman({ privateKey, publicKey: peer ?? x25519PublicKey(u) });
  } catch (error) {
    // Unreachable for non-low-order u with a clamped scalar; never echo key bytes.
    throw new CofferError('EINTERNAL', 'X25519 failed in OpenSSL', { cause: error });
  }
  const out = new Uint8Array(shared);
  shared.fill(0);
  return out;
}
