// The SSH wire encoding (RFC 4251 §5) used by OpenSSH key blobs, SSHSIG, the agent protocol and
// the openssh-key-v1 private key format: byte, boolean, uint32, string (uint32 length ‖ bytes) and
// mpint (two's complement, minimal, big-endian). The reader is strict: every read is bounds-checked,
// mpints must be minimal and non-negative where the caller asks, and `end()` refuses trailing bytes.
import { concatBytes } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';

export class SshReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #what: string;
  #offset = 0;

  constructor(bytes: Uint8Array, what = 'SSH data') {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#what = what;
  }

  #fail(why: string): never {
    throw new CofferError('EINVAL', `malformed ${this.#what}: ${why}`);
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  get done(): boolean {
    return this.remaining === 0;
  }

  end(): void {
    if (!this.done) this.#fail('trailing bytes');
  }

  byte(): number {
    if (this.remaining < 1) this.#fail('truncated');
    return this.#bytes[this.#offset++]!;
  }

  boolean(): boolean {
    const b = this.byte();
    if (b > 1) this.#fail('boolean other than 0 or 1');
    return b === 1;
  }

  uint32(): number {
    if (this.remaining < 4) this.#fail('truncated');
    const value = this.#view.getUint32(this.#offset, false);
    this.#offset += 4;
    return value;
  }

  /** n raw bytes (a view, not a copy). */
  raw(n: number): Uint8Array {
    if (n > this.remaining) this.#fail('truncated');
    const out = this.#bytes.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  string(): Uint8Array {
    return this.raw(this.uint32());
  }

  /** A string that must be UTF-8 text (names, comments). */
  text(): string {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.string());
    } catch (error) {
      if (error instanceof CofferError) throw error;
      this.#fail('string is not UTF-8');
    }
  }

  /** A non-negative mpint as its minimal unsigned magnitude (zero = empty). */
  unsignedMpint(): Uint8Array {
    const bytes = this.string();
    if (bytes.length === 0) return bytes;
    if (bytes[0]! & 0x80) this.#fail('negative mpint');
    // RFC 4251 §5: "Unnecessary leading bytes with the value 0 or 255 MUST NOT be included."
    if (bytes[0] === 0 && (bytes.length === 1 || (bytes[1]! & 0x80) === 0)) this.#fail('non-minimal mpint');
    return bytes[0] === 0 ? bytes.subarray(1) : bytes;
  }
}

const u32 = (n: number): Uint8Array => {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
};

export const sshUint32 = u32;

export function sshString(bytes: Uint8Array | string): Uint8Array {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  return concatBytes(u32(data.length), data);
}

/** A non-negative mpint from an unsigned big-endian magnitude (leading zeros stripped, sign byte added). */
export function sshMpint(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  if (trimmed.length === 0) return u32(0);
  return trimmed[0]! & 0x80 ? sshString(concatBytes(Uint8Array.of(0), trimmed)) : sshString(trimmed);
}

/** Concatenates wire fields. */
export function sshConcat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(...parts);
}
