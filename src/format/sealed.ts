// Sealed-blob header (SPEC §6): format version, kind, algorithm, key id and key version in 23 bytes,
// so unseal picks the exact key version with no trial decryption (Tink's prefix idea). No crypto here.
import { assertBytes } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';

export const SEALED_FORMAT_VERSION = 0x01;
export const SEALED_HEADER_LENGTH = 23;

export const SEALED_KINDS = { symmetric: 0x01, toPublicKey: 0x02 } as const;
export type SealedKind = keyof typeof SEALED_KINDS;

export const SEALED_ALGORITHMS = { 'aes-256-gcm': 0x01, 'xchacha20-poly1305': 0x02, 'x-wing': 0x03 } as const;
export type SealedAlgorithm = keyof typeof SEALED_ALGORITHMS;

export interface SealedHeader {
  kind: SealedKind;
  algorithm: SealedAlgorithm;
  /** 16 raw key-id bytes. */
  keyId: Uint8Array;
  version: number;
}

export function encodeSealedHeader(header: SealedHeader): Uint8Array {
  if (header.keyId.length !== 16) throw new CofferError('EINVAL', 'key id must be 16 bytes');
  if (!Number.isInteger(header.version) || header.version < 1 || header.version > 0xffffffff) {
    throw new CofferError('EINVAL', 'key version must be an integer from 1 to 2^32-1');
  }
  const out = new Uint8Array(SEALED_HEADER_LENGTH);
  out[0] = SEALED_FORMAT_VERSION;
  out[1] = SEALED_KINDS[header.kind];
  out[2] = SEALED_ALGORITHMS[header.algorithm];
  out.set(header.keyId, 3);
  new DataView(out.buffer).setUint32(19, header.version, false);
  return out;
}

function lookup<T extends string>(table: Record<T, number>, byte: number | undefined): T | undefined {
  return (Object.keys(table) as T[]).find((name) => table[name] === byte);
}

/**
 * Parses the header of a sealed blob. Anything that is not a header we wrote is EBADMSG: to the
 * caller a mangled header is indistinguishable from a tampered ciphertext.
 */
export function parseSealedHeader(blob: Uint8Array): {
  header: SealedHeader;
  headerBytes: Uint8Array;
  body: Uint8Array;
} {
  assertBytes('sealed data', blob);
  if (blob.length < SEALED_HEADER_LENGTH)
    throw new CofferError('EBADMSG', 'sealed data is too short for its header');
  if (blob[0] !== SEALED_FORMAT_VERSION) {
    throw new CofferError('EBADMSG', `unknown sealed format version ${blob[0]}`);
  }
  const kind = lookup(SEALED_KINDS, blob[1]);
  const algorithm = lookup(SEALED_ALGORITHMS, blob[2]);
  if (kind === undefined) throw new CofferError('EBADMSG', `unknown sealed kind ${blob[1]}`);
  if (algorithm === undefined) throw new CofferError('EBADMSG', `unknown sealed algorithm ${blob[2]}`);
  if ((kind === 'toPublicKey') !== (algorithm === 'x-wing')) {
    throw new CofferError('EBADMSG', 'sealed kind and algorithm do not match');
  }
  const version = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(19, false);
  if (version === 0) throw new CofferError('EBADMSG', 'sealed key version 0 does not exist');
  return {
    header: { kind, algorithm, keyId: blob.slice(3, 19), version },
    headerBytes: blob.subarray(0, SEALED_HEADER_LENGTH),
    body: blob.subarray(SEALED_HEADER_LENGTH),
  };
}
