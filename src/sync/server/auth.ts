// Device authentication to the sync server (SPEC §17.8): the exact bytes a device signs for a
// challenge, and the check that both its Ed25519 and its ML-DSA-65 signature verify against the keys
// the account's current circle upload lists. No password or hash of one is involved anywhere.
import { createHash } from 'node:crypto';
import { b64, canonicalJson, textEncoder } from '../../core/encoding.js';
import { verify } from '../../crypto/sig.js';
import { CofferError } from '../../errors.js';
import type { CircleUpload, DevicePublicKeys } from '../transport.js';

export const AUTH_LABEL = 'coffer:sync-auth:v1';
export const CHALLENGE_TTL_MS = 60_000;
export const SESSION_TTL_MS = 15 * 60_000;
const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_DEVICES = 256;
const MAX_DOCUMENT_CHARS = (256 * 1024 * 4) / 3 + 4;

export interface Challenge {
  accountId: string;
  deviceId: string;
  expiresAt: number;
  /** b64 of 32 random bytes. */
  nonce: string;
  serverId: string;
}

/** `"coffer:sync-auth:v1" ‖ 0x00 ‖ UTF-8(canonicalJSON({accountId, deviceId, expiresAt, nonce, serverId}))`. */
export function authMessage(challenge: Challenge): Uint8Array {
  const body = textEncoder.encode(
    canonicalJson({
      accountId: challenge.accountId,
      deviceId: challenge.deviceId,
      expiresAt: challenge.expiresAt,
      nonce: challenge.nonce,
      serverId: challenge.serverId,
    }),
  );
  const label = textEncoder.encode(AUTH_LABEL);
  const out = new Uint8Array(label.length + 1 + body.length);
  out.set(label, 0);
  out.set(body, label.length + 1);
  return out;
}

/** True iff both signatures verify; anything malformed is simply false (the caller answers 401). */
export function verifyBoth(
  keys: DevicePublicKeys,
  message: Uint8Array,
  signatures: { ed25519: unknown; mldsa65: unknown },
): boolean {
  try {
    const ed = decodeB64(signatures.ed25519, 'ed25519');
    const ml = decodeB64(signatures.mldsa65, 'mldsa65');
    // Both are always checked: the answer must not depend on which one failed.
    const edOk = verify('ed25519', b64.decode(keys.ed25519), message, ed);
    const mlOk = verify('ml-dsa-65', b64.decode(keys.mldsa65), message, ml);
    return edOk && mlOk;
  } catch {
    return false;
  }
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function checkId(value: unknown, what: string): string {
  if (typeof value !== 'string' || !ID.test(value))
    throw new CofferError('EINVAL', `${what} must be 1–128 characters of A–Z a–z 0–9 . _ : -`);
  return value;
}

export function decodeB64(value: unknown, what: string, maxBytes = 16 * 1024 * 1024): Uint8Array {
  if (typeof value !== 'string' || value.length > (maxBytes * 4) / 3 + 4)
    throw new CofferError(
      typeof value === 'string' ? 'E2BIG' : 'EINVAL',
      `${what} must be base64 of at most ${maxBytes} bytes`,
    );
  let bytes: Uint8Array;
  try {
    bytes = b64.decode(value);
  } catch {
    throw new CofferError('EINVAL', `${what} is not base64`);
  }
  if (b64.encode(bytes) !== value) throw new CofferError('EINVAL', `${what} is not canonical base64`);
  if (bytes.length > maxBytes) throw new CofferError('E2BIG', `${what} is larger than ${maxBytes} bytes`);
  return bytes;
}

function checkDevice(value: unknown): DevicePublicKeys {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CofferError('EINVAL', 'circle.devices[] must be objects');
  const d = value as Record<string, unknown>;
  for (const name of Object.keys(d))
    if (!['deviceId', 'ed25519', 'mldsa65'].includes(name))
      throw new CofferError('EINVAL', `circle.devices[]: unknown field ${name}`);
  const deviceId = checkId(d.deviceId, 'circle.devices[].deviceId');
  if (decodeB64(d.ed25519, 'ed25519 public key', 64).length !== 32)
    throw new CofferError('EINVAL', 'an Ed25519 public key is 32 bytes');
  if (decodeB64(d.mldsa65, 'ML-DSA-65 public key', 4096).length !== 1952)
    throw new CofferError('EINVAL', 'an ML-DSA-65 public key is 1952 bytes');
  return { deviceId, ed25519: d.ed25519 as string, mldsa65: d.mldsa65 as string };
}

/** Validates a circle upload as the server stores it (SPEC §17.8); the document stays opaque. */
export function checkCircle(value: unknown): CircleUpload {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CofferError('EINVAL', 'circle must be an object');
  const c = value as Record<string, unknown>;
  for (const name of Object.keys(c))
    if (!['version', 'document', 'devices'].includes(name))
      throw new CofferError('EINVAL', `circle: unknown field ${name}`);
  if (typeof c.version !== 'number' || !Number.isSafeInteger(c.version) || c.version < 1)
    throw new CofferError('EINVAL', 'circle.version must be an integer ≥ 1');
  if (typeof c.document !== 'string') throw new CofferError('EINVAL', 'circle.document must be base64');
  if (c.document.length > MAX_DOCUMENT_CHARS)
    throw new CofferError('E2BIG', 'circle.document is over 256 KiB');
  decodeB64(c.document, 'circle.document');
  if (!Array.isArray(c.devices) || c.devices.length === 0 || c.devices.length > MAX_DEVICES)
    throw new CofferError('EINVAL', `circle.devices must list 1–${MAX_DEVICES} devices`);
  const devices = c.devices.map(checkDevice);
  if (new Set(devices.map((d) => d.deviceId)).size !== devices.length)
    throw new CofferError('EINVAL', 'circle.devices lists a device twice');
  return { version: c.version, document: c.document, devices };
}
