// The backup file's byte layout (SPEC §11, "Encrypted backups"): preamble and JSON header, the
// STREAM-style chunk nonces and associated data, the chunk layout and the trailing checksum.
// Byte layouts and strict parsers only: no I/O, no key handling. Everything read from a file that
// does not match exactly is EBADMSG, since a backup is data that may have been damaged or tampered.

import { decodeBase64 } from '../base64.js';
import { utf8 } from '../crypto/bytes.js';
import { type PassphraseKdfParams, parsePassphraseKdfParams } from '../crypto/passphrase-kdf.js';
import { CofferError } from '../errors.js';

/** "COFFERBK": the first 8 bytes of every backup file. */
export const MAGIC = Uint8Array.from([0x43, 0x4f, 0x46, 0x46, 0x45, 0x52, 0x42, 0x4b]);
/** Written by this version; 1 (keys only, no keychain records) is still read (SPEC §11.1). */
export const FORMAT_VERSION = 2;
export const READABLE_VERSIONS: readonly number[] = [1, 2];
/** magic (8) ‖ version (1) ‖ header length (4). */
export const PREAMBLE_FIXED = 13;
export const MAX_HEADER_BYTES = 64 * 1024;
export const TAG_BYTES = 16;
export const CHECKSUM_BYTES = 32;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
export const MIN_CHUNK_SIZE = 1024;
export const MAX_CHUNK_SIZE = 1024 * 1024;
/** Uncompressed payload bound: one Node buffer, and a ceiling for inflate (no decompression bombs). */
export const MAX_PAYLOAD_BYTES = 2 ** 31 - 1;
export const MAX_KEY_COUNT = 10_000_000;
/** The wrapped file key: nonce (12) ‖ AES-256-GCM(32-byte file key) ‖ tag (16). */
export const WRAPPED_FILE_KEY_BYTES = 60;
export const XWING_CIPHERTEXT_BYTES = 1120;

export const BACKUP_KINDS = ['full', 'incremental', 'selective'] as const;
export type BackupKind = (typeof BACKUP_KINDS)[number];

export type RecipientHeader =
  | { type: 'passphrase'; kdf: PassphraseKdfParams; salt: string }
  | { type: 'x-wing'; keyId: string; version: number; ciphertext: string };

export interface BackupSelection {
  app?: string;
  purpose?: string;
  /** How many key ids the selection named (the ids themselves are inside the encrypted payload). */
  keys?: number;
}

export interface PayloadInfo {
  compression: 'deflate-raw';
  /** Uncompressed payload length in bytes. */
  bytes: number;
  aead: 'aes-256-gcm';
  chunkSize: number;
}

export interface BackupHeader {
  format: 'coffer-backup';
  /** Equals the version byte of the preamble. */
  version: 1 | 2;
  /** 16 random bytes, b64url: salts the payload key and names the backup in incremental chains. */
  backupId: string;
  kind: BackupKind;
  /** The source keystore's id. */
  storeId: string;
  createdAt: number;
  /** The store generation read before the export began (SPEC §9.2). */
  generation: number;
  /** Incremental only: the payload holds keys changed after this generation. */
  baseGeneration?: number;
  /** Incremental from a backup file: that backup's id. */
  baseBackupId?: string;
  selection?: BackupSelection;
  keyCount: number;
  /** Version 2: keychain item records in the payload (absent in version 1). */
  itemCount?: number;
  payload: PayloadInfo;
  recipient: RecipientHeader;
  /** b64 of the wrapped file key (WRAPPED_FILE_KEY_BYTES). */
  fileKey: string;
}

const ID_B64URL = /^[A-Za-z0-9_-]{22}$/;
const KEY_ID = /^k_[a-z2-7]{26}$/;
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const HEX = /^[0-9a-f]*$/;

function bad(message: string): CofferError {
  return new CofferError('EBADMSG', `backup header: ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Exactly the named fields: every required one, optional ones at most, nothing else. */
function exactFields(where: string, value: unknown, required: string[], optional: string[] = []) {
  if (!isObject(value)) throw bad(`${where} is not an object`);
  for (const name of required) if (!Object.hasOwn(value, name)) throw bad(`${where}.${name} is missing`);
  for (const name of Object.keys(value)) {
    if (!required.includes(name) && !optional.includes(name))
      throw bad(`${where}.${name} is not a known field`);
  }
  return value;
}

function integer(where: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw bad(`${where} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function canonicalB64(where: string, value: unknown, length: number): Uint8Array {
  if (typeof value !== 'string') throw bad(`${where} is not base64`);
  let bytes: Uint8Array | undefined;
  try {
    bytes = decodeBase64(value, 'base64', where);
  } catch {
    // reported below, with the expected length
  }
  if (bytes?.length !== length) throw bad(`${where} is not ${length} bytes of canonical base64`);
  return bytes;
}

function parseRecipient(value: unknown): RecipientHeader {
  if (!isObject(value)) throw bad('recipient is not an object');
  if (value.type === 'passphrase') {
    const r = exactFields('recipient', value, ['type', 'kdf', 'salt']);
    let kdf: PassphraseKdfParams;
    try {
      kdf = parsePassphraseKdfParams(r.kdf);
    } catch (error) {
      // Out-of-range parameters would make the unlock weak or ruinously expensive: refuse them.
      throw bad(`recipient.kdf: ${(error as Error).message}`);
    }
    const salt = r.salt;
    if (
      typeof salt !== 'string' ||
      !HEX.test(salt) ||
      salt.length < 32 ||
      salt.length > 128 ||
      salt.length % 2
    ) {
      throw bad('recipient.salt must be 16–64 bytes of lowercase hex');
    }
    return { type: 'passphrase', kdf, salt };
  }
  if (value.type === 'x-wing') {
    const r = exactFields('recipient', value, ['type', 'keyId', 'version', 'ciphertext']);
    if (typeof r.keyId !== 'string' || !KEY_ID.test(r.keyId)) throw bad('recipient.keyId is not a key id');
    const version = integer('recipient.version', r.version, 1, 10_000);
    canonicalB64('recipient.ciphertext', r.ciphertext, XWING_CIPHERTEXT_BYTES);
    return { type: 'x-wing', keyId: r.keyId, version, ciphertext: r.ciphertext as string };
  }
  throw bad('recipient.type must be passphrase or x-wing');
}

function parseSelection(value: unknown): BackupSelection {
  const s = exactFields('selection', value, [], ['app', 'purpose', 'keys']);
  const out: BackupSelection = {};
  if (s.app !== undefined) {
    if (typeof s.app !== 'string' || !NAME.test(s.app)) throw bad('selection.app is not an app name');
    out.app = s.app;
  }
  if (s.purpose !== undefined) {
    if (typeof s.purpose !== 'string' || !NAME.test(s.purpose))
      throw bad('selection.purpose is not a purpose');
    out.purpose = s.purpose;
  }
  if (s.keys !== undefined) out.keys = integer('selection.keys', s.keys, 1, MAX_KEY_COUNT);
  if (Object.keys(out).length === 0) throw bad('selection is empty');
  return out;
}

/** Validates a parsed header object field by field; the header is data from a file. */
export function parseHeader(value: unknown): BackupHeader {
  const h = exactFields(
    'header',
    value,
    [
      'format',
      'version',
      'backupId',
      'kind',
      'storeId',
      'createdAt',
      'generation',
      'keyCount',
      'payload',
      'recipient',
      'fileKey',
    ],
    ['baseGeneration', 'baseBackupId', 'selection', 'itemCount'],
  );
  if (h.format !== 'coffer-backup') throw bad('format is not coffer-backup');
  if (h.version !== 1 && h.version !== 2) throw bad(`unsupported header version ${String(h.version)}`);
  const version = h.version;
  if ((version === 2) !== (h.itemCount !== undefined))
    throw bad(version === 2 ? 'itemCount is missing' : 'itemCount is not a version-1 field');
  if (typeof h.backupId !== 'string' || !ID_B64URL.test(h.backupId))
    throw bad('backupId is not 16 bytes of b64url');
  if (typeof h.kind !== 'string' || !(BACKUP_KINDS as readonly string[]).includes(h.kind)) {
    throw bad('kind must be full, incremental or selective');
  }
  const kind = h.kind as BackupKind;
  if (typeof h.storeId !== 'string' || !ID_B64URL.test(h.storeId)) throw bad('storeId is not a keystore id');
  const createdAt = integer('createdAt', h.createdAt, 0, Number.MAX_SAFE_INTEGER);
  const generation = integer('generation', h.generation, 0, Number.MAX_SAFE_INTEGER);
  const keyCount = integer('keyCount', h.keyCount, 0, MAX_KEY_COUNT);
  const p = exactFields('payload', h.payload, ['compression', 'bytes', 'aead', 'chunkSize']);
  if (p.compression !== 'deflate-raw') throw bad('payload.compression must be deflate-raw');
  if (p.aead !== 'aes-256-gcm') throw bad('payload.aead must be aes-256-gcm');
  const chunkSize = integer('payload.chunkSize', p.chunkSize, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
  if ((chunkSize & (chunkSize - 1)) !== 0) throw bad('payload.chunkSize must be a power of two');
  const payload: PayloadInfo = {
    compression: 'deflate-raw',
    bytes: integer('payload.bytes', p.bytes, 1, MAX_PAYLOAD_BYTES),
    aead: 'aes-256-gcm',
    chunkSize,
  };
  const recipient = parseRecipient(h.recipient);
  canonicalB64('fileKey', h.fileKey, WRAPPED_FILE_KEY_BYTES);
  const header: BackupHeader = {
    format: 'coffer-backup',
    version,
    backupId: h.backupId,
    kind,
    storeId: h.storeId,
    createdAt,
    generation,
    keyCount,
    ...(version === 2 ? { itemCount: integer('itemCount', h.itemCount, 0, MAX_KEY_COUNT) } : {}),
    payload,
    recipient,
    fileKey: h.fileKey as string,
  };
  if (kind === 'incremental') {
    header.baseGeneration = integer('baseGeneration', h.baseGeneration, 0, generation);
    if (h.baseBackupId !== undefined) {
      if (typeof h.baseBackupId !== 'string' || !ID_B64URL.test(h.baseBackupId))
        throw bad('baseBackupId is malformed');
      header.baseBackupId = h.baseBackupId;
    }
  } else if (h.baseGeneration !== undefined || h.baseBackupId !== undefined) {
    throw bad('only an incremental backup has a base');
  }
  if (h.selection !== undefined) header.selection = parseSelection(h.selection);
  if (kind === 'selective' && !header.selection) throw bad('a selective backup names its selection');
  if (kind === 'full' && header.selection) throw bad('a full backup has no selection');
  return header;
}

/** Header fields in a fixed order, so equal headers are equal bytes. */
function orderedHeader(h: BackupHeader): Record<string, unknown> {
  return {
    format: h.format,
    version: h.version,
    backupId: h.backupId,
    kind: h.kind,
    storeId: h.storeId,
    createdAt: h.createdAt,
    generation: h.generation,
    ...(h.baseGeneration !== undefined ? { baseGeneration: h.baseGeneration } : {}),
    ...(h.baseBackupId !== undefined ? { baseBackupId: h.baseBackupId } : {}),
    ...(h.selection ? { selection: h.selection } : {}),
    keyCount: h.keyCount,
    ...(h.itemCount !== undefined ? { itemCount: h.itemCount } : {}),
    payload: h.payload,
    recipient: h.recipient,
    fileKey: h.fileKey,
  };
}

/** magic ‖ version ‖ uint32 header length ‖ header JSON. Validates the header it writes. */
export function encodePreamble(header: BackupHeader): Uint8Array {
  parseHeader(JSON.parse(JSON.stringify(header)));
  const json = utf8.encode(JSON.stringify(orderedHeader(header)));
  if (json.length > MAX_HEADER_BYTES) throw new CofferError('E2BIG', 'backup header over 64 KiB');
  const out = new Uint8Array(PREAMBLE_FIXED + json.length);
  out.set(MAGIC, 0);
  out[8] = header.version;
  new DataView(out.buffer).setUint32(9, json.length);
  out.set(json, PREAMBLE_FIXED);
  return out;
}

/** Reads the preamble at the start of `file`; returns the header and the preamble's length. */
export function parsePreamble(file: Uint8Array): { header: BackupHeader; preambleLength: number } {
  if (file.length < PREAMBLE_FIXED) throw new CofferError('EBADMSG', 'not a Coffer backup: file too short');
  for (let i = 0; i < MAGIC.length; i++) {
    if (file[i] !== MAGIC[i]) throw new CofferError('EBADMSG', 'not a Coffer backup (bad magic)');
  }
  const version = file[8]!;
  if (!READABLE_VERSIONS.includes(version))
    throw new CofferError(
      'EBADMSG',
      version > FORMAT_VERSION
        ? `unsupported backup format version ${version}: written by a newer Coffer (this one reads versions ${READABLE_VERSIONS.join(' and ')}); upgrade to restore it`
        : `unsupported backup format version ${version}`,
    );
  const length = new DataView(file.buffer, file.byteOffset, file.byteLength).getUint32(9);
  if (length < 2 || length > MAX_HEADER_BYTES) throw bad('length out of bounds');
  if (file.length < PREAMBLE_FIXED + length)
    throw new CofferError('EBADMSG', 'backup truncated inside its header');
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(file.subarray(PREAMBLE_FIXED, PREAMBLE_FIXED + length)));
  } catch {
    throw bad('not UTF-8 JSON');
  }
  const header = parseHeader(parsed);
  if (header.version !== version) throw bad(`version ${header.version} in a version-${version} file`);
  const canonical = utf8.encode(JSON.stringify(orderedHeader(header)));
  if (canonical.length !== length || !canonical.every((byte, i) => byte === file[PREAMBLE_FIXED + i])) {
    // One header, one encoding: whitespace or reordered fields are someone else's bytes.
    throw bad('not in canonical form');
  }
  return { header, preambleLength: PREAMBLE_FIXED + length };
}

/** 96-bit GCM nonce of chunk `index`: 11-byte big-endian counter ‖ final flag (age's STREAM). */
export function chunkNonce(index: number, final: boolean): Uint8Array {
  if (!Number.isSafeInteger(index) || index < 0) throw new CofferError('EINVAL', 'chunk index out of range');
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  view.setUint32(3, Math.floor(index / 2 ** 32));
  view.setUint32(7, index >>> 0);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

/** Associated data of chunk `index`: SHA-256(preamble) ‖ uint64 index ‖ final flag. */
export function chunkAad(preambleHash: Uint8Array, index: number, final: boolean): Uint8Array {
  const aad = new Uint8Array(41);
  aad.set(preambleHash, 0);
  const view = new DataView(aad.buffer);
  view.setUint32(32, Math.floor(index / 2 ** 32));
  view.setUint32(36, index >>> 0);
  aad[40] = final ? 1 : 0;
  return aad;
}

/** Plaintext lengths of the chunks that carry `length` compressed bytes (at least one chunk). */
export function plainChunkLengths(length: number, chunkSize: number): number[] {
  const out: number[] = [];
  let left = length;
  do {
    const n = Math.min(left, chunkSize);
    out.push(n);
    left -= n;
  } while (left > 0);
  return out;
}

/** Encrypted chunk lengths for a body of `bodyLength` bytes; EBADMSG when no layout fits. */
export function sealedChunkLengths(bodyLength: number, chunkSize: number): number[] {
  const full = chunkSize + TAG_BYTES;
  if (bodyLength < TAG_BYTES + 1) throw new CofferError('EBADMSG', 'backup truncated: no payload chunk');
  const count = Math.ceil(bodyLength / full);
  const last = bodyLength - (count - 1) * full;
  if (last < TAG_BYTES + 1) throw new CofferError('EBADMSG', 'backup truncated inside a chunk');
  return [...Array.from({ length: count - 1 }, () => full), last];
}
