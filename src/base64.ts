// The one base64 codec (RFC 4648) of the whole code base, strict in every dialect: one text per byte
// string. Buffer's own decoder skips bad characters, accepts missing or extra padding and non-zero
// trailing bits; each of those is refused here, because a second spelling of the same bytes is how
// signed or MACed text becomes malleable, and how a corrupted record goes unnoticed. It depends on
// nothing but the error type, so coffer/client can use it without loading core or crypto.
import { CofferError, type ErrorCode } from './errors.js';

export type Base64Variant = 'base64' | 'base64-nopad' | 'base64url';

const PATTERNS: Readonly<Record<Base64Variant, RegExp>> = {
  base64: /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
  'base64-nopad': /^[A-Za-z0-9+/]*$/,
  base64url: /^[A-Za-z0-9_-]*$/,
};

export function encodeBase64(bytes: Uint8Array, variant: Base64Variant = 'base64'): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (variant === 'base64url') return buffer.toString('base64url');
  const text = buffer.toString('base64');
  return variant === 'base64-nopad' ? text.replace(/=+$/, '') : text;
}

/**
 * Canonical base64 → bytes (RFC 4648 §3.5): only the variant's alphabet, padding exactly as the
 * variant writes it, zero trailing bits, no whitespace. `what` names the value in the error; `code`
 * is EINVAL for a caller's input, EBADMSG for a stored record, EINTERNAL for a peer's reply.
 */
export function decodeBase64(
  text: unknown,
  variant: Base64Variant = 'base64',
  what: string = variant,
  code: ErrorCode = 'EINVAL',
): Uint8Array {
  if (typeof text !== 'string') throw new CofferError(code, `${what} must be a ${variant} string`);
  // A length of 1 mod 4 cannot come from any byte string.
  if (!PATTERNS[variant].test(text) || (variant !== 'base64' && text.length % 4 === 1))
    throw new CofferError(code, `malformed ${what} (not canonical ${variant})`);
  const bytes = Buffer.from(text, variant === 'base64url' ? 'base64url' : 'base64');
  if (encodeBase64(bytes, variant) !== text)
    throw new CofferError(code, `malformed ${what} (not canonical ${variant})`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
