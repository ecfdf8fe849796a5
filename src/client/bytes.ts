// Bytes on the wire for the client: base64 in JSON bodies (SPEC §10.1) and argument checks. Kept here
// so coffer/client loads nothing of core or crypto at run time (types only), just node:http(s).
import { decodeBase64, encodeBase64 } from '../base64.js';
import { CofferError } from '../errors.js';

export function toBase64(bytes: Uint8Array): string {
  return encodeBase64(bytes);
}

/** A byte field of a daemon reply; anything but a string is a broken reply, not the caller's fault. */
export function fromBase64(text: unknown): Uint8Array {
  return decodeBase64(text, 'base64', "the daemon's byte field", 'EINTERNAL');
}

export function assertBytes(name: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new CofferError('EINVAL', `${name} must be a Uint8Array`);
}
