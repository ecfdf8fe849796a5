// Strict text encodings shared by the standard formats (SPEC §14.1): canonical base64 in its three
// dialects (src/base64.ts, re-exported), and Bech32 / Bech32m (BIP-173, BIP-350). "Strict" means one text per byte string:
// Buffer's decoder silently skips bad characters, accepts missing or extra padding and non-zero
// trailing bits; each of those is EINVAL here, because a second spelling of the same bytes is how
// signed or MACed text becomes malleable (age's header, JWS, SSHSIG armour). Base58 lives with the
// BIP-32 code (crypto/hd-base58.ts) and is re-exported here.
import { CofferError } from '../errors.js';

export { type Base64Variant, decodeBase64, encodeBase64 } from '../base64.js';
export { base58checkDecode, base58checkEncode, base58Decode, base58Encode } from '../crypto/hd-base58.js';

// ---- Bech32 / Bech32m ----

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const CHARSET_VALUE = new Map([...CHARSET].map((c, i) => [c, i]));
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
/** The constant the checksum must leave: 1 for Bech32 (BIP-173), 0x2bc830a3 for Bech32m (BIP-350). */
const CONSTANTS = { bech32: 1, bech32m: 0x2bc830a3 } as const;
export type Bech32Variant = keyof typeof CONSTANTS;

function polymod(values: number[]): number {
  let chk = 1;
  for (const value of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ value;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i]!;
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const codes = [...hrp].map((c) => c.charCodeAt(0));
  return [...codes.map((c) => c >>> 5), 0, ...codes.map((c) => c & 31)];
}

/** Regroups bits; `pad` for 8→5, and for 5→8 the leftover must be under 5 zero bits (BIP-173). */
export function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const max = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    const value = data[i]!;
    if (value < 0 || value >> from !== 0) throw new CofferError('EINVAL', 'bech32: value out of range');
    acc = ((acc << from) | value) & 0xffffff;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & max);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & max);
  } else if (bits >= from || ((acc << (to - bits)) & max) !== 0) {
    throw new CofferError('EINVAL', 'bech32: non-zero padding or leftover bits');
  }
  return out;
}

export interface Bech32Options {
  variant?: Bech32Variant;
  /** BIP-173's 90-character limit; age lifts it (its post-quantum recipients are ~1950 characters). */
  limit?: number | false;
  /** Write the whole string in upper case (age identities); the checksum is over the lower case. */
  upperCase?: boolean;
}

/** Bech32 of 5-bit words under `hrp`. */
export function bech32EncodeWords(hrp: string, words: number[], options: Bech32Options = {}): string {
  const variant = options.variant ?? 'bech32';
  const lower = hrp.toLowerCase();
  if (!/^[\x21-\x7e]{1,83}$/.test(lower))
    throw new CofferError('EINVAL', 'bech32: malformed human-readable part');
  const values = [...hrpExpand(lower), ...words, 0, 0, 0, 0, 0, 0];
  const mod = polymod(values) ^ CONSTANTS[variant];
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  const text = `${lower}1${[...words, ...checksum].map((w) => CHARSET[w]).join('')}`;
  const limit = options.limit ?? 90;
  if (limit !== false && text.length > limit)
    throw new CofferError('EINVAL', `bech32 string over ${limit} characters`);
  return options.upperCase ? text.toUpperCase() : text;
}

/** Bech32 of bytes under `hrp` (8→5-bit regrouping with padding). */
export function bech32Encode(hrp: string, bytes: Uint8Array, options: Bech32Options = {}): string {
  return bech32EncodeWords(hrp, convertBits(bytes, 8, 5, true), options);
}

/**
 * Parses a Bech32 string to its (lower-case) hrp and 5-bit words. EINVAL for mixed case, characters
 * outside the charset, a bad checksum, or a string over the limit.
 */
export function bech32DecodeWords(
  text: unknown,
  options: Bech32Options = {},
): { hrp: string; words: number[] } {
  if (typeof text !== 'string') throw new CofferError('EINVAL', 'bech32 input must be a string');
  const limit = options.limit ?? 90;
  if (limit !== false && text.length > limit)
    throw new CofferError('EINVAL', `bech32 string over ${limit} characters`);
  if (text.length > 1 << 16) throw new CofferError('E2BIG', 'bech32 string too long');
  const lower = text.toLowerCase();
  if (text !== lower && text !== text.toUpperCase()) throw new CofferError('EINVAL', 'bech32: mixed case');
  const separator = lower.lastIndexOf('1');
  if (separator < 1 || separator + 7 > lower.length)
    throw new CofferError('EINVAL', 'bech32: missing separator or checksum');
  const hrp = lower.slice(0, separator);
  if (!/^[\x21-\x7e]{1,83}$/.test(hrp))
    throw new CofferError('EINVAL', 'bech32: malformed human-readable part');
  const words: number[] = [];
  for (const c of lower.slice(separator + 1)) {
    const value = CHARSET_VALUE.get(c);
    if (value === undefined) throw new CofferError('EINVAL', `bech32: character '${c}' outside the charset`);
    words.push(value);
  }
  if (polymod([...hrpExpand(hrp), ...words]) !== CONSTANTS[options.variant ?? 'bech32']) {
    throw new CofferError('EINVAL', 'bech32: checksum does not match (mistyped or truncated)');
  }
  return { hrp, words: words.slice(0, -6) };
}

/** Parses a Bech32 string of bytes; `expectedHrp` (compared in lower case) turns another hrp into EINVAL. */
export function bech32Decode(text: unknown, expectedHrp: string, options: Bech32Options = {}): Uint8Array {
  const { hrp, words } = bech32DecodeWords(text, options);
  if (hrp !== expectedHrp.toLowerCase()) {
    throw new CofferError('EINVAL', `bech32: expected the prefix '${expectedHrp}', got '${hrp}'`);
  }
  return Uint8Array.from(convertBits(words, 5, 8, false));
}
