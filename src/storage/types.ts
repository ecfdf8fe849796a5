// The storage contract (SPEC §9): opaque records under path-like keys, compare-and-swap on a
// per-record revision, atomic batches, ordered prefix listing. Storage knows nothing of crypto: the
// core encrypts and authenticates every value before it gets here and after it comes back.

/**
 * A record key: '/'-separated segments, each matching [A-Za-z0-9._-]{1,128}, at most 16 segments,
 * e.g. `keystore/billing/invoices/k_abc/v/1`. Backends may map segments to directories.
 */
export type RecordKey = string;

export interface StoredRecord {
  key: RecordKey;
  value: Uint8Array;
  /**
   * The store-wide generation at which this record was last written. Generations strictly increase
   * over the whole store (never reused, even after a delete), so "changed since generation G" is a
   * question every backend can answer.
   */
  revision: number;
}

/**
 * Compare-and-swap condition on a write: `expectRevision: 0` means "the record must not exist";
 * a positive number means "the record must exist at exactly this revision"; absent means no check.
 */
export interface WriteCondition {
  expectRevision?: number;
}

export type WriteOp =
  | ({ op: 'put'; key: RecordKey; value: Uint8Array } & WriteCondition)
  | ({ op: 'delete'; key: RecordKey } & WriteCondition);

export interface ListOptions {
  /** Only keys strictly greater than this one (for paging). */
  after?: RecordKey;
  /** At most this many records (default: all). */
  limit?: number;
}

export interface Storage {
  /** The URL scheme this backend serves: 'sqlite', 'dir' or 'postgres'. */
  readonly kind: 'sqlite' | 'dir' | 'postgres';

  /** The record, or undefined when absent. */
  get(key: RecordKey): Promise<StoredRecord | undefined>;

  /**
   * Records whose key starts with `prefix` (use a trailing '/' to list one folder's subtree), in
   * ascending key order (plain code-unit string order), served from an index, never a full scan.
   * The prefix is any leading part of a valid key ('' lists everything); a complete segment in it
   * that is not a valid key segment is EINVAL. `after` must be a valid key; `limit` ≥ 1.
   */
  list(prefix: string, options?: ListOptions): Promise<StoredRecord[]>;

  /**
   * Optional: `list` keeping only the keys that end with `suffix` (a run of key characters), chosen
   * inside the backend so the others are never read out (a key's meta records without its version
   * records, SPEC §4.6); `limit` counts the records returned. Callers fall back to `list` and a filter.
   */
  listEnding?(prefix: string, suffix: string, options?: ListOptions): Promise<StoredRecord[]>;

  /**
   * Applies every op atomically and durably (fsync'd before it resolves): all or none. A failed
   * condition on any op throws CofferError ECONFLICT and writes nothing. Resolves to the generation
   * the batch was written at (every written record gets this revision).
   *
   * Validated before any work: at least one op and each key at most once (EINVAL); at most 10 000
   * ops, values ≤ 64 MiB and ≤ 256 MiB of values per batch (E2BIG). Ops on `coffer/tree/` records (the
   * keystore's record tree) are counted apart: at most 65 536 of them and 256 MiB of their values
   * (SPEC §9.1), so a keystore caller's 10 000 ops commit whatever the tree adds. Every successful call uses
   * exactly one new generation, even one that only deletes absent records. Deleting an absent
   * record is not an error. EUNAVAIL means the outcome is unknown (e.g. the connection dropped
   * during commit): the batch was applied entirely or not at all, and a re-read tells which.
   */
  write(ops: WriteOp[]): Promise<number>;

  /** The highest generation written so far (0 for an empty store). */
  generation(): Promise<number>;

  /**
   * Records written after `generation` (revision > generation), in ascending key order. Deleted
   * records leave no trace here (no tombstones): a caller that must see deletions writes its own
   * tombstone record. Served from an index in every backend (dir: its `@changes` file, SPEC §9.6).
   */
  changedSince(generation: number): Promise<StoredRecord[]>;

  /**
   * Releases files, handles and connections (after this handle's writes in flight). Further calls
   * throw EUNAVAIL. Idempotent.
   */
  close(): Promise<void>;
}

export interface OpenStorageOptions {
  /** Create the store when it does not exist yet (otherwise a missing store is ENOENT). */
  create?: boolean;
}
