// The chunked AEAD stream of a backup body (SPEC §11.3), after age's STREAM construction: the
// compressed payload is cut into fixed-size chunks, each sealed with AES-256-GCM under a key derived
// from the file key, with a counter nonce and a final-chunk flag. Reordered chunks fail (counter),
// truncation at a chunk boundary fails (the new last chunk was sealed as non-final), and every chunk
// binds the whole preamble, so a changed header byte fails every chunk.
import { createHash } from 'node:crypto';
import * as aead from '../crypto/aead.js';
import { utf8, wipe } from '../crypto/bytes.js';
import { hkdf } from '../crypto/kdf.js';
import { CofferError } from '../errors.js';
import { chunkAad, chunkNonce, plainChunkLengths, sealedChunkLengths } from './format.js';

const PAYLOAD_INFO = utf8.encode('coffer:backup:payload:v1');

/** payload key = HKDF-SHA256(ikm = file key, salt = the 16 raw backupId bytes, info, 32). */
export function payloadKey(fileKey: Uint8Array, backupId: string): Uint8Array {
  return hkdf('sha256', fileKey, Buffer.from(backupId, 'base64url'), PAYLOAD_INFO, 32);
}

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** Yields the sealed chunks of `compressed` in order. */
export function* sealChunks(
  key: Uint8Array,
  preamble: Uint8Array,
  compressed: Uint8Array,
  chunkSize: number,
): Generator<Uint8Array> {
  const preambleHash = sha256(preamble);
  const lengths = plainChunkLengths(compressed.length, chunkSize);
  let offset = 0;
  for (let index = 0; index < lengths.length; index++) {
    const final = index === lengths.length - 1;
    const plain = compressed.subarray(offset, offset + lengths[index]!);
    offset += plain.length;
    yield aead.encrypt(
      'aes-256-gcm',
      key,
      chunkNonce(index, final),
      plain,
      chunkAad(preambleHash, index, final),
    );
  }
}

/**
 * Opens every chunk of `body` (the bytes between preamble and checksum) and returns the compressed
 * payload. Any failure is EBADMSG and nothing is returned: the caller restores nothing.
 */
export function openChunks(
  key: Uint8Array,
  preamble: Uint8Array,
  body: Uint8Array,
  chunkSize: number,
  onChunk?: (done: number, total: number) => void,
): Uint8Array {
  const preambleHash = sha256(preamble);
  const lengths = sealedChunkLengths(body.length, chunkSize);
  const out = new Uint8Array(body.length - 16 * lengths.length);
  let inOffset = 0;
  let outOffset = 0;
  try {
    for (let index = 0; index < lengths.length; index++) {
      const final = index === lengths.length - 1;
      const sealed = body.subarray(inOffset, inOffset + lengths[index]!);
      inOffset += sealed.length;
      let plain: Uint8Array;
      try {
        plain = aead.decrypt(
          'aes-256-gcm',
          key,
          chunkNonce(index, final),
          sealed,
          chunkAad(preambleHash, index, final),
        );
      } catch (error) {
        if (error instanceof CofferError && error.code === 'EBADMSG') {
          throw new CofferError(
            'EBADMSG',
            `backup chunk ${index} of ${lengths.length} failed authentication (tampered, reordered or truncated)`,
          );
        }
        throw error;
      }
      out.set(plain, outOffset);
      outOffset += plain.length;
      wipe(plain);
      onChunk?.(index + 1, lengths.length);
    }
    return out;
  } catch (error) {
    wipe(out);
    throw error;
  }
}
