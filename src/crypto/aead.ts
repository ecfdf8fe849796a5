// AEAD (SPEC §1): AES-256-GCM, ChaCha20-Poly1305 and XChaCha20-Poly1305, all through OpenSSL.
// XChaCha20-Poly1305 = HChaCha20 subkey (one JS block, hchacha20.ts) + native ChaCha20-Poly1305 with
// the nonce 0x00000000 ‖ nonce[16..24] (draft-irtf-cfrg-xchacha-03 §2.3), so no bulk cipher runs in JS.
// Only 256-bit keys, the standard nonce of each algorithm and full 128-bit tags exist here: shorter
// tags, other key sizes and GCM's hashed (non-96-bit) IVs are refused with EINVAL, never supported.
import { type CipherGCMTypes, createCipheriv, createDecipheriv } from 'node:crypto';
import { CofferError } from '../errors.js';
import { assertBytes, assertInteger, assertOneOf, wipe } from './bytes.js';
import { hchacha20 } from './hchacha20.js';
import { keyInput } from './held-keys.js';

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

// No size bound is set here: GCM's limit (2^39−256 bits) and ChaCha's (2^38 bytes) are beyond any
// Buffer Node can allocate, and the keystore applies its own payload bounds (docs/errors.md).
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

/** A Uint8Array over `buffer`'s bytes: a view when the Buffer owns its memory alone, else a copy. */
function exclusive(buffer: Buffer): Uint8Array {
  if (buffer.byteOffset === 0 && buffer.buffer.byteLength === buffer.length) {
    return new Uint8Array(buffer.buffer, 0, buffer.length);
  }
  // Pooled or shared memory must not reach the caller: their wipe would miss it, and `.buffer`
  // would expose neighbouring bytes.
  const copy = new Uint8Array(buffer);
  buffer.fill(0);
  return copy;
}

/** Encrypts `plaintext`; returns ciphertext ‖ 16-byte tag. */
export function encrypt(
  alg: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad?: Uint8Array,
): Uint8Array {
  validate(alg, key, nonce, plaintext, aad); // before the allocation reads plaintext.length
  const out = new Uint8Array(plaintext.length + TAG_LENGTH);
  encryptInto(alg, key, nonce, plaintext, aad, out, 0);
  return out;
}

/**
 * Like encrypt, but writes ciphertext ‖ tag into `out` at `offset` (which must have room for
 * plaintext.length + 16 bytes), so a format that puts a header and nonce before the body (sealed
 * blobs, SPEC §6) builds its output without copying a large payload a second time.
 */
export function encryptInto(
  alg: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array | undefined,
  out: Uint8Array,
  offset: number,
): void {
  validate(alg, key, nonce, plaintext, aad);
  assertBytes('out', out);
  assertInteger('offset', offset, 0, out.length);
  if (out.length - offset < plaintext.length + TAG_LENGTH) {
    throw new CofferError('EINVAL', 'out has no room for ciphertext and tag at offset');
  }
  const p = nativeParams(alg, key, nonce);
  try {
    const cipher = createCipheriv(p.cipher as CipherGCMTypes, keyInput(p.key), p.nonce, {
      authTagLength: TAG_LENGTH,
    });
    cipher.setAAD(aad ?? EMPTY);
    const body = cipher.update(plaintext);
    out.set(body, offset);
    // GCM and ChaCha20-Poly1305 are stream modes: final() emits nothing, only computes the tag.
    const rest = cipher.final();
    out.set(rest, offset + body.length);
    out.set(cipher.getAuthTag(), offset + plaintext.length);
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
    throw new CofferError('EBADMSG', `${alg}: ciphertext shorter than its authentication tag`);
  }
  const p = nativeParams(alg, key, nonce);
  const bodyLength = ciphertextAndTag.length - TAG_LENGTH;
  try {
    const decipher = createDecipheriv(p.cipher as CipherGCMTypes, keyInput(p.key), p.nonce, {
      authTagLength: TAG_LENGTH,
    });
    decipher.setAuthTag(ciphertextAndTag.subarray(bodyLength));
    decipher.setAAD(aad ?? EMPTY);
    const body = decipher.update(ciphertextAndTag.subarray(0, bodyLength));
    let rest: Buffer;
    try {
      rest = decipher.final();
    } catch {
      // Plaintext released before authentication must not leak out.
      wipe(body);
      throw new CofferError(
        'EBADMSG',
        `${alg}: authentication failed (wrong key, nonce or AAD, or tampered data)`,
      );
    }
    if (rest.length === 0) return exclusive(body);
    const out = new Uint8Array(body.length + rest.length);
    out.set(body, 0);
    out.set(rest, body.length);
    wipe(body, rest);
    return out;
  } finally {
    if (p.owned) wipe(p.key);
  }
}

/**
 * AES-256-GCM under a fresh random nonce, returned as `nonce (12) ‖ ciphertext ‖ tag (16)`: the one
 * layout Coffer uses wherever the nonce travels with the ciphertext (key wrapping, the record barrier,
 * in-process protector devices; SPEC §3, §4, §5).
 */
export function sealWithNonce(
  key: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array | undefined,
  randomBytes: (length: number) => Uint8Array,
): Uint8Array {
  return sealWithNonceAfter(key, plaintext, aad, randomBytes, 0);
}

/**
 * sealWithNonce into a fresh buffer that keeps `prefix` zero bytes in front for the caller's own
 * header (the record barrier's version byte, SPEC §4): one allocation and no copy of the sealed
 * bytes, which is most of what sealing a small record costs besides the cipher (issue 14).
 */
export function sealWithNonceAfter(
  key: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array | undefined,
  randomBytes: (length: number) => Uint8Array,
  prefix: number,
): Uint8Array {
  assertInteger('prefix', prefix, 0, 64);
  assertBytes('data', plaintext);
  const nonceLength = NONCE_LENGTH['aes-256-gcm'];
  const nonce = randomBytes(nonceLength);
  const out = new Uint8Array(prefix + nonceLength + plaintext.length + TAG_LENGTH);
  out.set(nonce, prefix);
  encryptInto('aes-256-gcm', key, nonce, plaintext, aad, out, prefix + nonceLength);
  return out;
}

/** Opens `sealWithNonce` output; too short, tampered, wrong key or AAD → EBADMSG. */
export function openWithNonce(key: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array {
  assertBytes('sealed', sealed);
  const nonceLength = NONCE_LENGTH['aes-256-gcm'];
  if (sealed.length < nonceLength + TAG_LENGTH)
    throw new CofferError('EBADMSG', 'sealed data is shorter than nonce and tag');
  return decrypt('aes-256-gcm', key, sealed.subarray(0, nonceLength), sealed.subarray(nonceLength), aad);
}
