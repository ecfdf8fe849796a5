// Argument checks and byte helpers shared by every primitive. Each public crypto function validates
// all of its arguments with these before doing any work, so bad input is always EINVAL (SPEC §1).
import { timingSafeEqual } from 'node:crypto';
import { CofferError } from '../errors.js';

/** Throws EINVAL unless value is a Uint8Array (of the given length, or one of the given lengths). */
export function assertBytes(name: string, value: unknown, ...lengths: number[]): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new CofferError('EINVAL', `${name} must be a Uint8Array`);
  }
  if (lengths.length > 0 && !lengths.includes(value.length)) {
    throw new CofferError('EINVAL', `${name} must be ${lengths.join(' or ')} bytes, got ${value.length}`);
  }
}

/** Throws EINVAL unless value is undefined or a Uint8Array. */
export function assertOptionalBytes(
  name: string,
  value: unknown,
  ...lengths: number[]
): asserts value is Uint8Array | undefined {
  if (value !== undefined) assertBytes(name, value, ...lengths);
}

/** Throws EINVAL unless value is one of the allowed strings. */
export function assertOneOf<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new CofferError('EINVAL', `${name} must be one of ${allowed.join(', ')}`);
  }
}

/** Throws EINVAL unless value is an integer in [min, max]. */
export function assertInteger(
  name: string,
  value: unknown,
  min: number,
  max: number,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new CofferError('EINVAL', `${name} must be an integer from ${min} to ${max}`);
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Constant-time comparison for equal lengths; different lengths compare unequal at once. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** A Uint8Array view of a Buffer without copying (node:crypto returns Buffers). */
export function asUint8(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Best-effort wipe of secret bytes the code owns (JS cannot promise no copies exist). */
export function wipe(...buffers: (Uint8Array | undefined)[]): void {
  for (const buffer of buffers) buffer?.fill(0);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new CofferError('EINVAL', 'malformed hex string');
  }
  return asUint8(Buffer.from(hex, 'hex'));
}

export const utf8 = {
  encode: (text: string): Uint8Array => new TextEncoder().encode(text),
  decode: (bytes: Uint8Array): string => new TextDecoder('utf-8', { fatal: true }).decode(bytes),
};
