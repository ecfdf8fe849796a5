// AEAD (DESIGN §2): AES-256-GCM, ChaCha20-Poly1305 and XChaCha20-Poly1305, all through OpenSSL.
// XChaCha20-Poly1305 = HChaCha20 subkey (JS, one block) + native ChaCha20-Poly1305 with the nonce
// 0x00000000 ‖ nonce[16..24] (draft-irtf-cfrg-xchacha-03 §2.3), so no bulk cipher ever runs in JS.
import { type CipherGCMTypes, createCipheriv, createDecipheriv } from 'node:crypto';
import { CofferError } from '../errors.js';
import { assertBytes, assertOneOf, wipe } from './bytes.js';
import { hchacha20 } from './hchacha20.js';

export type AeadAlgorithm = 'aes-256-gcm' | 'chacha20-poly1305' | 'xchacha20-poly1305';
export const AEAD_ALGORITHMS: readonly AeadAlgorithm[] = [
  'aes-256-gcm',
  'chacha20-poly1305',
  'xchacha20-poly1305',
];

export const KEY_LENGTH = 32;
export const TAG_LENGTH = 16;
/** Nonce length per algorithm: 96-bit for GCM and ChaCha (RFC 8439), 192-bit for XChaCha. */
export const NONCE_LENGTH: Readonly<Record<AeadAlgorithm, number>> = Object.freeze({
  'aes-256-gcm': 12,
  'chacha20-poly1305': 12,
  'xchacha20-poly1305': 24,
});
/**
 * Largest plaintext one call takes: GCM's limit is 2^39−256 bits, ChaCha's 2^38 bytes; a JS process
 * cannot hold either, so the practical bound is Node's largest Buffer, checked by Node itself.
 */
const EMPTY = new Uint8Array(0);

type NativeCipher = 'aes-256-gcm' | 'chacha20-poly1305';

function validate(
  alg: unknown,
  key: unknown,
  nonce: unknown,
  data: unknown,
  aad: unknown,
): asserts alg is AeadAlgorithm {
  assertOneOf('alg', alg, AEAD_ALGORITHMS);
  assertBytes('key', key, KEY_LENGTH);
  assertBytes('nonce', nonce, NONCE_LENGTH[alg]);
  assertBytes('data', data);
  if (aad !== undefined) assertBytes('aad', aad);
}

/** Maps the public algorithm to the native cipher, its key and its 12-byte nonce. */
function nativeParams(
  alg: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
): { cipher: NativeCipher; key: Uint8Array; nonce: Uint8Array; owned: boolean } {
  if (alg !== 'xchacha20-poly1305') return { cipher: alg, key, nonce, owned: false };
  const subkey = hchacha20(key, nonce.subarray(0, 16));
  const subnonce = new Uint8Array(12);
  subnonce.set(nonce.subarray(16, 24), 4);
  return { cipher: 'chacha20-poly1305', key: subkey, nonce: subnonce, owned: true };
}

/** Encrypts `plaintext`; returns ciphertext ‖ 16-byte tag. */
export function encrypt(
  alg: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad?: Uint8Array,
): Uint8Array {
  validate(alg, key, nonce, plaintext, aad);
  const p = nativeParams(alg, key, nonce);
  try {
    const cipher = createCipheriv(p.cipher as CipherGCMTypes, p.key, p.nonce, { authTagLength: TAG_LENGTH });
    cipher.setAAD(aad ?? EMPTY, { plaintextLength: plaintext.length });
    const out = new Uint8Array(plaintext.length + TAG_LENGTH);
    // Writing both pieces into one preallocated buffer avoids a concat copy on large payloads.
    const body = cipher.update(plaintext);
    out.set(body, 0);
    const rest = cipher.final();
    out.set(rest, body.length);
    out.set(cipher.getAuthTag(), plaintext.length);
    return out;
  } finally {
    if (p.owned) wipe(p.key);
  }
}

/** Decrypts ciphertext ‖ tag; a wrong key, nonce, AAD or any altered byte → EBADMSG. */
export function decrypt(
  alg: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertextAndTag: Uint8Array,
  aad?: Uint8Array,
): Uint8Array {
  validate(alg, key, nonce, ciphertextAndTag, aad);
  if (ciphertextAndTag.length < TAG_LENGTH) {
    throw new CofferError('EBADMSG', 'ciphertext shorter than its authentication tag');
  }
  const p = nativeParams(alg, key, nonce);
  const bodyLength = ciphertextAndTag.length - TAG_LENGTH;
  try {
    const decipher = createDecipheriv(p.cipher as CipherGCMTypes, p.key, p.nonce, {
      authTagLength: TAG_LENGTH,
    });
    decipher.setAuthTag(ciphertextAndTag.subarray(bodyLength));
    decipher.setAAD(aad ?? EMPTY, { plaintextLength: bodyLength });
    const out = new Uint8Array(bodyLength);
    const body = decipher.update(ciphertextAndTag.subarray(0, bodyLength));
    out.set(body, 0);
    let final: Buffer;
    try {
      final = decipher.final();
    } catch {
      // Plaintext released before authentication must not leak out.
      wipe(out, body);
      throw new CofferError(
        'EBADMSG',
        `${alg}: authentication failed (wrong key, nonce or AAD, or tampered data)`,
      );
    }
    out.set(final, body.length);
    return out;
  } finally {
    if (p.owned) wipe(p.key);
  }
}
