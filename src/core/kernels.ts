// The pure crypto step of each key operation ("kernels"), with every input explicit — key bytes,
// nonces, headers, AAD — and no Session, storage or clock, so the same function runs in the calling
// thread or in a worker of the daemon's pool (docs/daemon.md "Worker pool") and produces the same
// bytes either way. operations.ts does the checks, the state and the bookkeeping around them; the
// byte layouts are SPEC §6. A kernel that takes key bytes takes them as its first argument: that is
// the argument a worker substitutes from its own copy, so secrets cross to a worker once, not per call.
import * as aead from '../crypto/aead.js';
import { concatBytes, wipe } from '../crypto/bytes.js';
import { nativeSupport } from '../crypto/features.js';
import { hkdf } from '../crypto/kdf.js';
import * as kem from '../crypto/kem.js';
import { hmac } from '../crypto/mac.js';
import * as sig from '../crypto/sig.js';
import { textEncoder } from './encoding.js';
import type { SealAlgorithm } from './types.js';

const SEAL_TO_INFO = textEncoder.encode('coffer:seal-to:v1');
export const XWING_CIPHERTEXT = 1120;

function signKernel(
  secret: Uint8Array,
  alg: sig.SigAlgorithm,
  data: Uint8Array,
  context: Uint8Array | undefined,
): Uint8Array {
  return sig.sign(alg, secret, data, context ? { context } : undefined);
}

function verifyKernel(
  alg: sig.SigAlgorithm,
  publicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
  context: Uint8Array | undefined,
): boolean {
  return sig.verify(alg, publicKey, data, signature, context ? { context } : undefined);
}

/**
 * SPEC §6 kind 0x01: header ‖ nonce ‖ ciphertext ‖ tag, AAD = header ‖ caller's AAD, built in one
 * buffer (aead.encryptInto): prepending the header to aead.encrypt's output would copy the whole
 * payload (up to 16 MiB) a second time.
 */
function sealSymmetricKernel(
  key: Uint8Array,
  alg: SealAlgorithm,
  header: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const bodyAt = header.length + nonce.length;
  const out = new Uint8Array(bodyAt + plaintext.length + aead.TAG_LENGTH);
  out.set(header, 0);
  out.set(nonce, header.length);
  aead.encryptInto(
    alg,
    key,
    nonce,
    plaintext,
    aad.length === 0 ? header : concatBytes(header, aad),
    out,
    bodyAt,
  );
  return out;
}

/** SPEC §6 kind 0x01 opened: body = nonce ‖ ciphertext ‖ tag; fullAad = header ‖ caller's AAD. */
function openSymmetricKernel(
  key: Uint8Array,
  alg: SealAlgorithm,
  body: Uint8Array,
  fullAad: Uint8Array,
): Uint8Array {
  const nonceLength = aead.NONCE_LENGTH[alg];
  return aead.decrypt(alg, key, body.subarray(0, nonceLength), body.subarray(nonceLength), fullAad);
}

/**
 * SPEC §6 kind 0x02 (seal to an X-Wing public key): header ‖ KEM ciphertext ‖ nonce ‖ AES-256-GCM
 * ciphertext ‖ tag. `eseed` is given only in deterministic test mode (it forces the slower
 * deterministic ML-KEM path).
 */
function sealToPublicKeyKernel(
  publicKey: Uint8Array,
  header: Uint8Array,
  nonce: Uint8Array,
  eseed: Uint8Array | undefined,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const { ciphertext, sharedSecret } = kem.encapsulate('x-wing', publicKey, eseed);
  const key = hkdf('sha256', sharedSecret, header, SEAL_TO_INFO, 32);
  try {
    return concatBytes(
      header,
      ciphertext,
      nonce,
      aead.encrypt('aes-256-gcm', key, nonce, plaintext, concatBytes(header, aad)),
    );
  } finally {
    wipe(key, sharedSecret);
  }
}

/** SPEC §6 kind 0x02 opened: body = KEM ciphertext ‖ nonce ‖ ciphertext ‖ tag. */
function openXWingKernel(
  secret: Uint8Array,
  headerBytes: Uint8Array,
  body: Uint8Array,
  fullAad: Uint8Array,
): Uint8Array {
  const sharedSecret = kem.decapsulate('x-wing', secret, body.subarray(0, XWING_CIPHERTEXT));
  const key = hkdf('sha256', sharedSecret, headerBytes, SEAL_TO_INFO, 32);
  try {
    const nonce = body.subarray(XWING_CIPHERTEXT, XWING_CIPHERTEXT + 12);
    return aead.decrypt('aes-256-gcm', key, nonce, body.subarray(XWING_CIPHERTEXT + 12), fullAad);
  } finally {
    wipe(key, sharedSecret);
  }
}

function encapsulateKernel(
  publicKey: Uint8Array,
  eseed: Uint8Array | undefined,
): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  return kem.encapsulate('x-wing', publicKey, eseed);
}

function decapsulateKernel(secret: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return kem.decapsulate('x-wing', secret, ciphertext);
}

function macKernel(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac('sha256', key, data);
}

/** Every kernel by name: the names are what a pool's messages carry. */
export const KERNELS = {
  sign: signKernel,
  verify: verifyKernel,
  sealSymmetric: sealSymmetricKernel,
  openSymmetric: openSymmetricKernel,
  sealToPublicKey: sealToPublicKeyKernel,
  openXWing: openXWingKernel,
  encapsulate: encapsulateKernel,
  decapsulate: decapsulateKernel,
  mac: macKernel,
} as const;

export type Kernels = typeof KERNELS;
export type KernelName = keyof Kernels;
/** Kernels whose first argument is key bytes (the one a worker keeps instead of receiving each time). */
export const SECRET_KERNELS: ReadonlySet<KernelName> = new Set([
  'sign',
  'sealSymmetric',
  'openSymmetric',
  'openXWing',
  'decapsulate',
  'mac',
]);

/**
 * A rough cost of one call in microseconds on this Node (native or pure-JS paths), for deciding what
 * is worth a trip to another thread (measured on a 2-core x86-64; only the order of magnitude
 * matters). A message to a worker and back costs about 50 µs, as much as a native Ed25519 signature.
 */
export function kernelCost(name: KernelName, alg: string, bytes: number): number {
  const perMiB = 1200; // AEAD and HMAC stream at roughly 1 GB/s; base64 and copies come on top
  const stream = (bytes / (1024 * 1024)) * perMiB;
  switch (name) {
    case 'sign':
      if (alg === 'ml-dsa-65') return nativeSupport.mlDsa65 ? 400 : 7000;
      if (alg === 'secp256k1') return nativeSupport.secp256k1 ? 60 : 400;
      return 40 + stream / 4;
    case 'verify':
      if (alg === 'ml-dsa-65') return nativeSupport.mlDsa65 ? 150 : 1400;
      if (alg === 'secp256k1') return nativeSupport.secp256k1 ? 100 : 1500;
      return 100 + stream / 4;
    case 'sealToPublicKey':
    case 'openXWing':
    case 'encapsulate':
    case 'decapsulate':
      return (nativeSupport.mlKem768 ? 150 : 500) + stream;
    default:
      return 5 + stream;
  }
}
