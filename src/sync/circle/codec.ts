// The small encodings the device circle (SPEC §17.9) is built from: canonical JSON bytes, labelled
// messages, strict field readers for documents that came from the server (every malformed field is
// EBADMSG before any signature is checked), device identities and their fingerprints.
import { b64, canonicalJson, textEncoder } from '../../core/encoding.js';
import { concatBytes } from '../../crypto/bytes.js';
import { digest } from '../../crypto/hash.js';
import { CofferError } from '../../errors.js';

export const ED25519_PUBLIC = 32;
export const MLDSA65_PUBLIC = 1952;
export const XWING_PUBLIC = 1216;
export const XWING_CIPHERTEXT = 1120;

/** A device's public identity: signing keys and the X-Wing key its class-key envelopes go to. */
export interface Identity {
  deviceId: string;
  ed25519: string;
  mldsa65: string;
  xwing: string;
}

/** Both signatures of a device over one labelled message: valid only if both verify. */
export interface DualSignature {
  ed25519: string;
  mldsa65: string;
}

export const cjBytes = (value: unknown): Uint8Array => textEncoder.encode(canonicalJson(value));

/** `label ‖ 0x00 ‖ message`: what is signed or MAC'd, so no message of one kind passes as another. */
export function labelled(label: string, message: Uint8Array): Uint8Array {
  return concatBytes(textEncoder.encode(label), new Uint8Array([0]), message);
}

export function sha256(data: Uint8Array): Uint8Array {
  return digest('sha256', data);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function fingerprint(identity: Identity): Uint8Array {
  return sha256(labelled('coffer:sync-fingerprint:v1', cjBytes(pickIdentity(identity)))).slice(0, 16);
}

export function pickIdentity(identity: Identity): Identity {
  return {
    deviceId: identity.deviceId,
    ed25519: identity.ed25519,
    mldsa65: identity.mldsa65,
    xwing: identity.xwing,
  };
}

// ── strict readers for untrusted JSON ─────────────────────────────────────────────────────────────

export function bad(message: string): CofferError {
  return new CofferError('EBADMSG', message);
}

export function parseJsonBytes(bytes: Uint8Array, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw bad(`${what} is not JSON`);
  }
  // Signatures and MACs are over canonical bytes: a non-canonical copy is not the signed one.
  if (canonicalJson(value) !== new TextDecoder().decode(bytes)) throw bad(`${what} is not canonical JSON`);
  return value;
}

export function obj(value: unknown, what: string, keys: readonly string[], optional: readonly string[] = []) {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad(`${what} is not an object`);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record))
    if (!keys.includes(key) && !optional.includes(key)) throw bad(`${what} has an unknown field ${key}`);
  for (const key of keys) if (!(key in record)) throw bad(`${what} lacks ${key}`);
  return record;
}

export function str(value: unknown, what: string, pattern?: RegExp): string {
  if (typeof value !== 'string' || (pattern && !pattern.test(value))) throw bad(`${what} is malformed`);
  return value;
}

export function int(value: unknown, what: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
    throw bad(`${what} is malformed`);
  return value;
}

export function bytesField(value: unknown, what: string, length?: number): Uint8Array {
  if (typeof value !== 'string') throw bad(`${what} is malformed`);
  const bytes = b64.decode(value);
  if (length !== undefined && bytes.length !== length) throw bad(`${what} has the wrong length`);
  return bytes;
}

export function arr(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw bad(`${what} is not a list`);
  return value;
}

export const DEVICE_ID = /^[0-9a-f]{16}$/;
export const CLASS_KEY_ID = /^ck_[a-z2-7]{16}$/;
export const ACCOUNT_ID = /^ac_[a-z2-7]{16}$/;

export function parseIdentity(value: unknown, what: string): Identity {
  const o = obj(value, what, ['deviceId', 'ed25519', 'mldsa65', 'xwing']);
  const identity: Identity = {
    deviceId: str(o.deviceId, `${what}.deviceId`, DEVICE_ID),
    ed25519: str(o.ed25519, `${what}.ed25519`),
    mldsa65: str(o.mldsa65, `${what}.mldsa65`),
    xwing: str(o.xwing, `${what}.xwing`),
  };
  bytesField(identity.ed25519, `${what}.ed25519`, ED25519_PUBLIC);
  bytesField(identity.mldsa65, `${what}.mldsa65`, MLDSA65_PUBLIC);
  bytesField(identity.xwing, `${what}.xwing`, XWING_PUBLIC);
  return identity;
}

export function parseSignature(value: unknown, what: string): DualSignature {
  const o = obj(value, what, ['ed25519', 'mldsa65']);
  return { ed25519: str(o.ed25519, `${what}.ed25519`), mldsa65: str(o.mldsa65, `${what}.mldsa65`) };
}

/** A device or member name: 1–64 UTF-8 bytes, no control characters. */
export function checkName(name: unknown, code: 'EINVAL' | 'EBADMSG' = 'EINVAL'): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    textEncoder.encode(name).length > 64 ||
    /\p{Cc}/u.test(name)
  )
    throw new CofferError(code, 'a device name is 1 to 64 UTF-8 bytes without control characters');
  return name;
}
