// Base58 and Base58Check (Bitcoin's address/extended-key text encoding, BIP-32 §Serialization
// format): base58 over the payload ‖ first 4 bytes of SHA-256(SHA-256(payload)). Only public data
// (xpub, addresses) and secrets the caller asked to serialise (xprv) pass through; the intermediate
// copies are wiped. Plain base58 (no checksum) is Solana's address form (SPEC §14.11).
import { createHash } from 'node:crypto';
import { CofferError } from '../errors.js';
import { concatBytes, equalBytes, wipe } from './bytes.js';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const VALUE = new Map([...ALPHABET].map((c, i) => [c, i]));

function checksum(payload: Uint8Array): Uint8Array {
  const first = createHash('sha256').update(payload).digest();
  const second = createHash('sha256').update(first).digest();
  return Uint8Array.from(second.subarray(0, 4));
}

/** Plain base58 (Bitcoin alphabet): leading zero bytes become leading '1's. */
export function base58Encode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  // Repeated division on a byte array (no BigInt): base-256 digits → base-58 digits.
  const digits: number[] = [];
  for (let i = zeros; i < bytes.length; i++) {
    let carry = bytes[i]!;
    for (let j = 0; j < digits.length; j++) {
      carry += digits[j]! << 8;
      digits[j] = carry % 58;
      carry = (carry / 58) | 0;
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = (carry / 58) | 0;
    }
  }
  let out = '1'.repeat(zeros);
  for (let i = digits.length - 1; i >= 0; i--) out += ALPHABET[digits[i]!];
  digits.fill(0);
  return out;
}

/** Plain base58 → bytes; EINVAL for a character outside the alphabet. */
export function base58Decode(text: string): Uint8Array {
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  const bytes: number[] = [];
  for (let i = zeros; i < text.length; i++) {
    const value = VALUE.get(text[i]!);
    if (value === undefined) throw new CofferError('EINVAL', 'input contains a non-base58 character');
    let carry = value;
    for (let j = 0; j < bytes.length; j++) {
      carry += bytes[j]! * 58;
      bytes[j] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  const out = new Uint8Array(zeros + bytes.length);
  for (let i = 0; i < bytes.length; i++) out[out.length - 1 - i] = bytes[i]!;
  bytes.fill(0);
  return out;
}

export function base58checkEncode(payload: Uint8Array): string {
  const full = concatBytes(payload, checksum(payload));
  try {
    return base58Encode(full);
  } finally {
    wipe(full);
  }
}

/** The payload of a Base58Check string; EINVAL for bad characters or a wrong checksum. */
export function base58checkDecode(text: string, maxChars = 200): Uint8Array {
  if (typeof text !== 'string') throw new CofferError('EINVAL', 'Base58Check input must be a string');
  if (text.length > maxChars) throw new CofferError('EINVAL', 'Base58Check input is too long');
  const full = base58Decode(text);
  if (full.length < 4) throw new CofferError('EINVAL', 'Base58Check input is too short');
  const payload = full.slice(0, -4);
  const ok = equalBytes(checksum(payload), full.subarray(-4));
  wipe(full);
  if (!ok) {
    wipe(payload);
    throw new CofferError('EINVAL', 'Base58Check checksum does not match (mistyped or truncated)');
  }
  return payload;
}
