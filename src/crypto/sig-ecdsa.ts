// ECDSA over P-256 and secp256k1 with SHA-256 (FIPS 186-5 §6.4, SEC 1 v2): 32-byte scalar secrets,
// 64-byte r ‖ s signatures (IEEE P1363), SEC 1 public keys. secp256k1 signatures are low-S on the
// way out and must be low-S on the way in (BIP-62/BIP-146 malleability rule); P-256 accepts both
// halves because OpenSSL and WebCrypto emit high-S half the time. Seeded keygen derives the scalar
// with HKDF (SPEC "Signatures"); recovery (Ethereum-style) is noble-only since OpenSSL has none.
import {
  createPublicKey,
  hkdfSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import type { ECDSA } from '@noble/curves/abstract/weierstrass.js';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CofferError } from '../errors.js';
import { asUint8, concatBytes, fromHex, toHex, wipe } from './bytes.js';
import { importQuietly } from './held-keys.js';
import { KeyCache, SECRET_CACHE_BYTES } from './key-cache.js';
import { ecPublicPoint, importEcScalar } from './key-import.js';
import { nodeView, type SigBackend } from './sig-backend.js';

/** A prepared EC private key; its public key is derived on first use where the import did not give it. */
interface PreparedEcSecret {
  readonly key: KeyObject;
  publicKey: Uint8Array | undefined;
}

export type EcAlgorithm = 'ecdsa-p256' | 'secp256k1';

interface Curve {
  readonly alg: EcAlgorithm;
  readonly noble: ECDSA;
  readonly order: bigint;
  readonly halfOrder: bigint;
  readonly orderBytes: Uint8Array;
  /** RFC 5915 ECPrivateKey inside RFC 5208 PKCS#8, without the optional public key (OpenSSL derives it). */
  readonly pkcs8Prefix: Uint8Array;
  /** RFC 5480 SubjectPublicKeyInfo prefix for a 65-byte uncompressed point. */
  readonly spkiPrefix65: Uint8Array;
  /** secp256k1: produce and require s ≤ n/2. */
  readonly lowS: boolean;
  /** The public key form `publicKey()` returns: 33-byte compressed or 65-byte uncompressed. */
  readonly compressed: boolean;
}

function curve(alg: EcAlgorithm, noble: ECDSA, algIdHex: string, lowS: boolean, compressed: boolean): Curve {
  const order = noble.Point.Fn.ORDER;
  const algId = fromHex(algIdHex);
  const seq = (len: number): string => (len < 128 ? len.toString(16).padStart(2, '0') : '');
  // The prefixes are fixed DER built once here; `src/format/public-key.ts` encodes the same
  // structures generically and its tests check that both agree with OpenSSL's own exports.
  const ecPrivate = `30250201010420`;
  const inner = `020100${toHex(algId)}0427${ecPrivate}`;
  const pkcs8 = `30${seq(inner.length / 2 + 32)}${inner}`;
  const spkiBody = `${toHex(algId)}03${seq(66)}00`;
  const spki = `30${seq(spkiBody.length / 2 + 65)}${spkiBody}`;
  return Object.freeze({
    alg,
    noble,
    order,
    halfOrder: order >> 1n,
    orderBytes: fromHex(order.toString(16).padStart(64, '0')),
    pkcs8Prefix: fromHex(pkcs8),
    spkiPrefix65: fromHex(spki),
    lowS,
    compressed,
  });
}

export const CURVES: Readonly<Record<EcAlgorithm, Curve>> = Object.freeze({
  // AlgorithmIdentifier { id-ecPublicKey, prime256v1 } and { id-ecPublicKey, secp256k1 }.
  'ecdsa-p256': curve('ecdsa-p256', p256, '301306072a8648ce3d020106082a8648ce3d030107', false, false),
  secp256k1: curve('secp256k1', secp256k1, '301006072a8648ce3d020106052b8104000a', true, true),
});

const NAMED_CURVE: Readonly<Record<EcAlgorithm, 'prime256v1' | 'secp256k1'>> = {
  'ecdsa-p256': 'prime256v1',
  secp256k1: 'secp256k1',
};

/** EINVAL unless 1 ≤ d < n (big-endian bytes compared against the group order). */
export function assertScalar(alg: EcAlgorithm, secretKey: Uint8Array): void {
  const n = CURVES[alg].orderBytes;
  let zero = true;
  let less = false;
  let decided = false;
  for (let i = 0; i < 32; i++) {
    const a = secretKey[i]!;
    const b = n[i]!;
    if (a !== 0) zero = false;
    if (!decided && a !== b) {
      less = a < b;
      decided = true;
    }
  }
  if (zero || !less) {
    throw new CofferError('EINVAL', `${alg} secret key must be a scalar from 1 to n-1`);
  }
}

/** True when `candidate` is a usable scalar, without throwing. */
function isScalar(alg: EcAlgorithm, candidate: Uint8Array): boolean {
  try {
    assertScalar(alg, candidate);
    return true;
  } catch {
    return false;
  }
}

/**
 * Seeded keygen (SPEC "Signatures"): candidate_i = HKDF-SHA256(ikm = seed, salt = empty,
 * info = "coffer/sig/v1/keygen/" ‖ alg ‖ 0x00 ‖ i, L = 32) for i = 0, 1, …; the first candidate with
 * 1 ≤ c < n is the secret scalar. Rejection keeps the scalar exactly uniform (no modular bias);
 * a second round happens with probability ~2^-32 for P-256 and ~2^-128 for secp256k1.
 */
export function deriveScalar(alg: EcAlgorithm, seed: Uint8Array): Uint8Array {
  const label = new TextEncoder().encode(`coffer/sig/v1/keygen/${alg}`);
  for (let i = 0; i < 256; i++) {
    const info = concatBytes(label, Uint8Array.of(0, i));
    const candidate = new Uint8Array(hkdfSync('sha256', seed, new Uint8Array(0), info, 32));
    if (isScalar(alg, candidate)) return candidate;
    wipe(candidate);
  }
  // 256 rejections in a row has probability below 2^-8000: reaching here means a broken HKDF.
  throw new CofferError('EINTERNAL', `${alg}: no valid scalar derived from the seed`);
}

/**
 * Decodes and validates a SEC 1 public key (0x04 ‖ x ‖ y, or 0x02/0x03 ‖ x) and returns it in the
 * requested form; EINVAL for anything else, including OpenSSL's "hybrid" 0x06/0x07 form and points
 * off the curve. Shared by both paths and by `format/public-key.ts`.
 */
export function convertEcPublicKey(alg: EcAlgorithm, publicKey: Uint8Array, compressed: boolean): Uint8Array {
  const prefix = publicKey[0];
  const wellFormed =
    (publicKey.length === 65 && prefix === 0x04) ||
    (publicKey.length === 33 && (prefix === 0x02 || prefix === 0x03));
  if (!wellFormed) {
    throw new CofferError(
      'EINVAL',
      `${alg} public key must be a 65-byte uncompressed or 33-byte compressed point`,
    );
  }
  try {
    return CURVES[alg].noble.Point.fromBytes(publicKey).toBytes(compressed);
  } catch {
    throw new CofferError('EINVAL', `${alg} public key is not a point on the curve`);
  }
}

/** s as a bigint (public data, so a hex round trip is fine). */
function sOf(signature: Uint8Array): bigint {
  return BigInt(`0x${toHex(signature.subarray(32, 64))}`);
}

/**
 * r ‖ s (32 bytes each) from the DER ECDSA-Sig-Value OpenSSL just produced (SEQUENCE of two positive
 * INTEGERs, each at most 33 bytes with a leading zero; lengths below 128, so short-form). Anything else
 * is an OpenSSL fault, not input, and is refused rather than guessed at.
 */
export function derToP1363(der: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) throw badDer();
  let at = 2;
  for (const offset of [0, 32]) {
    if (der[at] !== 0x02) throw badDer();
    const length = der[at + 1]!;
    const start = at + 2;
    const end = start + length;
    if (length < 1 || length > 33 || end > der.length) throw badDer();
    let first = start;
    while (first < end - 1 && der[first] === 0) first++;
    if (end - first > 32) throw badDer();
    out.set(der.subarray(first, end), offset + 32 - (end - first));
    at = end;
  }
  if (at !== der.length) throw badDer();
  return out;
}

const badDer = () => new CofferError('EINTERNAL', 'OpenSSL returned a malformed ECDSA signature');

/**
 * The DER ECDSA-Sig-Value of r ‖ s (64 bytes): each half as a minimal positive INTEGER (leading zero
 * bytes dropped, one 0x00 added when the top bit is set). The inverse of derToP1363, for verifying: a
 * KeyObject given as it is spares Node 24 the two thrown brand checks an options object costs it
 * (crypto/held-keys.ts). OpenSSL still checks 1 ≤ r, s < n itself.
 */
export function p1363ToDer(signature: Uint8Array): Uint8Array {
  if (signature.length !== 64) throw new CofferError('EINVAL', 'an ECDSA signature r ‖ s is 64 bytes');
  const integer = (half: Uint8Array): number[] => {
    let first = 0;
    while (first < half.length - 1 && half[first] === 0) first++;
    const body = Array.from(half.subarray(first));
    if (body[0]! & 0x80) body.unshift(0);
    return [0x02, body.length, ...body];
  };
  const content = [...integer(signature.subarray(0, 32)), ...integer(signature.subarray(32))];
  return Uint8Array.from([0x30, content.length, ...content]);
}

/** Rewrites s ↦ n − s in place when s > n/2: (r, n − s) is the other valid signature (low-S form). */
function normalizeLowS(c: Curve, signature: Uint8Array): Uint8Array {
  const s = sOf(signature);
  if (s > c.halfOrder) signature.set(fromHex((c.order - s).toString(16).padStart(64, '0')), 32);
  return signature;
}

function nativeBackend(alg: EcAlgorithm): SigBackend {
  const c = CURVES[alg];
  const secrets = new KeyCache<PreparedEcSecret>(`${alg}/secret`, {
    maxBytes: SECRET_CACHE_BYTES,
    // Measured RSS of one prepared P-256 key (KeyObject, its EVP_PKEY, public point): ≈ 4.0 KiB.
    entryBytes: 4096,
  });
  const publics = new KeyCache<KeyObject>(`${alg}/public`, 256);
  const encodePublic = (uncompressed: Uint8Array): Uint8Array =>
    c.compressed
      ? concatBytes(Uint8Array.of(0x02 | (uncompressed[64]! & 1)), uncompressed.subarray(1, 33))
      : uncompressed;
  const prepareSecret = (secretKey: Uint8Array): PreparedEcSecret =>
    secrets.get(secretKey, () => {
      assertScalar(alg, secretKey);
      // The fastest import OpenSSL offers (src/crypto/key-import.ts): what a key outside the cache costs.
      // Signing needs no public point; where the import did not compute one, publicKey() does.
      const { key, uncompressed } = importEcScalar(NAMED_CURVE[alg], secretKey);
      return { key, publicKey: uncompressed && encodePublic(uncompressed) };
    });
  const preparePublic = (publicKey: Uint8Array): KeyObject =>
    publics.get(publicKey, () => {
      // OpenSSL checks the curve equation but also takes the hybrid form; the shared check is stricter.
      // Importing the uncompressed form spares OpenSSL its own square root at import.
      const point = convertEcPublicKey(alg, publicKey, false);
      const der = nodeView(concatBytes(c.spkiPrefix65, point));
      const key = importQuietly(() => createPublicKey({ key: der, format: 'der', type: 'spki' }));
      if (key.asymmetricKeyDetails?.namedCurve !== NAMED_CURVE[alg]) {
        throw new CofferError('EINTERNAL', `${alg}: OpenSSL imported the key on another curve`);
      }
      return key;
    });
  return Object.freeze({
    implementation: 'node:crypto',
    publicKey(secretKey: Uint8Array): Uint8Array {
      const prepared = prepareSecret(secretKey);
      prepared.publicKey ??= encodePublic(ecPublicPoint(NAMED_CURVE[alg], secretKey));
      return prepared.publicKey.slice();
    },
    sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
      const key = prepareSecret(secretKey).key;
      // Node 24 signs at half the rate when asked for ieee-p1363 (measured: `npm run bench --only
      // keyimport`, hot sign), so the DER signature OpenSSL makes is converted here.
      const signature = derToP1363(asUint8(nodeSign('sha256', message, key)));
      return c.lowS ? normalizeLowS(c, signature) : signature;
    },
    verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
      const key = preparePublic(publicKey);
      if (signature.length !== 64) return false;
      if (c.lowS && sOf(signature) > c.halfOrder) return false;
      try {
        return nodeVerify('sha256', message, key, p1363ToDer(signature));
      } catch {
        return false;
      }
    },
  });
}

function nobleBackend(alg: EcAlgorithm): SigBackend {
  const c = CURVES[alg];
  return Object.freeze({
    implementation: '@noble/curves',
    publicKey(secretKey: Uint8Array): Uint8Array {
      assertScalar(alg, secretKey);
      return c.noble.getPublicKey(secretKey, c.compressed);
    },
    sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
      assertScalar(alg, secretKey);
      // RFC 6979 nonces hedged with fresh randomness (§3.6), against fault and RNG-failure attacks.
      return c.noble.sign(message, secretKey, { prehash: true, lowS: c.lowS, extraEntropy: true });
    },
    verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
      convertEcPublicKey(alg, publicKey, false);
      if (signature.length !== 64) return false;
      try {
        return c.noble.verify(signature, message, publicKey, { prehash: true, lowS: c.lowS });
      } catch {
        return false;
      }
    },
  });
}

export const ecdsaP256Native = nativeBackend('ecdsa-p256');
export const ecdsaP256Noble = nobleBackend('ecdsa-p256');
export const secp256k1Native = nativeBackend('secp256k1');
export const secp256k1Noble = nobleBackend('secp256k1');

/**
 * Recoverable secp256k1 signature over a 32-byte hash the caller computed (e.g. keccak-256 for
 * Ethereum): r ‖ s ‖ v, 65 bytes, low-S, v ∈ {0, 1, 2, 3} (not Ethereum's 27/28 offset).
 */
export function signRecoverableSecp256k1(secretKey: Uint8Array, messageHash: Uint8Array): Uint8Array {
  assertScalar('secp256k1', secretKey);
  const recovered = secp256k1.sign(messageHash, secretKey, {
    prehash: false,
    lowS: true,
    format: 'recovered',
    extraEntropy: true,
  });
  // noble's 'recovered' layout is v ‖ r ‖ s; the wallet convention is r ‖ s ‖ v.
  const out = new Uint8Array(65);
  out.set(recovered.subarray(1, 65), 0);
  out[64] = recovered[0]!;
  return out;
}

/** The 33-byte compressed key that produced a recoverable signature; EBADMSG if none can. */
export function recoverSecp256k1(messageHash: Uint8Array, signature: Uint8Array): Uint8Array {
  const v = signature[64]!;
  if (v > 3) throw new CofferError('EINVAL', 'recovery id (last signature byte) must be 0, 1, 2 or 3');
  if (sOf(signature) > CURVES.secp256k1.halfOrder) {
    throw new CofferError('EBADMSG', 'secp256k1 signature is not low-S');
  }
  try {
    const nobleLayout = concatBytes(Uint8Array.of(v), signature.subarray(0, 64));
    return secp256k1.recoverPublicKey(nobleLayout, messageHash, { prehash: false });
  } catch {
    throw new CofferError('EBADMSG', 'no public key recovers from this signature and hash');
  }
}
