// The Coffer public-key string (K-spec): one line that carries everything a sender needs to seal to
// an X-Wing key with no keystore — the key id and version (they go into the sealed header, SPEC §6
// kind 0x02, so the receiver's unseal finds the exact version) and the 1216-byte public key:
//
//   coffer1:xwing:<keyId>:<version>:<base64url(publicKey)>:<checksum>
//
// checksum = hex of the first 4 bytes of SHA-256 over everything before it (the text
// "coffer1:xwing:<keyId>:<version>:" followed by the raw public key), so a truncated or mistyped
// key is refused instead of sealing to a key nobody holds.
import { createHash } from 'node:crypto';
import { CofferError } from '../errors.js';
import { assertKeyId } from './names.js';

export const PUBLIC_KEY_STRING_PREFIX = 'coffer1:xwing:';
export const XWING_PUBLIC_KEY_LENGTH = 1216;

export interface XWingRecipient {
  keyId: string;
  version: number;
  publicKey: Uint8Array;
}

function checksum(head: string, publicKey: Uint8Array): string {
  return createHash('sha256').update(head).update(publicKey).digest().subarray(0, 4).toString('hex');
}

function assertVersion(version: unknown): asserts version is number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1 || version > 0xffffffff) {
    throw new CofferError('EINVAL', 'key version must be an integer from 1 to 2^32-1');
  }
}

export function encodePublicKeyString(recipient: XWingRecipient): string {
  assertKeyId(recipient.keyId);
  assertVersion(recipient.version);
  if (
    !(recipient.publicKey instanceof Uint8Array) ||
    recipient.publicKey.length !== XWING_PUBLIC_KEY_LENGTH
  ) {
    throw new CofferError('EINVAL', `an X-Wing public key is ${XWING_PUBLIC_KEY_LENGTH} bytes`);
  }
  const head = `${PUBLIC_KEY_STRING_PREFIX}${recipient.keyId}:${recipient.version}:`;
  const key = Buffer.from(recipient.publicKey).toString('base64url');
  return `${head}${key}:${checksum(head, recipient.publicKey)}`;
}

/** Parses a public-key string strictly; anything else is EINVAL with what is wrong. */
export function parsePublicKeyString(text: unknown): XWingRecipient {
  if (typeof text !== 'string') throw new CofferError('EINVAL', 'public key must be a string');
  const value = text.trim();
  if (!value.startsWith(PUBLIC_KEY_STRING_PREFIX)) {
    throw new CofferError(
      'EINVAL',
      `not a Coffer public key: it must start with ${PUBLIC_KEY_STRING_PREFIX} (get one with \`coffer key public ID --format coffer\`)`,
    );
  }
  const parts = value.slice(PUBLIC_KEY_STRING_PREFIX.length).split(':');
  if (parts.length !== 4)
    throw new CofferError('EINVAL', 'malformed Coffer public key: wrong number of fields');
  const [keyId, versionText, keyText, sum] = parts as [string, string, string, string];
  assertKeyId(keyId);
  if (!/^[1-9][0-9]{0,9}$/.test(versionText))
    throw new CofferError('EINVAL', 'malformed Coffer public key: bad version');
  const version = Number(versionText);
  assertVersion(version);
  if (!/^[A-Za-z0-9_-]+$/.test(keyText))
    throw new CofferError('EINVAL', 'malformed Coffer public key: the key is not base64url');
  const publicKey = new Uint8Array(Buffer.from(keyText, 'base64url'));
  if (
    publicKey.length !== XWING_PUBLIC_KEY_LENGTH ||
    Buffer.from(publicKey).toString('base64url') !== keyText
  ) {
    throw new CofferError(
      'EINVAL',
      `malformed Coffer public key: the key must be ${XWING_PUBLIC_KEY_LENGTH} bytes`,
    );
  }
  const head = `${PUBLIC_KEY_STRING_PREFIX}${keyId}:${versionText}:`;
  if (sum !== checksum(head, publicKey)) {
    throw new CofferError(
      'EINVAL',
      'Coffer public key checksum mismatch: the key was altered or copied incompletely',
    );
  }
  return { keyId, version, publicKey };
}
