// Argument validation shared by every storage backend (SPEC §9, SPEC "Storage model"). Backends
// call these before touching a file or a connection, so bad input is always EINVAL/E2BIG with the
// same message whichever backend serves the store, and the dir backend can map keys to paths
// knowing no segment is empty, '.', '..' or contains a separator.
import { CofferError } from '../errors.js';
import type { ListOptions, RecordKey, WriteOp } from './types.js';

/** Most segments a record key may have. */
export const MAX_KEY_SEGMENTS = 16;
/** Longest segment, in characters (one byte each: the alphabet is ASCII). */
export const MAX_SEGMENT_LENGTH = 128;
/** Longest record key: 16 segments of 128 characters and their 15 separators. */
export const MAX_KEY_LENGTH = MAX_KEY_SEGMENTS * MAX_SEGMENT_LENGTH + MAX_KEY_SEGMENTS - 1;
/** Largest single value (sealed payloads are ≤ 16 MiB by default; headroom for wrapping). */
export const MAX_VALUE_BYTES = 64 * 1024 * 1024;
/** Most operations in one batch on records outside TREE_RECORD_PREFIX (the callers' ops). */
export const MAX_BATCH_OPS = 10_000;
/** Largest total of value bytes in one batch, over the callers' ops (tree records counted apart). */
export const MAX_BATCH_BYTES = 256 * 1024 * 1024;
/**
 * The keystore's record tree (SPEC §4.1). The keystore adds the tree's changed nodes and its root to
 * every batch it writes, on top of its caller's ops, so those are counted apart (SPEC §9.1): a caller
 * batch of up to MAX_BATCH_OPS ops commits whatever the tree adds.
 */
export const TREE_RECORD_PREFIX = 'coffer/tree/';
/**
 * Most ops on tree records in one batch. The tree adds, for c ≤ 10 000 tracked ops, one root and the
 * nodes on their paths — at most 1 + 16 + 256 + 4 096 at depths 0–3 and c per deeper level — plus up
 * to 15 siblings per bucket that splits or inner node that shrinks: about 3.4 × 10⁴ at depth 6, i.e.
 * 6.4 × 10⁷ records (SPEC §9.1 has the derivation). Nodes are ≤ 4 098 bytes, so 65 536 of them stay
 * near MAX_BATCH_BYTES.
 */
export const MAX_TREE_OPS = 65_536;

const SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;
const PREFIX_CHARS = /^[A-Za-z0-9._/-]*$/;

/** Whether `segment` is one valid key segment (also what the dir backend accepts as a file name). */
export function isKeySegment(segment: string): boolean {
  return SEGMENT.test(segment) && segment !== '.' && segment !== '..';
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `a string of length ${value.length}`;
  if (value === null) return 'null';
  return `a value of type ${typeof value}`;
}

/** Explains why `key` is not a valid record key, or returns undefined when it is. */
export function recordKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return `expected a string, got ${describe(key)}`;
  if (key.length === 0) return 'the key is empty';
  if (key.length > MAX_KEY_LENGTH) return `the key is longer than ${MAX_KEY_LENGTH} characters`;
  const segments = key.split('/');
  if (segments.length > MAX_KEY_SEGMENTS) return `the key has more than ${MAX_KEY_SEGMENTS} segments`;
  for (const [index, segment] of segments.entries()) {
    if (segment.length === 0) return `segment ${index + 1} is empty`;
    if (segment === '.' || segment === '..') return `segment ${index + 1} is '${segment}'`;
    if (!SEGMENT.test(segment)) {
      return `segment ${index + 1} must be 1-${MAX_SEGMENT_LENGTH} characters of [A-Za-z0-9._-]`;
    }
  }
  return undefined;
}

/** Throws EINVAL unless `key` is a valid record key ('/'-separated [A-Za-z0-9._-]{1,128}, ≤ 16). */
export function checkRecordKey(key: unknown, what = 'record key'): asserts key is RecordKey {
  const problem = recordKeyProblem(key);
  // Only a short, sanitised excerpt of the key goes into the message: keys are not secret, but a
  // caller could pass anything here and error text ends up in logs.
  if (problem !== undefined) throw new CofferError('EINVAL', `invalid ${what} ${excerpt(key)}: ${problem}`);
}

/**
 * A listing prefix is any leading part of a valid key: every complete segment (those followed by
 * '/') must be a valid segment, and the trailing partial segment may be empty or any run of key
 * characters. The empty prefix lists the whole store.
 */
export function checkPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') {
    throw new CofferError('EINVAL', `invalid list prefix: expected a string, got ${describe(prefix)}`);
  }
  if (prefix.length > MAX_KEY_LENGTH || !PREFIX_CHARS.test(prefix)) {
    throw new CofferError(
      'EINVAL',
      `invalid list prefix ${excerpt(prefix)}: use at most ${MAX_KEY_LENGTH} characters of [A-Za-z0-9._/-]`,
    );
  }
  const segments = prefix.split('/');
  const complete = segments.slice(0, -1);
  if (complete.length >= MAX_KEY_SEGMENTS) {
    throw new CofferError('EINVAL', `invalid list prefix ${excerpt(prefix)}: too many segments`);
  }
  for (const segment of complete) {
    if (!isKeySegment(segment)) {
      throw new CofferError(
        'EINVAL',
        `invalid list prefix ${excerpt(prefix)}: every complete segment must be a valid key segment`,
      );
    }
  }
  const last = segments[segments.length - 1] ?? '';
  if (last.length > MAX_SEGMENT_LENGTH) {
    throw new CofferError('EINVAL', `invalid list prefix ${excerpt(prefix)}: last segment too long`);
  }
}

/** A listing's key ending (Storage.listEnding): 1 to 128 key characters, '/' included. */
export function checkKeySuffix(suffix: unknown): string {
  if (
    typeof suffix !== 'string' ||
    suffix.length === 0 ||
    suffix.length > MAX_SEGMENT_LENGTH ||
    !PREFIX_CHARS.test(suffix)
  )
    throw new CofferError(
      'EINVAL',
      `invalid list ending ${excerpt(suffix)}: use 1-${MAX_SEGMENT_LENGTH} characters of [A-Za-z0-9._/-]`,
    );
  return suffix;
}

export interface CheckedListOptions {
  after: RecordKey | undefined;
  limit: number | undefined;
}

export function checkListOptions(options: unknown): CheckedListOptions {
  if (options === undefined) return { after: undefined, limit: undefined };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CofferError('EINVAL', 'list options must be an object');
  }
  const { after, limit } = options as ListOptions;
  if (after !== undefined) checkRecordKey(after, "list option 'after'");
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new CofferError('EINVAL', "list option 'limit' must be a positive integer");
  }
  return { after, limit };
}

export function checkGeneration(generation: unknown): asserts generation is number {
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) {
    throw new CofferError('EINVAL', 'generation must be a non-negative safe integer');
  }
}

/** A validated op: the condition is normalised to `undefined` or a non-negative integer. */
export type CheckedOp =
  | { op: 'put'; key: RecordKey; value: Uint8Array; expectRevision: number | undefined }
  | { op: 'delete'; key: RecordKey; expectRevision: number | undefined };

/**
 * Validates a whole batch before any backend work: non-empty, bounded, each key valid and used once
 * (two ops on one key in one batch would make "all or none" ambiguous), values are Uint8Arrays.
 */
export function checkBatch(ops: unknown): CheckedOp[] {
  if (!Array.isArray(ops)) throw new CofferError('EINVAL', 'write expects an array of operations');
  if (ops.length === 0) throw new CofferError('EINVAL', 'write expects at least one operation');
  // The bound on the whole array first, so a huge one is refused before its ops are looked at.
  if (ops.length > MAX_BATCH_OPS + MAX_TREE_OPS) {
    throw new CofferError(
      'E2BIG',
      `a batch holds at most ${MAX_BATCH_OPS} operations and ${MAX_TREE_OPS} on the record tree, got ${ops.length}`,
    );
  }
  const seen = new Set<string>();
  const checked: CheckedOp[] = [];
  let total = 0;
  let treeBytes = 0;
  let treeOps = 0;
  for (const [index, raw] of ops.entries()) {
    if (typeof raw !== 'object' || raw === null) {
      throw new CofferError('EINVAL', `operation ${index} must be an object`);
    }
    const op = raw as Partial<WriteOp> & { value?: unknown; expectRevision?: unknown };
    if (op.op !== 'put' && op.op !== 'delete') {
      throw new CofferError('EINVAL', `operation ${index}: 'op' must be 'put' or 'delete'`);
    }
    checkRecordKey(op.key, `record key in operation ${index}`);
    if (seen.has(op.key)) {
      throw new CofferError(
        'EINVAL',
        `operation ${index}: key ${excerpt(op.key)} appears twice in the batch`,
      );
    }
    seen.add(op.key);
    const tree = op.key.startsWith(TREE_RECORD_PREFIX);
    if (tree) treeOps++;
    const expect = op.expectRevision;
    if (expect !== undefined && (typeof expect !== 'number' || !Number.isSafeInteger(expect) || expect < 0)) {
      throw new CofferError(
        'EINVAL',
        `operation ${index}: expectRevision must be a non-negative safe integer when present`,
      );
    }
    if (op.op === 'put') {
      if (!(op.value instanceof Uint8Array)) {
        throw new CofferError('EINVAL', `operation ${index}: a put needs a Uint8Array value`);
      }
      if (op.value.byteLength > MAX_VALUE_BYTES) {
        throw new CofferError('E2BIG', `operation ${index}: values are at most ${MAX_VALUE_BYTES} bytes`);
      }
      if (tree) treeBytes += op.value.byteLength;
      else total += op.value.byteLength;
      checked.push({ op: 'put', key: op.key, value: op.value, expectRevision: expect });
    } else {
      checked.push({ op: 'delete', key: op.key, expectRevision: expect });
    }
  }
  checkBatchSize(ops.length - treeOps, treeOps);
  if (total > MAX_BATCH_BYTES || treeBytes > MAX_BATCH_BYTES) {
    throw new CofferError('E2BIG', `a batch holds at most ${MAX_BATCH_BYTES} value bytes`);
  }
  return checked;
}

/**
 * E2BIG unless a batch of `callerOps` ops outside the record tree and `treeOps` on it fits (SPEC §9.1).
 * VerifiedStorage calls it on its caller's batch before the tree is computed, backends on the whole.
 */
export function checkBatchSize(callerOps: number, treeOps: number): void {
  if (callerOps > MAX_BATCH_OPS) {
    throw new CofferError(
      'E2BIG',
      `a batch holds at most ${MAX_BATCH_OPS} operations (besides the record tree's), got ${callerOps}`,
    );
  }
  if (treeOps > MAX_TREE_OPS) {
    throw new CofferError(
      'E2BIG',
      `a batch holds at most ${MAX_TREE_OPS} operations on the record tree (${TREE_RECORD_PREFIX}), got ${treeOps}`,
    );
  }
}

/** Whether a record currently at `revision` (undefined: absent) satisfies `expectRevision`. */
export function conditionHolds(expectRevision: number | undefined, revision: number | undefined): boolean {
  if (expectRevision === undefined) return true;
  if (expectRevision === 0) return revision === undefined;
  return revision === expectRevision;
}

/** The ECONFLICT every backend throws for a failed condition (no values, only the key). */
export function conflictError(key: RecordKey, expectRevision: number, revision: number | undefined) {
  const found = revision === undefined ? 'it does not exist' : `it is at revision ${revision}`;
  const wanted = expectRevision === 0 ? 'to be absent' : `at revision ${expectRevision}`;
  return new CofferError('ECONFLICT', `record ${excerpt(key)} expected ${wanted} but ${found}`);
}

/**
 * The smallest string greater than every string that starts with `prefix` (for range scans). The
 * prefix alphabet is ASCII below 0x7f, so bumping the last character stays in range.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  if (prefix.length === 0) return undefined;
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** Plain code-unit comparison (the order the contract promises; not locale order). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A Uint8Array that owns exactly its bytes (no view into a larger pooled buffer). */
export function ownedBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) {
    return new Uint8Array(bytes.buffer, 0, bytes.byteLength);
  }
  return new Uint8Array(bytes);
}

/** A short printable excerpt of something that should have been a key (for error messages). */
export function excerpt(value: unknown): string {
  if (typeof value !== 'string') return `(${typeof value})`;
  const clean = value.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(clean.length > 80 ? `${clean.slice(0, 77)}...` : clean);
}
