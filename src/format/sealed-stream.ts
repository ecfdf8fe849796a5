// Sealed-stream layout (SPEC §6.2): the §6 prefix with kinds 0x03/0x04, the chunk-size exponent, the
// wrapped data key, and the chunk framing rules (counter nonce with a last-chunk flag, chunk lengths).
// Pure layout and strict parsing; the crypto is in core/stream-cipher.ts. No I/O.
import { assertBytes } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import {
  SEALED_ALGORITHMS,
  SEALED_FORMAT_VERSION,
  SEALED_HEADER_LENGTH,
  type SealedAlgorithm,
} from './sealed.js';

/** Kind bytes of sealed streams (SPEC §6.2.1); 0x01 and 0x02 are the one-shot kinds of §6. */
export const STREAM_KINDS = { symmetric: 0x03, toPublicKey: 0x04 } as const;
export type StreamKind = keyof typeof STREAM_KINDS;

export const MIN_CHUNK_EXPONENT = 6;
export const MAX_CHUNK_EXPONENT = 24;
/** 64 KiB, as age: large enough that the per-chunk cost vanishes, small enough to stay in cache. */
export const DEFAULT_CHUNK_EXPONENT = 16;
/** Chunk indexes are below 2^32 (SPEC §6.2.1): 256 TiB at 64 KiB chunks. */
export const MAX_CHUNKS = 2 ** 32;

export const TAG_LENGTH = 16;
export const DATA_KEY_LENGTH = 32;
export const WRAPPED_DATA_KEY_LENGTH = DATA_KEY_LENGTH + TAG_LENGTH;
export const XWING_CIPHERTEXT_LENGTH = 1120;
/** Bytes 0–23: the §6 prefix and the chunk-size exponent. */
export const STREAM_PREFIX_LENGTH = SEALED_HEADER_LENGTH + 1;
/** The longest header (x-wing): the most a reader needs before it knows the header is whole. */
export const MAX_STREAM_HEADER_LENGTH = STREAM_PREFIX_LENGTH + XWING_CIPHERTEXT_LENGTH + 12 + 48;

export type StreamAlgorithm = SealedAlgorithm;

export interface StreamHeader {
  kind: StreamKind;
  algorithm: StreamAlgorithm;
  /** 16 raw key-id bytes. */
  keyId: Uint8Array;
  version: number;
  /** Chunk size = 2^chunkExponent bytes. */
  chunkExponent: number;
  /** Kind 0x04 only: the 1120-byte X-Wing ciphertext. */
  kemCiphertext?: Uint8Array;
  wrapNonce: Uint8Array;
  /** DEK ciphertext ‖ tag (48 bytes). */
  wrappedKey: Uint8Array;
}

/** Nonce length of the data-key wrap: the key's own AEAD for kind 0x03, AES-256-GCM for kind 0x04. */
export function wrapNonceLength(algorithm: StreamAlgorithm): number {
  return algorithm === 'xchacha20-poly1305' ? 24 : 12;
}

/** Total header length for an algorithm: 84 (aes-256-gcm), 96 (xchacha20-poly1305), 1204 (x-wing). */
export function streamHeaderLength(algorithm: StreamAlgorithm): number {
  const kem = algorithm === 'x-wing' ? XWING_CIPHERTEXT_LENGTH : 0;
  return STREAM_PREFIX_LENGTH + kem + wrapNonceLength(algorithm) + WRAPPED_DATA_KEY_LENGTH;
}

/** Chunk size in bytes for an exponent; EINVAL outside 2^6 … 2^24. */
export function chunkSizeOf(exponent: number): number {
  if (!Number.isInteger(exponent) || exponent < MIN_CHUNK_EXPONENT || exponent > MAX_CHUNK_EXPONENT) {
    throw new CofferError(
      'EINVAL',
      `sealed-stream chunk size exponent must be ${MIN_CHUNK_EXPONENT} to ${MAX_CHUNK_EXPONENT}, got ${exponent}`,
    );
  }
  return 2 ** exponent;
}

/** The exponent of a chunk size given in bytes: a power of two from 64 B to 16 MiB, else EINVAL. */
export function chunkExponentOf(chunkSize: unknown): number {
  if (chunkSize === undefined) return DEFAULT_CHUNK_EXPONENT;
  if (typeof chunkSize === 'number' && Number.isSafeInteger(chunkSize) && chunkSize > 0) {
    const exponent = Math.log2(chunkSize);
    if (Number.isInteger(exponent) && exponent >= MIN_CHUNK_EXPONENT && exponent <= MAX_CHUNK_EXPONENT)
      return exponent;
  }
  throw new CofferError(
    'EINVAL',
    `chunkSize must be a power of two from ${2 ** MIN_CHUNK_EXPONENT} to ${2 ** MAX_CHUNK_EXPONENT} bytes`,
  );
}

/**
 * nonce_i = uint88_be(i) ‖ last (SPEC §6.2.1), written into `out` (12 bytes) so the hot loop allocates
 * nothing. Indexes are below 2^32, so only the last four counter bytes ever change.
 */
export function writeChunkNonce(out: Uint8Array, index: number, last: boolean): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_CHUNKS)
    throw new CofferError('E2BIG', `a sealed stream has at most ${MAX_CHUNKS} chunks`);
  out.fill(0, 0, 7);
  out[7] = (index >>> 24) & 0xff;
  out[8] = (index >>> 16) & 0xff;
  out[9] = (index >>> 8) & 0xff;
  out[10] = index & 0xff;
  out[11] = last ? 0x01 : 0x00;
  return out;
}

function lookup<T extends string>(table: Record<T, number>, byte: number | undefined): T | undefined {
  return (Object.keys(table) as T[]).find((name) => table[name] === byte);
}

/** The header bytes before the wrap nonce (`W` of SPEC §6.2.1): the wrap's associated data prefix. */
export function wrapAssociatedPrefix(header: Uint8Array, algorithm: StreamAlgorithm): Uint8Array {
  return header.subarray(0, STREAM_PREFIX_LENGTH + (algorithm === 'x-wing' ? XWING_CIPHERTEXT_LENGTH : 0));
}

export function encodeStreamHeader(header: StreamHeader): Uint8Array {
  const { kind, algorithm, keyId, version, chunkExponent, kemCiphertext, wrapNonce, wrappedKey } = header;
  if ((kind === 'toPublicKey') !== (algorithm === 'x-wing'))
    throw new CofferError('EINVAL', 'stream kind and algorithm do not match');
  assertBytes('key id', keyId, 16);
  if (!Number.isInteger(version) || version < 1 || version > 0xffffffff)
    throw new CofferError('EINVAL', 'key version must be an integer from 1 to 2^32-1');
  chunkSizeOf(chunkExponent);
  assertBytes('wrap nonce', wrapNonce, wrapNonceLength(algorithm));
  assertBytes('wrapped data key', wrappedKey, WRAPPED_DATA_KEY_LENGTH);
  if (algorithm === 'x-wing') assertBytes('X-Wing ciphertext', kemCiphertext, XWING_CIPHERTEXT_LENGTH);
  else if (kemCiphertext !== undefined)
    throw new CofferError('EINVAL', 'only x-wing streams carry a KEM ciphertext');
  const out = new Uint8Array(streamHeaderLength(algorithm));
  out[0] = SEALED_FORMAT_VERSION;
  out[1] = STREAM_KINDS[kind];
  out[2] = SEALED_ALGORITHMS[algorithm];
  out.set(keyId, 3);
  new DataView(out.buffer).setUint32(19, version, false);
  out[23] = chunkExponent;
  let at = STREAM_PREFIX_LENGTH;
  if (kemCiphertext) {
    out.set(kemCiphertext, at);
    at += kemCiphertext.length;
  }
  out.set(wrapNonce, at);
  out.set(wrappedKey, at + wrapNonce.length);
  return out;
}

/** Whether sealed data in memory is a stream (SPEC §6.2.4: the kind byte tells, no guessing). */
export function isSealedStream(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 2 &&
    bytes[0] === SEALED_FORMAT_VERSION &&
    (bytes[1] === STREAM_KINDS.symmetric || bytes[1] === STREAM_KINDS.toPublicKey)
  );
}

/** What the first bytes of sealed data are: a one-shot blob (§6) or a stream (§6.2). */
export type SealedShape = 'one-shot' | 'stream';

/**
 * Tells a one-shot blob from a stream by its first two bytes (format version, kind). Anything else is
 * EINVAL: it is not sealed data this Coffer reads. Fewer than two bytes is EBADMSG (truncated).
 */
export function sealedShape(first: Uint8Array): SealedShape {
  if (first.length < 2) throw new CofferError('EBADMSG', 'sealed data is truncated (no header)');
  if (first[0] !== SEALED_FORMAT_VERSION)
    throw new CofferError('EINVAL', `not Coffer sealed data (unknown format version ${first[0]})`);
  if (first[1] === 0x01 || first[1] === 0x02) return 'one-shot';
  if (first[1] === STREAM_KINDS.symmetric || first[1] === STREAM_KINDS.toPublicKey) return 'stream';
  throw new CofferError('EINVAL', `not Coffer sealed data (unknown kind ${first[1]})`);
}

/**
 * The length of the header that starts with `prefix` (at least the 24 prefix bytes), after checking
 * every structural field: EINVAL for a prefix no Coffer writer produces (SPEC §6.2.2 step 1),
 * EBADMSG when fewer than 24 bytes are given (the input ended inside the header).
 */
export function streamHeaderLengthOf(prefix: Uint8Array): number {
  assertBytes('sealed stream', prefix);
  if (sealedShape(prefix) !== 'stream') throw new CofferError('EINVAL', 'this is a one-shot sealed blob');
  if (prefix.length < STREAM_PREFIX_LENGTH)
    throw new CofferError('EBADMSG', 'sealed stream is truncated inside its header');
  const kind = lookup(STREAM_KINDS, prefix[1]) as StreamKind;
  const algorithm = lookup(SEALED_ALGORITHMS, prefix[2]);
  if (algorithm === undefined)
    throw new CofferError('EINVAL', `sealed stream names an unknown algorithm ${prefix[2]}`);
  if ((kind === 'toPublicKey') !== (algorithm === 'x-wing'))
    throw new CofferError('EINVAL', 'sealed stream kind and algorithm do not match');
  const version = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getUint32(19, false);
  if (version === 0) throw new CofferError('EINVAL', 'sealed stream names key version 0');
  chunkSizeOf(prefix[23]!);
  return streamHeaderLength(algorithm);
}

/**
 * Parses a whole stream header (exactly its bytes, or more: the rest is ignored). Structure as
 * streamHeaderLengthOf; fewer bytes than the header needs → EBADMSG (truncated).
 */
export function parseStreamHeader(bytes: Uint8Array): { header: StreamHeader; headerBytes: Uint8Array } {
  const length = streamHeaderLengthOf(bytes);
  if (bytes.length < length) throw new CofferError('EBADMSG', 'sealed stream is truncated inside its header');
  const headerBytes = bytes.subarray(0, length);
  const algorithm = lookup(SEALED_ALGORITHMS, bytes[2]) as StreamAlgorithm;
  let at = STREAM_PREFIX_LENGTH;
  let kemCiphertext: Uint8Array | undefined;
  if (algorithm === 'x-wing') {
    kemCiphertext = bytes.slice(at, at + XWING_CIPHERTEXT_LENGTH);
    at += XWING_CIPHERTEXT_LENGTH;
  }
  const nonceLength = wrapNonceLength(algorithm);
  const header: StreamHeader = {
    kind: algorithm === 'x-wing' ? 'toPublicKey' : 'symmetric',
    algorithm,
    keyId: bytes.slice(3, 19),
    version: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(19, false),
    chunkExponent: bytes[23]!,
    ...(kemCiphertext ? { kemCiphertext } : {}),
    wrapNonce: bytes.slice(at, at + nonceLength),
    wrappedKey: bytes.slice(at + nonceLength, at + nonceLength + WRAPPED_DATA_KEY_LENGTH),
  };
  return { header, headerBytes };
}

/**
 * Plaintext length of a whole sealed body (the bytes after the header) of the given chunk size, or
 * EBADMSG when no valid chunk sequence has that length (SPEC §6.2.2: no chunk, a last chunk shorter
 * than a tag, or an empty last chunk that is not chunk 0). Used by the in-memory (one-shot) reader to
 * apply its bound before any work.
 */
export function streamPlaintextLength(bodyLength: number, chunkSize: number): number {
  const sealedChunk = chunkSize + TAG_LENGTH;
  if (bodyLength < TAG_LENGTH) throw new CofferError('EBADMSG', 'sealed stream has no complete chunk');
  const full = Math.floor(bodyLength / sealedChunk);
  const rest = bodyLength % sealedChunk;
  if (rest === 0) return full * chunkSize;
  if (rest < TAG_LENGTH) throw new CofferError('EBADMSG', 'sealed stream ends inside a chunk tag');
  if (rest === TAG_LENGTH && full > 0)
    throw new CofferError('EBADMSG', 'sealed stream ends with an empty chunk after a full one');
  return full * chunkSize + rest - TAG_LENGTH;
}
