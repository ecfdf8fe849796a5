// The cryptography of sealed streams (SPEC §6.2): building a header around a fresh data key (wrapped
// under a key version's secret, or to an X-Wing public key), unwrapping it again, and the STREAM chunk
// AEAD over a ByteReader. Pure: key material comes in as bytes; no keystore, no storage, no state rules.
import * as aead from '../crypto/aead.js';
import { concatBytes, utf8, wipe } from '../crypto/bytes.js';
import { hkdf } from '../crypto/kdf.js';
import * as kem from '../crypto/kem.js';
import { CofferError } from '../errors.js';
import type { ByteReader } from '../format/byte-reader.js';
import {
  DATA_KEY_LENGTH,
  encodeStreamHeader,
  MAX_CHUNKS,
  STREAM_PREFIX_LENGTH,
  type StreamAlgorithm,
  type StreamHeader,
  TAG_LENGTH,
  WRAPPED_DATA_KEY_LENGTH,
  wrapAssociatedPrefix,
  wrapNonceLength,
  writeChunkNonce,
} from '../format/sealed-stream.js';

const XWING_WRAP_INFO = utf8.encode('coffer:seal-stream:x-wing:v1');
const NO_AAD = new Uint8Array(0);

export type ChunkCipher = 'aes-256-gcm' | 'chacha20-poly1305';

/** Where a new header's data key goes: a symmetric version's secret, or an X-Wing public key. */
export type WrapTarget =
  | {
      algorithm: 'aes-256-gcm' | 'xchacha20-poly1305';
      keyId: Uint8Array;
      version: number;
      secret: Uint8Array;
    }
  | {
      algorithm: 'x-wing';
      keyId: Uint8Array;
      version: number;
      publicKey: Uint8Array;
      /** Deterministic test mode only: the 64-byte X-Wing eseed (SPEC §1.C). */
      eseed?: Uint8Array;
    };

/** HKDF-SHA256(ss, salt = header bytes 0–23, "coffer:seal-stream:x-wing:v1", 32) — SPEC §6.2.1. */
function xwingWrapKey(sharedSecret: Uint8Array, header: Uint8Array): Uint8Array {
  return hkdf('sha256', sharedSecret, header.subarray(0, STREAM_PREFIX_LENGTH), XWING_WRAP_INFO, 32);
}

/**
 * A header for `target` around `dek` (a fresh one for a new stream, the old one for a rewrap), with the
 * wrap nonce from `randomBytes`. The wrap authenticates every header byte before the nonce and `aad`.
 */
export function wrapStreamHeader(
  target: WrapTarget,
  dek: Uint8Array,
  chunkExponent: number,
  aad: Uint8Array,
  randomBytes: (n: number) => Uint8Array,
): Uint8Array {
  if (dek.length !== DATA_KEY_LENGTH) throw new CofferError('EINTERNAL', 'a data key is 32 bytes');
  let kemCiphertext: Uint8Array | undefined;
  let sharedSecret: Uint8Array | undefined;
  if (target.algorithm === 'x-wing') {
    const encapsulation = kem.encapsulate('x-wing', target.publicKey, target.eseed);
    kemCiphertext = encapsulation.ciphertext;
    sharedSecret = encapsulation.sharedSecret;
  }
  const wrapNonce = randomBytes(wrapNonceLength(target.algorithm));
  const fields: StreamHeader = {
    kind: target.algorithm === 'x-wing' ? 'toPublicKey' : 'symmetric',
    algorithm: target.algorithm,
    keyId: target.keyId,
    version: target.version,
    chunkExponent,
    ...(kemCiphertext ? { kemCiphertext } : {}),
    wrapNonce,
    wrappedKey: new Uint8Array(WRAPPED_DATA_KEY_LENGTH),
  };
  const header = encodeStreamHeader(fields);
  const associated = concatBytes(wrapAssociatedPrefix(header, target.algorithm), aad);
  let wrapKey: Uint8Array | undefined;
  try {
    let wrapped: Uint8Array;
    if (target.algorithm === 'x-wing') {
      wrapKey = xwingWrapKey(sharedSecret as Uint8Array, header);
      wrapped = aead.encrypt('aes-256-gcm', wrapKey, wrapNonce, dek, associated);
    } else {
      wrapped = aead.encrypt(target.algorithm, target.secret, wrapNonce, dek, associated);
    }
    header.set(wrapped, header.length - WRAPPED_DATA_KEY_LENGTH);
    return header;
  } finally {
    wipe(wrapKey, sharedSecret);
  }
}

/**
 * The data key of a parsed header, with the version's secret (the symmetric key, or the X-Wing seed).
 * A wrong secret, a wrong AAD or any changed header byte is EBADMSG (SPEC §6.2.2 step 3).
 */
export function unwrapStreamKey(
  header: StreamHeader,
  headerBytes: Uint8Array,
  secret: Uint8Array,
  aad: Uint8Array = NO_AAD,
): Uint8Array {
  const associated = concatBytes(wrapAssociatedPrefix(headerBytes, header.algorithm), aad);
  let wrapKey: Uint8Array | undefined;
  let sharedSecret: Uint8Array | undefined;
  try {
    if (header.algorithm === 'x-wing') {
      sharedSecret = kem.decapsulate('x-wing', secret, header.kemCiphertext as Uint8Array);
      wrapKey = xwingWrapKey(sharedSecret, headerBytes);
      return aead.decrypt('aes-256-gcm', wrapKey, header.wrapNonce, header.wrappedKey, associated);
    }
    return aead.decrypt(header.algorithm, secret, header.wrapNonce, header.wrappedKey, associated);
  } catch (error) {
    if (error instanceof CofferError && error.code === 'EBADMSG')
      throw new CofferError(
        'EBADMSG',
        'the sealed stream header does not open: wrong AAD, wrong key version, or the header was altered',
      );
    throw error;
  } finally {
    wipe(wrapKey, sharedSecret);
  }
}

/** The chunk AEAD of a stream (SPEC §6.2.1). */
export function chunkCipherOf(algorithm: StreamAlgorithm): ChunkCipher {
  return algorithm === 'xchacha20-poly1305' ? 'chacha20-poly1305' : 'aes-256-gcm';
}

/** Called before each chunk; throws to stop the stream (key state re-checks, SPEC §6.2.2). */
export type BeforeChunk = (() => Promise<void>) | undefined;

/**
 * Seals the source chunk by chunk: c_i = AEAD'(dek, uint88(i) ‖ last, p_i). Yields one new array per
 * chunk. The source is read only as output is pulled.
 */
export async function* sealChunks(
  reader: ByteReader,
  cipher: ChunkCipher,
  dek: Uint8Array,
  chunkExponent: number,
  beforeChunk?: BeforeChunk,
): AsyncGenerator<Uint8Array> {
  const chunkSize = 2 ** chunkExponent;
  const nonce = new Uint8Array(12);
  for (let index = 0; ; index++) {
    if (beforeChunk) await beforeChunk();
    if (index >= MAX_CHUNKS)
      throw new CofferError('E2BIG', `a sealed stream has at most ${MAX_CHUNKS} chunks`);
    const { bytes, last } = await reader.readChunk(chunkSize);
    yield aead.encrypt(cipher, dek, writeChunkNonce(nonce, index, last), bytes);
    if (last) return;
  }
}

/**
 * Opens the chunks that follow a header, releasing each plaintext only after its tag verified. Ends
 * with EBADMSG when the input was truncated, extended, reordered, spliced or altered (SPEC §6.2.2).
 */
export async function* openChunks(
  reader: ByteReader,
  cipher: ChunkCipher,
  dek: Uint8Array,
  chunkExponent: number,
  beforeChunk?: BeforeChunk,
): AsyncGenerator<Uint8Array> {
  const sealedChunk = 2 ** chunkExponent + TAG_LENGTH;
  const nonce = new Uint8Array(12);
  for (let index = 0; ; index++) {
    if (beforeChunk) await beforeChunk();
    const { bytes, last } = await reader.readChunk(sealedChunk);
    if (bytes.length === 0)
      throw new CofferError('EBADMSG', 'the sealed stream has no chunk after its header (truncated)');
    if (bytes.length < TAG_LENGTH)
      throw new CofferError('EBADMSG', `the sealed stream ends inside chunk ${index} (truncated)`);
    if (last && bytes.length === TAG_LENGTH && index > 0)
      throw new CofferError('EBADMSG', 'the sealed stream ends with an empty chunk after a full one');
    if (index >= MAX_CHUNKS)
      throw new CofferError('EBADMSG', `the sealed stream has more than ${MAX_CHUNKS} chunks`);
    let plain: Uint8Array;
    try {
      plain = aead.decrypt(cipher, dek, writeChunkNonce(nonce, index, last), bytes);
    } catch (error) {
      if (error instanceof CofferError && error.code === 'EBADMSG')
        throw new CofferError(
          'EBADMSG',
          last
            ? `sealed stream chunk ${index}, the last one read, failed authentication: the stream was truncated, extended or altered`
            : `sealed stream chunk ${index} failed authentication: altered, reordered, dropped or from another stream`,
        );
      throw error;
    }
    yield plain;
    if (last) return;
  }
}
