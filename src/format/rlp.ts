// Recursive Length Prefix (Ethereum Yellow Paper, Appendix B; SPEC §14.9.1): the serialisation of
// Ethereum transactions. The decoder is canonical-only — a single byte below 0x80 must stand for
// itself, lengths ≤ 55 must use the short form, long lengths have no leading zero byte, nothing may
// trail — so one transaction has exactly one encoding and its hash cannot be varied.
import { concatBytes } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';

export type RlpItem = Uint8Array | RlpItem[];

/** Nesting bound for decoding (transactions nest three levels: access list entries). */
const MAX_DEPTH = 16;

function lengthBytes(length: number): Uint8Array {
  const out: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) out.unshift(n % 256);
  return Uint8Array.from(out);
}

function header(short: number, long: number, length: number): Uint8Array {
  if (length <= 55) return Uint8Array.of(short + length);
  const len = lengthBytes(length);
  return concatBytes(Uint8Array.of(long + len.length), len);
}

export function rlpEncode(item: RlpItem): Uint8Array {
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0]! < 0x80) return item.slice();
    return concatBytes(header(0x80, 0xb7, item.length), item);
  }
  if (!Array.isArray(item)) throw new CofferError('EINVAL', 'RLP items are byte strings or lists');
  const payload = concatBytes(...item.map(rlpEncode));
  return concatBytes(header(0xc0, 0xf7, payload.length), payload);
}

/** A non-negative integer as RLP wants it: minimal big-endian bytes, zero as the empty string. */
export function rlpInteger(value: bigint): Uint8Array {
  if (typeof value !== 'bigint' || value < 0n)
    throw new CofferError('EINVAL', 'RLP integers are non-negative bigints');
  if (value === 0n) return new Uint8Array(0);
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** Reads an RLP integer back: no leading zero bytes (canonical), at most `maxBytes` long. */
export function rlpToInteger(bytes: RlpItem, what: string, maxBytes = 32): bigint {
  if (!(bytes instanceof Uint8Array)) throw new CofferError('EINVAL', `${what} must be a byte string`);
  if (bytes.length > maxBytes) throw new CofferError('EINVAL', `${what} is wider than ${maxBytes} bytes`);
  if (bytes[0] === 0) throw new CofferError('EINVAL', `${what} has a leading zero byte (not canonical)`);
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function fail(why: string): never {
  throw new CofferError('EINVAL', `malformed RLP: ${why}`);
}

function decodeAt(bytes: Uint8Array, offset: number, depth: number): { item: RlpItem; end: number } {
  if (depth > MAX_DEPTH) fail('nested too deeply');
  const first = bytes[offset];
  if (first === undefined) fail('truncated');
  const readLength = (count: number): number => {
    if (offset + 1 + count > bytes.length) fail('truncated length');
    if (bytes[offset + 1] === 0) fail('length with a leading zero');
    let length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 1 + i]!;
    if (length <= 55) fail('long form for a short length');
    if (length > bytes.length) fail('length beyond the input');
    return length;
  };
  if (first < 0x80) return { item: bytes.slice(offset, offset + 1), end: offset + 1 };
  let start: number;
  let length: number;
  let list: boolean;
  if (first <= 0xb7) {
    [start, length, list] = [offset + 1, first - 0x80, false];
    if (length === 1 && bytes[start] !== undefined && bytes[start]! < 0x80)
      fail('single byte below 0x80 not encoded as itself');
  } else if (first <= 0xbf) {
    const count = first - 0xb7;
    [start, length, list] = [offset + 1 + count, readLength(count), false];
  } else if (first <= 0xf7) {
    [start, length, list] = [offset + 1, first - 0xc0, true];
  } else {
    const count = first - 0xf7;
    [start, length, list] = [offset + 1 + count, readLength(count), true];
  }
  const end = start + length;
  if (end > bytes.length) fail('truncated payload');
  if (!list) return { item: bytes.slice(start, end), end };
  const items: RlpItem[] = [];
  for (let at = start; at < end; ) {
    const next = decodeAt(bytes, at, depth + 1);
    if (next.end > end) fail('item crosses the end of its list');
    items.push(next.item);
    at = next.end;
  }
  return { item: items, end };
}

/** Decodes exactly one canonical RLP item spanning the whole input. */
export function rlpDecode(bytes: Uint8Array): RlpItem {
  if (!(bytes instanceof Uint8Array)) throw new CofferError('EINVAL', 'RLP input must be a Uint8Array');
  const { item, end } = decodeAt(bytes, 0, 0);
  if (end !== bytes.length) fail('trailing bytes');
  return item;
}
