// HChaCha20 (draft-irtf-cfrg-xchacha-03 §2.2): derives XChaCha20's subkey from the key and the first
// 16 nonce bytes. OpenSSL has no HChaCha20, so this one block comes from the audited @noble/ciphers
// (SPEC §1: pure JS only for what the running Node lacks); the bulk cipher stays native (aead.ts).
import { hchacha } from '@noble/ciphers/chacha.js';

// noble's exported hchacha takes host-order Uint32Array views of the raw bytes and normalises word
// order itself on big-endian hosts, so every input is handed over as a view of an aligned byte copy.
const SIGMA_BYTES = new TextEncoder().encode('expand 32-byte k');

/** key: 32 bytes, nonce16: 16 bytes (callers validate). Returns the 32-byte subkey. */
export function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const k = new Uint8Array(32);
  const n = new Uint8Array(16);
  const sigma = new Uint8Array(16);
  const out = new Uint8Array(32);
  k.set(key.subarray(0, 32));
  n.set(nonce16.subarray(0, 16));
  sigma.set(SIGMA_BYTES);
  try {
    hchacha(
      new Uint32Array(sigma.buffer),
      new Uint32Array(k.buffer),
      new Uint32Array(n.buffer),
      new Uint32Array(out.buffer),
    );
    return out;
  } finally {
    // The key copy is secret; the nonce copy is not, but costs nothing to clear.
    k.fill(0);
    n.fill(0);
  }
}
