// Bytes on the wire for the client: base64 in JSON bodies (SPEC §10.1) and argument checks. Kept here
// so coffer/client loads nothing of core or crypto at run time (types only), just node:http(s).
import { CofferError } from '../errors.js';

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** A byte field of a daemon reply; anything but a string is a broken reply, not the caller's fault. */
export function fromBase64(text: unknown): Uint8Array {
  if (typeof text !== 'string') throw new CofferError('EINTERNAL', 'the daemon sent a malformed byte field');
  const bytes = Buffer.from(text, 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function assertBytes(name: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new CofferError('EINVAL', `${name} must be a Uint8Array`);
}
