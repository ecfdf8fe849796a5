// A tiny strict DER reader and writer (ITU-T X.690 §10) for the few structures Coffer parses:
// SubjectPublicKeyInfo and ECDSA-Sig-Value. Strict means DER, not BER: definite minimal lengths,
// minimal INTEGER and OID encodings, BIT STRINGs without unused bits, no trailing bytes. Anything
// else is EINVAL, so two different byte strings never parse to the same value (no malleability).
import { CofferError } from '../errors.js';

export const TAG = Object.freeze({
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
});

/** Lengths above this are refused: nothing Coffer parses comes close (ML-DSA SPKI is ~2 KiB). */
const MAX_LENGTH = 1 << 24;

function fail(what: string): never {
  throw new CofferError('EINVAL', `malformed DER: ${what}`);
}

/** Reads consecutive DER elements from a byte string; every read checks DER's rules. */
export class DerReader {
  readonly #bytes: Uint8Array;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  get done(): boolean {
    return this.#offset === this.#bytes.length;
  }

  /** Throws EINVAL unless every byte has been consumed. */
  end(): void {
    if (!this.done) fail('trailing bytes');
  }

  /** Reads one element with the given (single-byte) tag and returns its contents. */
  read(tag: number): Uint8Array {
    const bytes = this.#bytes;
    let offset = this.#offset;
    if (offset >= bytes.length) fail('unexpected end of input');
    const actual = bytes[offset++]!;
    if (actual !== tag) fail(`expected tag 0x${tag.toString(16)}, got 0x${actual.toString(16)}`);
    if (offset >= bytes.length) fail('missing length');
    const first = bytes[offset++]!;
    let length: number;
    if (first < 0x80) {
      length = first;
    } else {
      const count = first & 0x7f;
      // 0x80 is BER's indefinite form; more than 3 length bytes exceeds MAX_LENGTH anyway.
      if (count === 0 || count > 3) fail('indefinite or oversized length');
      if (offset + count > bytes.length) fail('truncated length');
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + bytes[offset++]!;
      // X.690 §10.1: the shortest form. Long form only from 128, and no leading zero byte.
      if (length < 0x80 || bytes[offset - count] === 0) fail('non-minimal length');
    }
    if (length > MAX_LENGTH) fail('length too large');
    if (offset + length > bytes.length) fail('truncated contents');
    this.#offset = offset + length;
    return bytes.subarray(offset, offset + length);
  }

  /** A reader over the contents of a SEQUENCE. */
  sequence(): DerReader {
    return new DerReader(this.read(TAG.SEQUENCE));
  }

  /**
   * A non-negative INTEGER as its minimal unsigned big-endian magnitude (zero is one 0x00 byte).
   * Negative values and non-minimal encodings (X.690 §8.3.2) are refused.
   */
  unsignedInteger(): Uint8Array {
    const contents = this.read(TAG.INTEGER);
    if (contents.length === 0) fail('empty INTEGER');
    const b0 = contents[0]!;
    if (b0 & 0x80) fail('negative INTEGER');
    if (contents.length > 1 && b0 === 0 && (contents[1]! & 0x80) === 0) fail('non-minimal INTEGER');
    return contents.length > 1 && b0 === 0 ? contents.subarray(1) : contents;
  }

  /** An OBJECT IDENTIFIER in dotted form. */
  oid(): string {
    return decodeOid(this.read(TAG.OID));
  }

  /** A BIT STRING whose unused-bit count is 0 (keys are whole bytes). */
  bitString(): Uint8Array {
    const contents = this.read(TAG.BIT_STRING);
    if (contents.length === 0) fail('empty BIT STRING');
    if (contents[0] !== 0) fail('BIT STRING with unused bits');
    return contents.subarray(1);
  }

  octetString(): Uint8Array {
    return this.read(TAG.OCTET_STRING);
  }

  null(): void {
    if (this.read(TAG.NULL).length !== 0) fail('NULL with contents');
  }

  /** The tag of the next element, or undefined at the end. */
  peekTag(): number | undefined {
    return this.#bytes[this.#offset];
  }
}

function decodeOid(contents: Uint8Array): string {
  if (contents.length === 0) fail('empty OID');
  const arcs: number[] = [];
  let value = 0;
  let started = false;
  for (let i = 0; i < contents.length; i++) {
    const byte = contents[i]!;
    // X.690 §8.19.2: a subidentifier never starts with 0x80 (that would be a padding zero).
    if (!started && byte === 0x80) fail('non-minimal OID arc');
    started = true;
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) fail('OID arc too large');
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
      started = false;
    }
  }
  if (started) fail('truncated OID arc');
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One DER element: tag ‖ minimal length ‖ contents. */
export function encodeTlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of contents) total += part.length;
  if (total > MAX_LENGTH) throw new CofferError('EINVAL', 'DER element too large');
  const length = encodeLength(total);
  const out = new Uint8Array(1 + length.length + total);
  out[0] = tag;
  out.set(length, 1);
  let offset = 1 + length.length;
  for (const part of contents) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function encodeSequence(...elements: Uint8Array[]): Uint8Array {
  return encodeTlv(TAG.SEQUENCE, ...elements);
}

/** A non-negative INTEGER from unsigned big-endian bytes (leading zeros are stripped). */
export function encodeUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.length === 0 ? Uint8Array.of(0) : magnitude.subarray(start);
  // A set top bit would read as negative: prefix one zero byte (X.690 §8.3.3).
  return trimmed[0]! & 0x80
    ? encodeTlv(TAG.INTEGER, Uint8Array.of(0), trimmed)
    : encodeTlv(TAG.INTEGER, trimmed);
}

export function encodeBitString(bytes: Uint8Array): Uint8Array {
  return encodeTlv(TAG.BIT_STRING, Uint8Array.of(0), bytes);
}

export function encodeOctetString(bytes: Uint8Array): Uint8Array {
  return encodeTlv(TAG.OCTET_STRING, bytes);
}

export function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((arc) => {
    if (!/^(0|[1-9][0-9]*)$/.test(arc)) throw new CofferError('EINVAL', `malformed OID '${dotted}'`);
    return Number(arc);
  });
  const [a, b] = arcs;
  if (
    a === undefined ||
    b === undefined ||
    a > 2 ||
    (a < 2 && b >= 40) ||
    arcs.some((x) => !Number.isSafeInteger(x))
  ) {
    throw new CofferError('EINVAL', `malformed OID '${dotted}'`);
  }
  const out: number[] = [];
  for (const arc of [a * 40 + b, ...arcs.slice(2)]) {
    // Arithmetic, not bitwise: arcs may exceed 32 bits.
    const group: number[] = [arc % 128];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) group.unshift((n % 128) | 0x80);
    out.push(...group);
  }
  return encodeTlv(TAG.OID, Uint8Array.from(out));
}
