// The one base64 codec (RFC 4648) of the whole code base, strict in every dialect: one text per byte
// string. Buffer's own decoder skips bad characters, accepts missing or extra padding and non-zero
// trailing bits; each of those is refused here, because a second spelling of the same bytes is how
// signed or MACed text becomes malleable, and how a corrupted record goes unnoticed. It depends on
// nothing but the error type, so coffer/client can use it without loading core or crypto.
import { CofferError, type ErrorCode } from './errors.js';

export type Base64Variant = 'base64' | 'base64-nopad' | 'base64url';

// One character class per dialect, plus up to two '=' for the padded one: a single linear scan. The
// structural rules (length, padding, trailing bits) are checked by arithmetic below rather than by a
// grouped pattern, whose backtracking cost dominated decoding a 1 KiB field (issue 14: the daemon
// decodes every byte field of every request this way).
const PATTERNS: Readonly<Record<Base64Variant, RegExp>> = {
  base64: /^[A-Za-z0-9+/]*={0,2}$/,
  'base64-nopad': /^[A-Za-z0-9+/]*$/,
  base64url: /^[A-Za-z0-9_-]*$/,
};

/** The 6-bit value of a base64 or base64url alphabet character (checked by PATTERNS first). */
function sextet(code: number): number {
  if (code >= 65 && code <= 90) return code - 65; // A-Z
  if (code >= 97 && code <= 122) return code - 71; // a-z
  if (code >= 48 && code <= 57) return code + 4; // 0-9
  return code === 43 || code === 45 ? 62 : 63; // + or -, / or _
}

/**
 * RFC 4648 §3.5 canonical form, given that every character is in the dialect's alphabet: a data
 * length that a byte string can have, padding exactly to a multiple of four in the padded dialect,
 * and zero bits after the last byte's (4 after one trailing byte, 2 after two).
 */
function isCanonical(text: string, variant: Base64Variant): boolean {
  let data = text.length;
  if (variant === 'base64') {
    if (data % 4 !== 0) return false;
    while (data > 0 && text.charCodeAt(data - 1) === 61) data--; // '='
  }
  const rest = data % 4;
  if (rest === 1) return false;
  if (rest === 0) return true;
  const last = sextet(text.charCodeAt(data - 1));
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0;
}

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
  if (!PATTERNS[variant].test(text) || !isCanonical(text, variant))
    throw new CofferError(code, `malformed ${what} (not canonical ${variant})`);
  const bytes = Buffer.from(text, variant === 'base64url' ? 'base64url' : 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
