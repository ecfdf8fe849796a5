// Reading a backup file without any key (SPEC §11.6): the header fields and the checksum over the
// whole file, so `coffer backup inspect` can say what a file is and whether it arrived intact.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { equalBytes } from '../crypto/bytes.js';
import type { PassphraseKdfParams } from '../crypto/passphrase-kdf.js';
import { CofferError } from '../errors.js';
import {
  type BackupHeader,
  CHECKSUM_BYTES,
  MAX_HEADER_BYTES,
  MAX_PAYLOAD_BYTES,
  PREAMBLE_FIXED,
  parsePreamble,
  sealedChunkLengths,
} from './format.js';

/** The header's own fields as they are, plus what the file's layout says. */
export interface BackupInfo
  extends Pick<
    BackupHeader,
    | 'kind'
    | 'backupId'
    | 'storeId'
    | 'createdAt'
    | 'generation'
    | 'baseGeneration'
    | 'baseBackupId'
    | 'selection'
    | 'keyCount'
  > {
  /** The file's format version (SPEC §11.1). */
  version: 1 | 2;
  /** Keychain items in the payload (0 in a version-1 file). */
  itemCount: number;
  recipient:
    | { type: 'passphrase'; kdf: PassphraseKdfParams }
    | { type: 'x-wing'; keyId: string; version: number };
  /** Uncompressed payload bytes, chunk size and chunk count. */
  payloadBytes: number;
  chunkSize: number;
  chunks: number;
  /** File size in bytes. */
  bytes: number;
  /** The SHA-256 checksum matched (inspect throws EBADMSG otherwise). */
  checksum: 'ok';
}

/** Largest file a backup can be: header, every chunk's tag at the smallest chunk size, payload, checksum. */
const MAX_FILE_BYTES = PREAMBLE_FIXED + MAX_HEADER_BYTES + MAX_PAYLOAD_BYTES * 1.02 + CHECKSUM_BYTES;

function fsError(path: string, error: unknown): CofferError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new CofferError('ENOENT', `no backup file at ${path}`);
  if (code === 'EACCES' || code === 'EPERM')
    return new CofferError('EPERM', `cannot read ${path}: permission denied`);
  if (code === 'EISDIR') return new CofferError('EINVAL', `${path} is a directory, not a backup file`);
  return new CofferError('EUNAVAIL', `cannot read ${path}: ${code ?? (error as Error).message}`);
}

/** The file's bytes, header and layout; the checksum is verified before anything else is used. */
export async function readBackupFile(
  path: string,
): Promise<{ file: Uint8Array; header: BackupHeader; preambleLength: number; body: Uint8Array }> {
  if (typeof path !== 'string' || path.length === 0)
    throw new CofferError('EINVAL', 'path must be a non-empty string');
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new CofferError('EINVAL', `${path} is not a regular file`);
    size = info.size;
  } catch (error) {
    if (error instanceof CofferError) throw error;
    throw fsError(path, error);
  }
  if (size > MAX_FILE_BYTES) throw new CofferError('E2BIG', `${path} is larger than any backup can be`);
  let buffer: Buffer;
  try {
    buffer = await readFile(path);
  } catch (error) {
    throw fsError(path, error);
  }
  return parseBackupBytes(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength));
}

/**
 * A backup's header and layout from its bytes (a file read elsewhere, or a backup sent to the
 * daemon); the checksum is verified before anything else is used.
 */
export function parseBackupBytes(file: Uint8Array): {
  file: Uint8Array;
  header: BackupHeader;
  preambleLength: number;
  body: Uint8Array;
} {
  if (!(file instanceof Uint8Array)) throw new CofferError('EINVAL', 'a backup must be bytes');
  if (file.length > MAX_FILE_BYTES) throw new CofferError('E2BIG', 'larger than any backup can be');
  const { header, preambleLength } = parsePreamble(file);
  if (file.length < preambleLength + CHECKSUM_BYTES)
    throw new CofferError('EBADMSG', 'backup truncated: no checksum');
  const end = file.length - CHECKSUM_BYTES;
  const digest = createHash('sha256').update(file.subarray(0, end)).digest();
  if (!equalBytes(new Uint8Array(digest), file.subarray(end))) {
    throw new CofferError(
      'EBADMSG',
      'backup checksum mismatch: the file is corrupted, truncated or was altered',
    );
  }
  const body = file.subarray(preambleLength, end);
  sealedChunkLengths(body.length, header.payload.chunkSize);
  return { file, header, preambleLength, body };
}

export function describe(header: BackupHeader, fileBytes: number, bodyBytes: number): BackupInfo {
  const r = header.recipient;
  return {
    kind: header.kind,
    backupId: header.backupId,
    storeId: header.storeId,
    createdAt: header.createdAt,
    generation: header.generation,
    ...(header.baseGeneration !== undefined ? { baseGeneration: header.baseGeneration } : {}),
    ...(header.baseBackupId !== undefined ? { baseBackupId: header.baseBackupId } : {}),
    ...(header.selection ? { selection: header.selection } : {}),
    keyCount: header.keyCount,
    itemCount: header.itemCount ?? 0,
    version: header.version,
    recipient:
      r.type === 'passphrase'
        ? { type: 'passphrase', kdf: r.kdf }
        : { type: 'x-wing', keyId: r.keyId, version: r.version },
    payloadBytes: header.payload.bytes,
    chunkSize: header.payload.chunkSize,
    chunks: sealedChunkLengths(bodyBytes, header.payload.chunkSize).length,
    bytes: fileBytes,
    checksum: 'ok',
  };
}

/** Header fields of a backup file, without decrypting anything; a damaged file → EBADMSG. */
export async function inspectBackup(path: string): Promise<BackupInfo> {
  const { file, header, body } = await readBackupFile(path);
  return describe(header, file.length, body.length);
}
