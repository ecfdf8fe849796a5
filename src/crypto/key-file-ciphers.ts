// The password-based KDFs and block-cipher modes that private key *files* written by other tools
// use (SPEC §14.4.4–5): PBKDF2 with HMAC-SHA-1/-2 and scrypt (PKCS#8 PBES2, RFC 8018 / RFC 7914),
// AES-CBC with PKCS#7 padding, AES-CTR and AES-GCM (PBES2, OpenSSH's openssh-key-v1). All OpenSSL.
//
// These are for *reading* keys people already have, so the cost floors of kdf.ts (OWASP) do not
// apply — OpenSSL itself writes PBKDF2 with 2048 iterations and scrypt with N = 2^14 — but the
// ceilings do: a hostile file must not buy hours of CPU or gigabytes of memory with one import.
import { createCipheriv, createDecipheriv, pbkdf2Sync, scryptSync } from 'node:crypto';
import { CofferError } from '../errors.js';
import { assertBytes, assertInteger, assertOneOf, asUint8 } from './bytes.js';

export type Pbkdf2Prf = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
export const PBKDF2_PRFS: readonly Pbkdf2Prf[] = ['sha1', 'sha224', 'sha256', 'sha384', 'sha512'];

/** Ceilings on the work a key file may ask for (the same as kdf.ts's, SPEC §1.A.4). */
export const KEY_FILE_KDF_LIMITS = Object.freeze({
  pbkdf2MaxIterations: 10_000_000,
  scryptMaxN: 1 << 21,
  scryptMaxR: 128,
  scryptMaxP: 16,
  scryptMaxBytes: 2 ** 31,
});

export function pbkdf2(
  prf: Pbkdf2Prf,
  passphrase: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  length: number,
): Uint8Array {
  assertOneOf('prf', prf, PBKDF2_PRFS);
  assertBytes('passphrase', passphrase);
  assertBytes('salt', salt);
  assertInteger('iterations', iterations, 1, KEY_FILE_KDF_LIMITS.pbkdf2MaxIterations);
  assertInteger('length', length, 1, 64);
  return new Uint8Array(pbkdf2Sync(passphrase, salt, iterations, length, prf));
}

export function scrypt(
  passphrase: Uint8Array,
  salt: Uint8Array,
  N: number,
  r: number,
  p: number,
  length: number,
): Uint8Array {
  assertBytes('passphrase', passphrase);
  assertBytes('salt', salt);
  const L = KEY_FILE_KDF_LIMITS;
  assertInteger('scrypt N', N, 2, L.scryptMaxN);
  if ((N & (N - 1)) !== 0) throw new CofferError('EINVAL', 'scrypt N must be a power of two');
  assertInteger('scrypt r', r, 1, L.scryptMaxR);
  assertInteger('scrypt p', p, 1, L.scryptMaxP);
  assertInteger('length', length, 1, 64);
  const memory = 128 * N * r;
  if (memory > L.scryptMaxBytes) throw new CofferError('EINVAL', 'scrypt parameters ask for more than 2 GiB');
  return new Uint8Array(scryptSync(passphrase, salt, length, { N, r, p, maxmem: memory + 64 * 1024 * 1024 }));
}

export type AesMode = 'cbc' | 'ctr' | 'gcm';
const KEY_BITS = [128, 192, 256] as const;

function cipherName(mode: AesMode, key: Uint8Array): string {
  const bits = key.length * 8;
  if (!(KEY_BITS as readonly number[]).includes(bits)) {
    throw new CofferError('EINVAL', 'AES key must be 16, 24 or 32 bytes');
  }
  return `aes-${bits}-${mode}`;
}

/**
 * AES decryption of a key file body. CBC removes PKCS#7 padding unless `padding` is false (OpenSSH
 * pads its sections itself); GCM checks the 16-byte `tag`. A wrong key (wrong passphrase) is
 * EBADMSG where the mode can tell.
 */
export function aesDecrypt(
  mode: AesMode,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
  tag?: Uint8Array,
  padding = true,
): Uint8Array {
  assertBytes('key', key);
  assertBytes('iv', iv, mode === 'gcm' ? 12 : 16);
  assertBytes('data', data);
  const name = cipherName(mode, key);
  if (mode === 'cbc' && (data.length === 0 || data.length % 16 !== 0)) {
    throw new CofferError('EBADMSG', 'AES-CBC ciphertext is not a whole number of blocks');
  }
  try {
    const decipher = createDecipheriv(name, key, iv);
    if (mode === 'gcm') {
      assertBytes('tag', tag, 16);
      (decipher as unknown as { setAuthTag(tag: Uint8Array): void }).setAuthTag(tag);
    }
    if (mode !== 'cbc' || !padding) decipher.setAutoPadding(false);
    const head = decipher.update(data);
    const tail = decipher.final();
    const out = new Uint8Array(head.length + tail.length);
    out.set(head);
    out.set(tail, head.length);
    head.fill(0);
    tail.fill(0);
    return out;
  } catch (error) {
    if (error instanceof CofferError) throw error;
    throw new CofferError('EBADMSG', 'decryption failed: wrong passphrase or damaged key file');
  }
}

/** AES encryption (CBC with PKCS#7 padding unless `padding` is false, CTR, GCM with the tag apart). */
export function aesEncrypt(
  mode: AesMode,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
  padding = true,
): { ciphertext: Uint8Array; tag?: Uint8Array } {
  assertBytes('key', key);
  assertBytes('iv', iv, mode === 'gcm' ? 12 : 16);
  assertBytes('data', data);
  const cipher = createCipheriv(cipherName(mode, key), key, iv);
  if (mode !== 'cbc' || !padding) cipher.setAutoPadding(false);
  const ciphertext = asUint8(Buffer.concat([cipher.update(data), cipher.final()]));
  if (mode !== 'gcm') return { ciphertext };
  return { ciphertext, tag: asUint8((cipher as unknown as { getAuthTag(): Buffer }).getAuthTag()) };
}
