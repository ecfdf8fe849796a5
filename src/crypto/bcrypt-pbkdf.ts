// bcrypt_pbkdf (OpenBSD, the KDF of OpenSSH's "openssh-key-v1" private keys, PROTOCOL.key; SPEC
// §14.4.5): a PBKDF2-like construction whose PRF is a bcrypt hash of SHA-512 digests, built on
// Blowfish's expensive key schedule (EksBlowfish, Provos & Mazières 1999). Written from those
// descriptions: no Node or noble package offers it.
//
// Blowfish's initial P-array and S-boxes are the hexadecimal digits of π's fractional part
// (Schneier 1993): 18 + 4·256 32-bit words = 8336 hex digits. Instead of a 4 KiB literal table
// they are computed once, on first use, with Machin's formula in BigInt fixed point; tests check the
// first and last words against the published constants and the whole KDF against keys ssh-keygen wrote.
import { createHash } from 'node:crypto';
import { CofferError } from '../errors.js';
import { assertBytes, assertInteger, wipe } from './bytes.js';

/** Upper bound on rounds: ssh-keygen's default is 16; 1024 takes minutes in JS (a DoS, not a key). */
export const BCRYPT_PBKDF_MAX_ROUNDS = 1024;
const WORDS = 18 + 1024;

let piWords: Uint32Array | undefined;

/** arctan(1/x) · 2^bits, by its Taylor series, in fixed point. */
function arctanInverse(x: bigint, bits: bigint): bigint {
  const one = 1n << bits;
  const xx = x * x;
  let term = one / x;
  let sum = term;
  for (let n = 3n, sign = -1n; term !== 0n; n += 2n, sign = -sign) {
    term /= xx;
    sum += (sign * term) / n;
  }
  return sum;
}

/** The first 1042 32-bit words of π's fractional part (Blowfish's P-array, then S-boxes 0–3). */
function blowfishConstants(): Uint32Array {
  if (piWords) return piWords;
  const fractionBits = BigInt(WORDS * 32);
  const guard = 64n;
  const bits = fractionBits + guard;
  // Machin: π = 16·arctan(1/5) − 4·arctan(1/239).
  const pi = 16n * arctanInverse(5n, bits) - 4n * arctanInverse(239n, bits);
  const fraction = (pi >> guard) & ((1n << fractionBits) - 1n);
  const out = new Uint32Array(WORDS);
  for (let i = 0; i < WORDS; i++) {
    out[i] = Number((fraction >> BigInt((WORDS - 1 - i) * 32)) & 0xffffffffn);
  }
  piWords = out;
  return out;
}

/** Blowfish state: P (18 words) and S (4 × 256 words) in one array, P first. */
class Blowfish {
  readonly state = Uint32Array.from(blowfishConstants());
  // One reusable output pair, so the inner loop allocates nothing.
  l = 0;
  r = 0;

  /** Encrypts (l, r) in place (16 Feistel rounds). */
  encipher(): void {
    const s = this.state;
    let l = this.l;
    let r = this.r;
    l ^= s[0]!;
    for (let i = 1; i <= 16; i += 2) {
      r ^= ((((s[18 + (l >>> 24)]! + s[274 + ((l >>> 16) & 0xff)]!) ^ s[530 + ((l >>> 8) & 0xff)]!) +
        s[786 + (l & 0xff)]!) ^
        s[i]!) as number;
      l ^= ((((s[18 + (r >>> 24)]! + s[274 + ((r >>> 16) & 0xff)]!) ^ s[530 + ((r >>> 8) & 0xff)]!) +
        s[786 + (r & 0xff)]!) ^
        s[i + 1]!) as number;
    }
    this.l = (r ^ s[17]!) >>> 0;
    this.r = l >>> 0;
  }

  /**
   * EksBlowfish's ExpandKey(state, data, key): P ^= the key stream, then every P and S word pair is
   * replaced by the encryption of the running block XORed with the data stream (`data` empty: the
   * plain Blowfish re-keying of expand0state).
   */
  expand(key: Uint8Array, data: Uint8Array | undefined): void {
    const s = this.state;
    let k = 0;
    for (let i = 0; i < 18; i++) {
      let word = 0;
      for (let b = 0; b < 4; b++) {
        word = (word << 8) | key[k]!;
        k = (k + 1) % key.length;
      }
      s[i] = (s[i]! ^ word) >>> 0;
    }
    let d = 0;
    const next = (): number => {
      let word = 0;
      for (let b = 0; b < 4; b++) {
        word = (word << 8) | data![d]!;
        d = (d + 1) % data!.length;
      }
      return word;
    };
    this.l = 0;
    this.r = 0;
    for (let i = 0; i < WORDS; i += 2) {
      if (data) {
        this.l ^= next();
        this.r ^= next();
      }
      this.encipher();
      s[i] = this.l;
      s[i + 1] = this.r;
    }
  }
}

/** "OxychromaticBlowfishSwatDynamite", the 32-byte plaintext bcrypt_hash encrypts 64 times. */
const MAGIC = new TextEncoder().encode('OxychromaticBlowfishSwatDynamite');

/** bcrypt_hash(SHA-512(pass), SHA-512(salt)) → 32 bytes. */
function bcryptHash(sha2pass: Uint8Array, sha2salt: Uint8Array): Uint8Array {
  const bf = new Blowfish();
  bf.expand(sha2pass, sha2salt);
  for (let i = 0; i < 64; i++) {
    bf.expand(sha2salt, undefined);
    bf.expand(sha2pass, undefined);
  }
  const view = new DataView(MAGIC.buffer, MAGIC.byteOffset, MAGIC.byteLength);
  const words = new Uint32Array(8);
  for (let i = 0; i < 8; i++) words[i] = view.getUint32(4 * i, false);
  for (let round = 0; round < 64; round++) {
    for (let i = 0; i < 8; i += 2) {
      bf.l = words[i]!;
      bf.r = words[i + 1]!;
      bf.encipher();
      words[i] = bf.l;
      words[i + 1] = bf.r;
    }
  }
  // The words leave little-endian (an accident of the original code that the format keeps).
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) outView.setUint32(4 * i, words[i]!, true);
  bf.state.fill(0);
  return out;
}

const sha512 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash('sha512').update(data).digest());

/**
 * bcrypt_pbkdf(passphrase, salt, rounds, keyLength): each output block is the XOR of `rounds`
 * chained bcrypt hashes, and output bytes are interleaved across blocks (byte i of block j lands at
 * i·stride + j) so that every key byte costs the full work.
 */
export function bcryptPbkdf(
  passphrase: Uint8Array,
  salt: Uint8Array,
  rounds: number,
  keyLength: number,
): Uint8Array {
  assertBytes('passphrase', passphrase);
  assertBytes('salt', salt);
  assertInteger('rounds', rounds, 1, BCRYPT_PBKDF_MAX_ROUNDS);
  assertInteger('keyLength', keyLength, 1, 1024);
  if (salt.length === 0 || salt.length > 1 << 20)
    throw new CofferError('EINVAL', 'salt must be 1 byte to 1 MiB');
  const stride = Math.ceil(keyLength / 32);
  const perBlock = Math.ceil(keyLength / stride);
  const key = new Uint8Array(keyLength);
  const sha2pass = sha512(passphrase);
  const countSalt = new Uint8Array(salt.length + 4);
  countSalt.set(salt);
  try {
    let remaining = keyLength;
    for (let count = 1; remaining > 0; count++) {
      new DataView(countSalt.buffer).setUint32(salt.length, count, false);
      let block = bcryptHash(sha2pass, sha512(countSalt));
      const out = block.slice();
      for (let r = 1; r < rounds; r++) {
        const next = bcryptHash(sha2pass, sha512(block));
        wipe(block);
        block = next;
        for (let i = 0; i < 32; i++) out[i]! ^= block[i]!;
      }
      wipe(block);
      let written = 0;
      for (; written < Math.min(perBlock, remaining); written++) {
        const dest = written * stride + (count - 1);
        if (dest >= keyLength) break;
        key[dest] = out[written]!;
      }
      wipe(out);
      remaining -= written;
    }
    return key;
  } finally {
    wipe(sha2pass, countSalt);
  }
}

/** @internal the computed π words, for the tests that check them against Blowfish's published tables. */
export function _blowfishConstants(): Uint32Array {
  return blowfishConstants().slice();
}
