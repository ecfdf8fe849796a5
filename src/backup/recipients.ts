// Who can open a backup (SPEC §11.2): the random file key is wrapped either under a passphrase
// (Argon2id) or to an X-Wing public key (encapsulation + HKDF), age's recipient/identity split.
// Both wraps are AES-256-GCM with associated data naming the backup and the recipient, so a wrapped
// file key moved to another backup or relabelled to another recipient fails to open (EBADMSG).

import { PUBLIC_KEY_STRING_PREFIX, parsePublicKeyString } from '../core/public-key-string.js';
import * as aead from '../crypto/aead.js';
import { assertBytes, concatBytes, utf8, wipe } from '../crypto/bytes.js';
import { hkdf } from '../crypto/kdf.js';
import * as kem from '../crypto/kem.js';
import {
  assertPassphrase,
  DEFAULT_PASSPHRASE_KDF,
  derivePassphraseKeyAsync,
  type Passphrase,
  type PassphraseKdfParams,
  parsePassphraseKdfParams,
} from '../crypto/passphrase-kdf.js';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { decodeKemPublicKeyDer, decodeKemPublicKeyPem } from '../format/kem-keys.js';
import type { RecipientHeader } from './format.js';

export const XWING_PUBLIC_KEY_BYTES = 1216;
const KEY_ID = /^k_[a-z2-7]{26}$/;

/** An X-Wing recipient: the public key and the keystore key (id, version) that holds its secret. */
export interface XWingRecipient {
  publicKey: Uint8Array;
  keyId: string;
  version: number;
}

/**
 * Accepts the public key string `coffer1:xwing:<keyId>:<version>:<b64url key>`, which carries
 * everything a recipient needs, with or without the SPEC §6 checksum field that
 * `coffer key public --format coffer` appends; returns undefined for any other text.
 */
export function parseCofferPublicKeyString(text: string): XWingRecipient | undefined {
  const value = text.trim();
  // The checksummed form has one parser, shared with `coffer encrypt --to` (a bad checksum is EINVAL).
  if (value.startsWith(PUBLIC_KEY_STRING_PREFIX) && value.split(':').length === 6) {
    return parsePublicKeyString(value);
  }
  const match = /^coffer1:xwing:(k_[a-z2-7]{26}):([1-9][0-9]{0,4}):([A-Za-z0-9_-]+)$/.exec(value);
  if (!match) return undefined;
  const bytes = Buffer.from(match[3]!, 'base64url');
  if (bytes.toString('base64url') !== match[3] || bytes.length !== XWING_PUBLIC_KEY_BYTES) {
    throw new CofferError('EINVAL', 'the recipient string does not hold a 1216-byte X-Wing public key');
  }
  return { keyId: match[1]!, version: Number(match[2]), publicKey: Uint8Array.from(bytes) };
}

/** Raw 1216 bytes, SPKI DER or PEM of an X-Wing public key → the raw key. */
export function parseXWingPublicKey(value: unknown): Uint8Array {
  if (typeof value === 'string') {
    const fromString = parseCofferPublicKeyString(value);
    if (fromString) return fromString.publicKey;
    const { alg, publicKey } = decodeKemPublicKeyPem(value.trim().concat('\n'));
    if (alg !== 'x-wing') throw new CofferError('EINVAL', `the recipient is an ${alg} key, not X-Wing`);
    return publicKey;
  }
  if (!(value instanceof Uint8Array)) {
    throw new CofferError('EINVAL', 'recipient.publicKey must be a string or a Uint8Array');
  }
  if (value.length === XWING_PUBLIC_KEY_BYTES) return Uint8Array.from(value);
  const { alg, publicKey } = decodeKemPublicKeyDer(value);
  if (alg !== 'x-wing') throw new CofferError('EINVAL', `the recipient is an ${alg} key, not X-Wing`);
  return publicKey;
}

export function assertRecipientId(keyId: unknown, version: unknown): void {
  if (typeof keyId !== 'string' || !KEY_ID.test(keyId)) {
    throw new CofferError('EINVAL', 'recipient.keyId must be a key id (k_…)');
  }
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1 || version > 10_000) {
    throw new CofferError('EINVAL', 'recipient.version must be an integer from 1 to 10000');
  }
}

export function assertBackupPassphrase(passphrase: unknown, kdf: unknown): PassphraseKdfParams {
  assertPassphrase(passphrase);
  return kdf === undefined ? { ...DEFAULT_PASSPHRASE_KDF } : parsePassphraseKdfParams(kdf);
}

/** AAD of the file-key wrap (SPEC §11.2). */
export function fileKeyAad(backupId: string, recipient: RecipientHeader): Uint8Array {
  const who =
    recipient.type === 'passphrase'
      ? 'type=passphrase'
      : `type=x-wing|key=${recipient.keyId}|v=${recipient.version}`;
  return utf8.encode(`coffer:backup:file-key:v1|backup=${backupId}|${who}`);
}

/** HKDF info of the X-Wing wrap key; binds the recipient key id and version. */
export function xwingInfo(keyId: string, version: number): Uint8Array {
  return utf8.encode(`coffer:backup:x-wing:v1|key=${keyId}|v=${version}`);
}

function seal(kek: Uint8Array, fileKey: Uint8Array, aad: Uint8Array, rng: Rng): Uint8Array {
  const nonce = rng.randomBytes(12);
  return concatBytes(nonce, aead.encrypt('aes-256-gcm', kek, nonce, fileKey, aad));
}

function open(kek: Uint8Array, wrapped: Uint8Array, aad: Uint8Array, hint: string): Uint8Array {
  try {
    return aead.decrypt('aes-256-gcm', kek, wrapped.subarray(0, 12), wrapped.subarray(12), aad);
  } catch (error) {
    if (error instanceof CofferError && error.code === 'EBADMSG') {
      throw new CofferError('EBADMSG', `cannot open the backup's file key: ${hint}`);
    }
    throw error;
  }
}

export async function wrapToPassphrase(
  fileKey: Uint8Array,
  backupId: string,
  passphrase: Passphrase,
  kdf: PassphraseKdfParams,
  rng: Rng,
): Promise<{ recipient: RecipientHeader; wrapped: Uint8Array }> {
  const salt = rng.randomBytes(32);
  const recipient: RecipientHeader = { type: 'passphrase', kdf, salt: Buffer.from(salt).toString('hex') };
  const kek = await derivePassphraseKeyAsync(kdf, passphrase, salt, 32);
  try {
    return { recipient, wrapped: seal(kek, fileKey, fileKeyAad(backupId, recipient), rng) };
  } finally {
    wipe(kek);
  }
}

export function wrapToXWing(
  fileKey: Uint8Array,
  backupId: string,
  to: XWingRecipient,
  rng: Rng,
): { recipient: RecipientHeader; wrapped: Uint8Array } {
  assertBytes('recipient public key', to.publicKey, XWING_PUBLIC_KEY_BYTES);
  // A seeded RNG (deterministic test mode only) also fixes the encapsulation, for vectors.
  const { ciphertext, sharedSecret } = kem.encapsulate(
    'x-wing',
    to.publicKey,
    rng.insecure ? rng.randomBytes(64) : undefined,
  );
  const recipient: RecipientHeader = {
    type: 'x-wing',
    keyId: to.keyId,
    version: to.version,
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  };
  const kek = hkdf('sha256', sharedSecret, ciphertext, xwingInfo(to.keyId, to.version), 32);
  try {
    return { recipient, wrapped: seal(kek, fileKey, fileKeyAad(backupId, recipient), rng) };
  } finally {
    wipe(kek, sharedSecret);
  }
}

export async function unwrapWithPassphrase(
  backupId: string,
  recipient: RecipientHeader & { type: 'passphrase' },
  wrapped: Uint8Array,
  passphrase: Passphrase,
): Promise<Uint8Array> {
  const kek = await derivePassphraseKeyAsync(
    recipient.kdf,
    passphrase,
    Buffer.from(recipient.salt, 'hex'),
    32,
  );
  try {
    return open(kek, wrapped, fileKeyAad(backupId, recipient), 'wrong passphrase, or the header was altered');
  } finally {
    wipe(kek);
  }
}

export function unwrapWithSharedSecret(
  backupId: string,
  recipient: RecipientHeader & { type: 'x-wing' },
  wrapped: Uint8Array,
  sharedSecret: Uint8Array,
): Uint8Array {
  const ciphertext = Buffer.from(recipient.ciphertext, 'base64');
  const kek = hkdf('sha256', sharedSecret, ciphertext, xwingInfo(recipient.keyId, recipient.version), 32);
  try {
    return open(kek, wrapped, fileKeyAad(backupId, recipient), 'wrong X-Wing key, or the header was altered');
  } finally {
    wipe(kek);
  }
}
