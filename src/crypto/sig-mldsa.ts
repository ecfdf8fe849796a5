// ML-DSA-65 (FIPS 204): the secret key is the 32-byte keygen seed ξ (Algorithm 6), public keys are
// 1952 bytes, signatures 3309 bytes; pure ML-DSA (Algorithm 2/3) with an optional context of at
// most 255 bytes, hedged signing (rnd from the RNG, §3.4). Native through OpenSSL 3.5 on Node ≥ 24.7
// using the RFC 9881 seed-only PKCS#8 form; @noble/post-quantum where Node lacks ML-DSA, and for
// calls with a context on a Node that cannot pass one through (see features.ts).
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { asUint8, concatBytes, fromHex, wipe } from './bytes.js';
import { nativeSupport } from './features.js';
import { importQuietly } from './held-keys.js';
import { KeyCache, SECRET_CACHE_BYTES } from './key-cache.js';
import { nodeView, type PreparedSecret, type SigBackend } from './sig-backend.js';

/** RFC 9881: OneAsymmetricKey { v1, id-ml-dsa-65, OCTET STRING { [0] IMPLICIT seed } }. */
const PKCS8_SEED_PREFIX = fromHex('3034020100300b060960864801650304031204228020');
/** RFC 9881: SubjectPublicKeyInfo { id-ml-dsa-65 (no parameters), BIT STRING pk }. */
const SPKI_PREFIX = fromHex('308207b2300b0609608648016503040312038207a100');

interface NobleSecret {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

const nativeSecrets = new KeyCache<PreparedSecret>('ml-dsa-65/secret', {
  maxBytes: SECRET_CACHE_BYTES,
  // Measured RSS of one native ML-DSA-65 private KeyObject on Node 24 (expanded key and matrix): ≈ 34 KiB.
  entryBytes: 36 * 1024,
});
const nativePublics = new KeyCache<KeyObject>('ml-dsa-65/public', 256);
// The expanded 4032-byte secret is what FIPS 204 keygen costs; evicted copies are wiped.
const nobleSecrets = new KeyCache<NobleSecret>('ml-dsa-65/noble-secret', 64, (entry) =>
  wipe(entry.secretKey),
);

// Node's typings (v20) do not know the `context` signing option added for ML-DSA and Ed448.
type SignWithContext = (
  algorithm: null,
  data: Uint8Array,
  key: { key: KeyObject; context?: Uint8Array },
) => Buffer;
type VerifyWithContext = (
  algorithm: null,
  data: Uint8Array,
  key: { key: KeyObject; context?: Uint8Array },
  signature: Uint8Array,
) => boolean;
const signNative = nodeSign as unknown as SignWithContext;
const verifyNative = nodeVerify as unknown as VerifyWithContext;

function nobleSecret(seed: Uint8Array): NobleSecret {
  return nobleSecrets.get(seed, () => {
    const { secretKey, publicKey } = ml_dsa65.keygen(seed);
    return { secretKey, publicKey };
  });
}

function nativeSecret(seed: Uint8Array): PreparedSecret {
  return nativeSecrets.get(seed, () => {
    const der = concatBytes(PKCS8_SEED_PREFIX, seed);
    try {
      const key = importQuietly(() => createPrivateKey({ key: nodeView(der), format: 'der', type: 'pkcs8' }));
      const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
      return { key, publicKey: asUint8(spki.subarray(SPKI_PREFIX.length)) };
    } finally {
      wipe(der);
    }
  });
}

function nativePublic(publicKey: Uint8Array): KeyObject {
  return nativePublics.get(publicKey, () =>
    importQuietly(() =>
      createPublicKey({ key: nodeView(concatBytes(SPKI_PREFIX, publicKey)), format: 'der', type: 'spki' }),
    ),
  );
}

const hasContext = (context: Uint8Array | undefined): context is Uint8Array =>
  context !== undefined && context.length > 0;

export const mlDsa65Noble: SigBackend = Object.freeze({
  implementation: '@noble/post-quantum',
  publicKey(seed: Uint8Array): Uint8Array {
    return nobleSecret(seed).publicKey.slice();
  },
  sign(seed: Uint8Array, message: Uint8Array, context?: Uint8Array): Uint8Array {
    // noble signs hedged by default (fresh 32-byte rnd per signature).
    const opts = hasContext(context) ? { context } : {};
    return ml_dsa65.sign(message, nobleSecret(seed).secretKey, opts);
  },
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context?: Uint8Array): boolean {
    // noble takes no prepared public key (it re-expands A per call), so verify has nothing to cache.
    try {
      return ml_dsa65.verify(signature, message, publicKey, hasContext(context) ? { context } : {});
    } catch {
      return false;
    }
  },
});

export const mlDsa65Native: SigBackend = Object.freeze({
  implementation: 'node:crypto',
  publicKey(seed: Uint8Array): Uint8Array {
    return nativeSecret(seed).publicKey.slice();
  },
  sign(seed: Uint8Array, message: Uint8Array, context?: Uint8Array): Uint8Array {
    if (!hasContext(context)) return asUint8(signNative(null, message, { key: nativeSecret(seed).key }));
    if (!nativeSupport.mlDsa65Context) return mlDsa65Noble.sign(seed, message, context);
    // OpenSSL's default for ML-DSA is hedged signing (deterministic=0).
    return asUint8(signNative(null, message, { key: nativeSecret(seed).key, context }));
  },
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context?: Uint8Array): boolean {
    if (hasContext(context) && !nativeSupport.mlDsa65Context) {
      return mlDsa65Noble.verify(publicKey, message, signature, context);
    }
    const key = nativePublic(publicKey);
    try {
      return verifyNative(null, message, hasContext(context) ? { key, context } : { key }, signature);
    } catch {
      return false;
    }
  },
});

/**
 * The FIPS 204 expanded secret key (4032 bytes, skEncode of Algorithm 24) of a seed — what a PKCS#8
 * "expandedKey" or "both" form carries (RFC 9881 §6), so an importer can check it against the seed.
 * A fresh copy the caller must wipe.
 */
export function mlDsa65ExpandedSecretKey(seed: Uint8Array): Uint8Array {
  return nobleSecret(seed).secretKey.slice();
}
