// secp256k1 arithmetic for hierarchical derivation (BIP-32 CKDpriv / CKDpub, SLIP-10): scalar
// addition mod n, point(k) through OpenSSL where the running Node has the curve, point addition and
// point validation through @noble/curves (node:crypto has no point addition), and HASH160 key ids.
// BigInt scalar arithmetic is not constant time; SPEC §1 / the README say what JS cannot promise.
import { createECDH, createHash, getHashes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { CofferError } from '../errors.js';
import { nativeSupport } from './features.js';

const Point = secp256k1.Point;
export const CURVE_ORDER = Point.Fn.ORDER;
const NATIVE_RIPEMD = getHashes().includes('ripemd160');

export function bytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

export function bigIntTo32(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = value;
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** True iff the 32 bytes are a valid private key: 1 ≤ k < n (BIP-32 "parse256(IL) ≥ n … invalid"). */
export function isValidScalar(bytes: Uint8Array): boolean {
  if (bytes.length !== 32) return false;
  const k = bytesToBigInt(bytes);
  return k > 0n && k < CURVE_ORDER;
}

/** (a + b) mod n as 32 bytes, or undefined when the sum is 0 (BIP-32: the child key is invalid). */
export function addScalars(a: Uint8Array, b: Uint8Array): Uint8Array | undefined {
  const sum = (bytesToBigInt(a) + bytesToBigInt(b)) % CURVE_ORDER;
  return sum === 0n ? undefined : bigIntTo32(sum);
}

/** serP(point(k)): the 33-byte compressed public key of a valid scalar. */
export function publicKeyOf(secret: Uint8Array): Uint8Array {
  if (nativeSupport.secp256k1) {
    const ecdh = createECDH('secp256k1');
    ecdh.setPrivateKey(secret);
    return Uint8Array.from(ecdh.getPublicKey(null, 'compressed'));
  }
  return Point.BASE.multiply(bytesToBigInt(secret)).toBytes(true);
}

/** Throws EINVAL unless the bytes are a 33-byte compressed encoding of a curve point. */
export function assertCompressedPoint(name: string, bytes: Uint8Array): void {
  if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) {
    throw new CofferError('EINVAL', `${name} must be a 33-byte compressed secp256k1 point (prefix 02/03)`);
  }
  try {
    Point.fromBytes(bytes).assertValidity();
  } catch {
    throw new CofferError('EINVAL', `${name} is not a point on secp256k1`);
  }
}

/** serP(point(tweak) + K), or undefined at the point at infinity (BIP-32 CKDpub: invalid child). */
export function addTweakToPoint(publicKey: Uint8Array, tweak: Uint8Array): Uint8Array | undefined {
  const t = bytesToBigInt(tweak);
  const parent = Point.fromBytes(publicKey);
  // noble refuses to multiply by 0; IL = 0 is still a valid tweak (child = parent), if only in theory.
  const sum = t === 0n ? parent : Point.BASE.multiply(t).add(parent);
  if (sum.equals(Point.ZERO)) return undefined;
  return sum.toBytes(true);
}

/** HASH160 = RIPEMD-160(SHA-256(data)): BIP-32 key identifiers and fingerprints. */
export function hash160(data: Uint8Array): Uint8Array {
  const sha = createHash('sha256').update(data).digest();
  if (NATIVE_RIPEMD) return Uint8Array.from(createHash('ripemd160').update(sha).digest());
  return ripemd160(sha);
}

/** The first 32 bits of HASH160(serP(K)) as an unsigned integer (BIP-32 §Key identifiers). */
export function fingerprintOf(publicKey: Uint8Array): number {
  const id = hash160(publicKey);
  return new DataView(id.buffer, id.byteOffset, 4).getUint32(0, false);
}
