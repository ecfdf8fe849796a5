// SLIP-10 (satoshilabs/slips slip-0010.md): BIP-32-style derivation for other curves. Ed25519
// supports hardened indices only, and its private key is the 32-byte RFC 8032 seed (IL itself);
// secp256k1 matches BIP-32 except that an invalid IL is retried (I = HMAC(c, 0x01 ‖ IR ‖ ser32(i)))
// instead of being skipped, and an invalid master IL is re-hashed — both ~2^-127 events.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { CofferError } from '../errors.js';
import { assertBytes, assertOneOf, concatBytes, wipe } from './bytes.js';
import { nativeSupport } from './features.js';
import { isHardened, parsePath, ser32 } from './hd-path.js';
import { addScalars, fingerprintOf, isValidScalar, publicKeyOf } from './hd-secp256k1.js';
import { hmac } from './mac.js';

export type Slip10Curve = 'ed25519' | 'secp256k1';
export const SLIP10_CURVES: readonly Slip10Curve[] = ['ed25519', 'secp256k1'];

const MASTER_KEYS: Readonly<Record<Slip10Curve, Uint8Array>> = Object.freeze({
  ed25519: new TextEncoder().encode('ed25519 seed'),
  secp256k1: new TextEncoder().encode('Bitcoin seed'),
});

export interface Slip10Key {
  /** 32 bytes: the Ed25519 seed (RFC 8032) or the secp256k1 scalar. Wipe after use. */
  privateKey: Uint8Array;
  /** Ed25519: 32 bytes (the spec's vectors print it with a 0x00 prefix); secp256k1: 33 compressed. */
  publicKey: Uint8Array;
  chainCode: Uint8Array;
  depth: number;
  /** The last child index of the path (0 for the master key). */
  index: number;
  /** First 4 bytes of HASH160 of the parent's public key (0x00-prefixed for Ed25519), or 0 at the master. */
  parentFingerprint: number;
}

/** RFC 8032 public key for a 32-byte seed: OpenSSL when available (SPEC §1), noble otherwise. */
function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  if (!nativeSupport.ed25519) return ed25519.getPublicKey(seed);
  const der = concatBytes(Uint8Array.from(Buffer.from('302e020100300506032b657004220420', 'hex')), seed);
  try {
    const jwk = createPublicKey(
      createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }),
    ).export({
      format: 'jwk',
    });
    return Uint8Array.from(Buffer.from(jwk.x as string, 'base64url'));
  } finally {
    wipe(der);
  }
}

function publicKeyFor(curve: Slip10Curve, privateKey: Uint8Array): Uint8Array {
  return curve === 'ed25519' ? ed25519PublicKey(privateKey) : publicKeyOf(privateKey);
}

/** SLIP-10 fingerprints hash the 33-byte form: 0x00 ‖ key for Ed25519. */
function fingerprintFor(curve: Slip10Curve, publicKey: Uint8Array): number {
  return fingerprintOf(curve === 'ed25519' ? concatBytes(Uint8Array.of(0), publicKey) : publicKey);
}

function master(curve: Slip10Curve, seed: Uint8Array): { key: Uint8Array; chainCode: Uint8Array } {
  let I = hmac('sha512', MASTER_KEYS[curve], seed);
  // secp256k1: "if IL is 0 or ≥ n, set S := I and repeat"; Ed25519 accepts every IL.
  while (curve === 'secp256k1' && !isValidScalar(I.subarray(0, 32))) {
    const next = hmac('sha512', MASTER_KEYS[curve], I);
    wipe(I);
    I = next;
  }
  const out = { key: I.slice(0, 32), chainCode: I.slice(32) };
  wipe(I);
  return out;
}

function child(
  curve: Slip10Curve,
  parent: { key: Uint8Array; chainCode: Uint8Array; publicKey: Uint8Array },
  index: number,
): { key: Uint8Array; chainCode: Uint8Array } {
  let data =
    isHardened(index) || curve === 'ed25519'
      ? concatBytes(Uint8Array.of(0), parent.key, ser32(index))
      : concatBytes(parent.publicKey, ser32(index));
  for (;;) {
    const I = hmac('sha512', parent.chainCode, data);
    wipe(data);
    const IL = I.subarray(0, 32);
    const IR = I.subarray(32);
    if (curve === 'ed25519') {
      const out = { key: IL.slice(), chainCode: IR.slice() };
      wipe(I);
      return out;
    }
    const key = isValidScalar(IL) ? addScalars(IL, parent.key) : undefined;
    if (key) {
      const out = { key, chainCode: IR.slice() };
      wipe(I);
      return out;
    }
    data = concatBytes(Uint8Array.of(1), IR, ser32(index));
    wipe(I);
  }
}

/**
 * The SLIP-10 key at `path` (e.g. `m/44'/501'/0'/0'`) for a 16–64-byte seed. EINVAL for a
 * non-hardened index on Ed25519, a relative path, or a bad curve / seed. Intermediates are wiped.
 */
export function slip10(curve: Slip10Curve, seed: Uint8Array, path: string): Slip10Key {
  assertOneOf('curve', curve, SLIP10_CURVES);
  assertBytes('seed', seed);
  if (seed.length < 16 || seed.length > 64) throw new CofferError('EINVAL', 'seed must be 16 to 64 bytes');
  const { absolute, indices } = parsePath(path);
  if (!absolute) throw new CofferError('EINVAL', "a SLIP-10 path starts at the master key: 'm/…'");
  if (curve === 'ed25519' && !indices.every(isHardened)) {
    throw new CofferError(
      'EINVAL',
      "SLIP-10 ed25519 derives hardened children only (mark every index with ')",
    );
  }
  let node = master(curve, seed);
  let publicKey = publicKeyFor(curve, node.key);
  let parentFingerprint = 0;
  for (const index of indices) {
    const next = child(curve, { ...node, publicKey }, index);
    parentFingerprint = fingerprintFor(curve, publicKey);
    wipe(node.key, node.chainCode);
    node = next;
    publicKey = publicKeyFor(curve, node.key);
  }
  return {
    privateKey: node.key,
    publicKey,
    chainCode: node.chainCode,
    depth: indices.length,
    index: indices.at(-1) ?? 0,
    parentFingerprint,
  };
}
