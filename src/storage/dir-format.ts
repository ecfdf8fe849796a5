// On-disk formats of the dir: backend (SPEC "Storage model / dir"): the names reserved in a store
// directory, the record file, the batch journal and the generation file. Every record file carries
// its own key, revision, length and a SHA-256 checksum, so a truncated, swapped or bit-rotted file
// is reported as corrupt instead of being returned as a wrong or partial record. (The checksum is
// integrity against accidents only; authenticity is the core's AEAD over every value.)
import { createHash } from 'node:crypto';
import { CofferError } from '../errors.js';
import { excerpt, recordKeyProblem } from './keys.js';
import type { RecordKey } from './types.js';

/**
 * Reserved names all contain '@', which no key segment may contain, so they can never collide with a
 * record's directory or file. A record `a/b/c` lives in the file `a/b/c@`; the directory `a/b/c/`
 * holds the records under `a/b/c/…`, so a key can be both a record and a prefix of others.
 */
export const RECORD_SUFFIX = '@';
export const MARKER_FILE = '@coffer-dir.json';
/** The last committed batch (redo journal); its header is the store's generation counter. */
export const JOURNAL_FILE = '@journal';
/** The generation whose journal has been fully applied to the record files. */
export const APPLIED_FILE = '@applied';
export const LOCK_FILE = '@lock';
export const TMP_DIR = '@tmp';

/** 2: group journals ('CFJ2') and the changes index `@changes`; a version-1 store is upgraded on open. */
export const DIR_FORMAT_VERSION = 2;
export const CHANGES_FILE = '@changes';

export function markerContent(): string {
  return `${JSON.stringify({ format: 'coffer-dir', version: DIR_FORMAT_VERSION })}\n`;
}

/** Reads the marker file's format version; throws EUNAVAIL when it is not a Coffer dir store. */
export function parseMarker(text: string, root: string): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const marker = parsed as { format?: unknown; version?: unknown } | undefined;
  if (marker?.format !== 'coffer-dir' || typeof marker.version !== 'number') {
    throw new CofferError('EUNAVAIL', `dir store ${root}: ${MARKER_FILE} is damaged`);
  }
  return marker.version;
}

export function encodeApplied(generation: number): string {
  return `${generation}\n`;
}

export function parseApplied(text: string, where: string): number {
  const match = /^(\d{1,16})\n$/.exec(text);
  const value = match === null ? Number.NaN : Number(match[1]);
  if (!Number.isSafeInteger(value)) throw corrupt(where);
  return value;
}

const RECORD_MAGIC = 0x43465231; // 'CFR1'
const JOURNAL_MAGIC = 0x43464a31; // 'CFJ1'
const JOURNAL_MAGIC_2 = 0x43464a32; // 'CFJ2'
const CHECKSUM_BYTES = 32;

export function checksum(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

export function corrupt(what: string): CofferError {
  return new CofferError('EUNAVAIL', `${what} is corrupt: restore the store from a backup`);
}

/**
 * Record file: magic 'CFR1' | revision u64 | key length u16 | key (ASCII) | value length u32 | value
 * | SHA-256 of everything before. Big-endian throughout.
 */
export function encodeRecord(key: RecordKey, revision: number, value: Uint8Array): Buffer {
  const keyBytes = Buffer.from(key, 'latin1');
  const size = 4 + 8 + 2 + keyBytes.length + 4 + value.byteLength;
  const out = Buffer.allocUnsafe(size + CHECKSUM_BYTES);
  let at = out.writeUInt32BE(RECORD_MAGIC, 0);
  at = out.writeBigUInt64BE(BigInt(revision), at);
  at = out.writeUInt16BE(keyBytes.length, at);
  at += keyBytes.copy(out, at);
  at = out.writeUInt32BE(value.byteLength, at);
  out.set(value, at);
  checksum(out.subarray(0, size)).copy(out, size);
  return out;
}

/** Parses a record file, checking its checksum and that it belongs to `key`. */
export function decodeRecord(
  bytes: Buffer,
  key: RecordKey,
  where: string,
): { revision: number; value: Uint8Array } {
  const what = `record file ${where}`;
  if (bytes.length < 4 + 8 + 2 + 4 + CHECKSUM_BYTES || bytes.readUInt32BE(0) !== RECORD_MAGIC) {
    throw corrupt(what);
  }
  const size = bytes.length - CHECKSUM_BYTES;
  if (!checksum(bytes.subarray(0, size)).equals(bytes.subarray(size))) throw corrupt(what);
  const revision = Number(bytes.readBigUInt64BE(4));
  const keyLength = bytes.readUInt16BE(12);
  const keyEnd = 14 + keyLength;
  if (keyEnd + 4 > size) throw corrupt(what);
  const storedKey = bytes.toString('latin1', 14, keyEnd);
  const valueLength = bytes.readUInt32BE(keyEnd);
  if (keyEnd + 4 + valueLength !== size || !Number.isSafeInteger(revision) || revision < 1) {
    throw corrupt(what);
  }
  if (storedKey !== key) {
    throw new CofferError(
      'EUNAVAIL',
      `${what} holds record ${excerpt(storedKey)}: the store was tampered with`,
    );
  }
  // A copy that owns its bytes, so callers never hold a view into the file buffer.
  return { revision, value: new Uint8Array(bytes.subarray(keyEnd + 4, size)) };
}

export type JournalOp = { op: 'put'; key: RecordKey; value: Uint8Array } | { op: 'delete'; key: RecordKey };

/** One caller's batch inside a journal, at its own generation. */
export interface JournalBatch {
  generation: number;
  ops: JournalOp[];
}

/**
 * The last committed group of batches (group commit, SPEC §9.6): consecutive generations, the last
 * of which is `generation` (the store's generation counter).
 */
export interface Journal {
  generation: number;
  batches: JournalBatch[];
}

function opBytes(op: JournalOp): number {
  return 1 + 2 + op.key.length + (op.op === 'put' ? 4 + op.value.byteLength : 0);
}

function writeOp(out: Buffer, at: number, op: JournalOp): number {
  at = out.writeUInt8(op.op === 'put' ? 1 : 2, at);
  at = out.writeUInt16BE(op.key.length, at);
  at += out.write(op.key, at, 'latin1');
  if (op.op === 'put') {
    at = out.writeUInt32BE(op.value.byteLength, at);
    out.set(op.value, at);
    at += op.value.byteLength;
  }
  return at;
}

/**
 * Journal (format 2): magic 'CFJ2' | generation u64 (the last batch's) | batch count u32 | batches |
 * SHA-256 of everything before; a batch is op count u32 | ops, and batch i (from 0) of n is at
 * generation − n + 1 + i; an op is type u8 (1 put, 2 delete) | key length u16 | key | for a put:
 * value length u32 | value. The batches must be at consecutive generations ending at `generation`.
 */
export function encodeJournal(journal: Journal): Buffer {
  const count = journal.batches.length;
  journal.batches.forEach((batch, i) => {
    if (batch.generation !== journal.generation - count + 1 + i) {
      throw new Error('journal batches must be at consecutive generations ending at the journal generation');
    }
  });
  let size = 4 + 8 + 4;
  for (const batch of journal.batches) {
    size += 4;
    for (const op of batch.ops) size += opBytes(op);
  }
  const out = Buffer.allocUnsafe(size + CHECKSUM_BYTES);
  let at = out.writeUInt32BE(JOURNAL_MAGIC_2, 0);
  at = out.writeBigUInt64BE(BigInt(journal.generation), at);
  at = out.writeUInt32BE(count, at);
  for (const batch of journal.batches) {
    at = out.writeUInt32BE(batch.ops.length, at);
    for (const op of batch.ops) at = writeOp(out, at, op);
  }
  checksum(out.subarray(0, size)).copy(out, size);
  return out;
}

/** The format-1 journal (one batch), still read to finish a batch a version-1 writer left. */
export function encodeJournalV1(generation: number, ops: JournalOp[]): Buffer {
  let size = 4 + 8 + 4;
  for (const op of ops) size += opBytes(op);
  const out = Buffer.allocUnsafe(size + CHECKSUM_BYTES);
  let at = out.writeUInt32BE(JOURNAL_MAGIC, 0);
  at = out.writeBigUInt64BE(BigInt(generation), at);
  at = out.writeUInt32BE(ops.length, at);
  for (const op of ops) at = writeOp(out, at, op);
  checksum(out.subarray(0, size)).copy(out, size);
  return out;
}

/** Bytes of the journal header that hold its generation. */
export const JOURNAL_HEADER_BYTES = 12;

/**
 * The generation in a journal's header, without reading the rest (readers poll it to detect
 * commits). The full journal, checksum included, is verified whenever it is used.
 */
export function journalHeaderGeneration(header: Buffer, where: string): number {
  const magic = header.length >= JOURNAL_HEADER_BYTES ? header.readUInt32BE(0) : 0;
  if (magic !== JOURNAL_MAGIC && magic !== JOURNAL_MAGIC_2) throw corrupt(where);
  const generation = Number(header.readBigUInt64BE(4));
  if (!Number.isSafeInteger(generation) || generation < 1) throw corrupt(where);
  return generation;
}

/** Reads one op at `at`; undefined when it does not fit in `size` or is malformed. */
function readOp(bytes: Buffer, at: number, size: number): { op: JournalOp; at: number } | undefined {
  if (at + 3 > size) return undefined;
  const type = bytes.readUInt8(at);
  const keyLength = bytes.readUInt16BE(at + 1);
  at += 3;
  if (at + keyLength > size) return undefined;
  const key = bytes.toString('latin1', at, at + keyLength);
  at += keyLength;
  if (recordKeyProblem(key) !== undefined) return undefined;
  if (type === 1) {
    if (at + 4 > size) return undefined;
    const length = bytes.readUInt32BE(at);
    at += 4;
    if (at + length > size) return undefined;
    return {
      op: { op: 'put', key, value: new Uint8Array(bytes.subarray(at, at + length)) },
      at: at + length,
    };
  }
  if (type === 2) return { op: { op: 'delete', key }, at };
  return undefined;
}

/** Parses a journal of format 2 (a group of batches) or format 1 (one batch). */
export function decodeJournal(bytes: Buffer, where: string): Journal {
  const what = `batch journal ${where}`;
  if (bytes.length < 16 + CHECKSUM_BYTES) throw corrupt(what);
  const magic = bytes.readUInt32BE(0);
  if (magic !== JOURNAL_MAGIC && magic !== JOURNAL_MAGIC_2) throw corrupt(what);
  const size = bytes.length - CHECKSUM_BYTES;
  if (!checksum(bytes.subarray(0, size)).equals(bytes.subarray(size))) throw corrupt(what);
  const generation = Number(bytes.readBigUInt64BE(4));
  if (!Number.isSafeInteger(generation) || generation < 1) throw corrupt(what);
  const readOps = (count: number, at: number) => {
    const ops: JournalOp[] = [];
    for (let i = 0; i < count; i++) {
      const read = readOp(bytes, at, size);
      if (read === undefined) throw corrupt(what);
      ops.push(read.op);
      at = read.at;
    }
    return { ops, at };
  };
  if (magic === JOURNAL_MAGIC) {
    const { ops, at } = readOps(bytes.readUInt32BE(12), 16);
    if (at !== size) throw corrupt(what);
    return { generation, batches: [{ generation, ops }] };
  }
  const count = bytes.readUInt32BE(12);
  if (count < 1 || count > generation) throw corrupt(what);
  const batches: JournalBatch[] = [];
  let at = 16;
  for (let i = 0; i < count; i++) {
    if (at + 4 > size) throw corrupt(what);
    const read = readOps(bytes.readUInt32BE(at), at + 4);
    batches.push({ generation: generation - count + 1 + i, ops: read.ops });
    at = read.at;
  }
  if (at !== size) throw corrupt(what);
  return { generation, batches };
}

/** The generation of a journal's first batch. */
export function journalFirstGeneration(journal: Journal): number {
  return journal.generation - journal.batches.length + 1;
}

/** Each key's final op once every batch of the journal is applied, with the revision it leaves. */
export function journalEffects(journal: Journal): Map<RecordKey, { op: JournalOp; revision: number }> {
  const out = new Map<RecordKey, { op: JournalOp; revision: number }>();
  for (const batch of journal.batches) {
    for (const op of batch.ops) {
      out.delete(op.key);
      out.set(op.key, { op, revision: batch.generation });
    }
  }
  return out;
}
