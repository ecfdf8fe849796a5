// The keystore's view of storage (SPEC §4.1): every tracked record it reads is checked against the
// record tree's MAC'd root, and every batch it writes carries the tree's changed nodes and a new root
// under compare-and-swap. It implements the Storage interface, so the core's records, audit log, usage
// counts and the layers above (tokens, scheduler, hd) are all covered without knowing it. Reads and
// root updates are not atomic across records, so a mismatch is re-checked against a re-read root: a
// root that moved means a concurrent writer (retry), an unchanged one means a record that is not what
// the store committed (RollbackError).
import { setTimeout as sleep } from 'node:timers/promises';
import { CofferError } from '../errors.js';
import { checkBatchSize, TREE_RECORD_PREFIX } from '../storage/keys.js';
import type { ListOptions, Storage, StoredRecord, WriteOp } from '../storage/types.js';
import { RollbackError, staleRecord } from './rollback.js';
import {
  type AnchorEntry,
  type Change,
  checkNode,
  decodeRoot,
  encodeRoot,
  isTracked,
  lookup,
  NodeMismatch,
  nodeHash,
  nodeKey,
  position,
  ROOT_KEY,
  TREE_PREFIX,
  type TreeRoot,
  topHash,
  updateTree,
  valueHash,
} from './tree.js';

/** Rounds of re-reading before a read gives up on a store that never holds still. */
const READ_ROUNDS = 32;
const WRITE_ATTEMPTS = 64;

// Backends count the tree's records apart from their caller's ops by this prefix (SPEC §9.1).
if (TREE_PREFIX !== TREE_RECORD_PREFIX)
  throw new Error('the record tree prefix disagrees with storage/keys.ts');

export type Anchors = Record<string, AnchorEntry>;

interface RootState {
  root: TreeRoot;
  /** Storage revision of the root record (0: absent, only while a store is being created). */
  revision: number;
  mac: string;
  bytes: Buffer;
}

const EMPTY: RootState = {
  root: { v: 1, seq: 0, count: 0, top: '', anchors: {} },
  revision: 0,
  mac: '',
  bytes: Buffer.alloc(0),
};

type Match =
  | { ok: true }
  | { ok: false; why: 'changed' | 'deleted' | 'resurrected' }
  | { ok: false; node: string };

interface CachedNode {
  bytes: Buffer;
  total: number;
}

/**
 * Estimated bytes of one cached node besides its own bytes: the CachedNode and Buffer objects, the
 * Map slot and its key string (about 45 characters), and the allocator's header for the bytes.
 */
const NODE_OVERHEAD_BYTES = 256;
const INNER_NODE = 0x02;

/**
 * The default budget of each half of the node cache (inner nodes, buckets; SPEC §4.1). Inner nodes are
 * 577 bytes: 8 MiB holds about 10 000 of them, every inner node of a tree of some 10⁷ records, so a
 * cold read costs one bucket read besides the record. Buckets (≤ 4 098 bytes, one per 64 records)
 * cannot all be kept at that size; 8 MiB keeps those of the recently used keys.
 */
const DEFAULT_CACHE_BYTES = 8 << 20;

/** One half of the node cache: oldest evicted first past a byte budget. */
class NodeFifo {
  readonly #map = new Map<string, CachedNode>();
  #bytes = 0;
  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#map.size;
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }

  get(key: string): CachedNode | undefined {
    return this.#map.get(key);
  }

  set(key: string, node: CachedNode): void {
    if (this.#map.has(key) || this.limit <= 0) return;
    this.#map.set(key, node);
    this.#bytes += node.bytes.length + NODE_OVERHEAD_BYTES;
    while (this.#bytes > this.limit) {
      const [oldest, value] = this.#map.entries().next().value as [string, CachedNode];
      this.#map.delete(oldest);
      this.#bytes -= value.bytes.length + NODE_OVERHEAD_BYTES;
    }
  }
}

/**
 * Nodes by (prefix, hash) in two budgets, so the many buckets a bulk write makes never push out the
 * few inner nodes every lookup passes through; oldest evicted first in each (first in, first out:
 * refreshing on every hit cost more than the occasional re-read of an evicted top node). A node never
 * goes stale. Each cached node owns an exactly sized copy of its bytes: a node made with
 * Buffer.allocUnsafe or read into a pooled Buffer is a view into an 8 KiB slab, and a cache of views
 * kept slabs of short-lived neighbours alive (2× the budget measured at 30 000 keys, issue 14).
 */
class NodeCache {
  readonly #inner: NodeFifo;
  readonly #buckets: NodeFifo;

  constructor(limit: number) {
    this.#inner = new NodeFifo(Math.floor(limit / 2));
    this.#buckets = new NodeFifo(limit - Math.floor(limit / 2));
  }

  /** Estimated bytes held, and nodes held, over both halves. */
  get bytes(): number {
    return this.#inner.bytes + this.#buckets.bytes;
  }

  get size(): number {
    return this.#inner.size + this.#buckets.size;
  }

  clear(): void {
    this.#inner.clear();
    this.#buckets.clear();
  }

  get(key: string): CachedNode | undefined {
    return this.#inner.get(key) ?? this.#buckets.get(key);
  }

  set(key: string, node: CachedNode): void {
    const half = node.bytes[0] === INNER_NODE ? this.#inner : this.#buckets;
    if (half.get(key)) return;
    const bytes = Buffer.allocUnsafeSlow(node.bytes.length);
    node.bytes.copy(bytes);
    half.set(key, { bytes, total: node.total });
  }
}

export interface VerifiedStorageOptions {
  /** Called after each successful write (the anchor layer schedules seals from it). */
  onWrite?: () => void;
  /** Budget of the node cache, split evenly between inner nodes and buckets (default 16 MiB). */
  cacheBytes?: number;
}

export interface WriteOptions {
  /** Rewrites the root's anchor entries in the same batch (SPEC §4.2); re-run on every retry. */
  anchors?: (current: Anchors) => Anchors;
  /** Record keys already in storage to enter into the tree as they are (format upgrade, SPEC §4.3). */
  adopt?: string[];
  /** Not reported to onWrite (the anchor layer's own root-only writes). */
  quiet?: boolean;
}

function cacheKey(prefix: string, hash: Buffer): string {
  return `${prefix}:${hash.toString('latin1')}`;
}

export class VerifiedStorage implements Storage {
  readonly kind: Storage['kind'];
  readonly #raw: Storage;
  readonly #treeKey: () => Uint8Array;
  readonly #cache: NodeCache;
  readonly #onWrite: (() => void) | undefined;
  #last: RootState | undefined;
  /** The newest root this handle has seen: an older one is a rollback of the whole store. */
  #highest: { seq: number; mac: string } | undefined;
  #allowEmpty = false;

  constructor(raw: Storage, treeKey: () => Uint8Array, options: VerifiedStorageOptions = {}) {
    this.kind = raw.kind;
    this.#raw = raw;
    this.#treeKey = treeKey;
    this.#cache = new NodeCache(options.cacheBytes ?? 2 * DEFAULT_CACHE_BYTES);
    this.#onWrite = options.onWrite;
  }

  /** The unverified backend (header and keyslots before unlock, daemon/ records, the format upgrade). */
  get raw(): Storage {
    return this.#raw;
  }

  /** While a keystore is being created (or upgraded) its root does not exist yet. */
  allowMissingRoot(allow: boolean): void {
    this.#allowEmpty = allow;
  }

  /** Forgets cached nodes (they are re-read and re-checked against the root on next use). */
  dropCache(): void {
    this.#cache.clear();
  }

  /** What the node cache holds now (estimated bytes, nodes): for tests and the scale bench. */
  get cacheUse(): { bytes: number; nodes: number } {
    return { bytes: this.#cache.bytes, nodes: this.#cache.size };
  }

  /** The highest root sequence number this handle has seen (0 before any). */
  get seenSeq(): number {
    return this.#highest?.seq ?? 0;
  }

  /** The current root, read fresh and authenticated. */
  async root(): Promise<TreeRoot> {
    return structuredClone((await this.#readRoot()).root);
  }

  /**
   * Records a root as seen (after reading or writing it). `floor` is the newest root seen before the
   * read began: only it may not be newer than what the read returned. (A read issued before one of
   * this process's own writes finished may legitimately return the root from before that write.)
   */
  #observe(seq: number, mac: string, floor: { seq: number; mac: string } | undefined): void {
    const seen = floor;
    if (seen && (seq < seen.seq || (seq === seen.seq && mac !== seen.mac))) {
      throw new RollbackError(
        { kind: 'store' },
        `the store was rolled back: its record tree is at sequence ${seq}, but this process has already seen ` +
          `sequence ${seen.seq}${seq === seen.seq ? ' with other contents' : ''} (an older copy of the whole store; SPEC §4.1)`,
      );
    }
    if (!this.#highest || seq > this.#highest.seq) this.#highest = { seq, mac };
  }

  async #readRoot(): Promise<RootState> {
    const floor = this.#highest;
    const record = await this.#raw.get(ROOT_KEY);
    if (!record) {
      if (this.#allowEmpty && this.#highest === undefined) return EMPTY;
      throw new RollbackError(
        { kind: 'store' },
        `the store was rolled back or tampered with: its record tree root ${ROOT_KEY} is missing (SPEC §4.1)`,
      );
    }
    const last = this.#last;
    if (last && last.revision === record.revision && last.bytes.equals(record.value)) return last;
    const { root, mac } = decodeRoot(this.#treeKey(), record.value);
    this.#observe(root.seq, mac, floor);
    const state: RootState = { root, revision: record.revision, mac, bytes: Buffer.from(record.value) };
    this.#last = state;
    return state;
  }

  readonly #load = async (prefix: string, hash: Buffer): Promise<CachedNode> => {
    const key = cacheKey(prefix, hash);
    const cached = this.#cache.get(key);
    if (cached) return cached;
    const record = await this.#raw.get(nodeKey(prefix));
    if (!record) throw new NodeMismatch(prefix);
    // A view, not a copy: the cache keeps its own exactly sized copy (NodeCache.set).
    const bytes = Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength);
    if (!nodeHash(bytes).equals(hash)) throw new NodeMismatch(prefix);
    const node = { bytes, total: checkNode(bytes, prefix) };
    this.#cache.set(key, node);
    return node;
  };

  async #match(state: RootState, pos: Buffer, record: StoredRecord | undefined): Promise<Match> {
    let committed: Buffer | undefined;
    try {
      committed = await lookup(topHash(state.root), state.root.count, pos, this.#load);
    } catch (error) {
      if (error instanceof NodeMismatch) return { ok: false, node: error.prefix };
      throw error;
    }
    if (!record) return committed === undefined ? { ok: true } : { ok: false, why: 'deleted' };
    if (committed === undefined) return { ok: false, why: 'resurrected' };
    return committed.equals(valueHash(record.value)) ? { ok: true } : { ok: false, why: 'changed' };
  }

  static #tampered(key: string, match: Exclude<Match, { ok: true }>): RollbackError {
    if ('node' in match) {
      return new RollbackError(
        { kind: 'record', record: nodeKey(match.node) },
        `record tree node ${nodeKey(match.node)} was rolled back or tampered with: it does not hash to what ` +
          `its parent commits to (while reading ${key}; SPEC §4.1)`,
      );
    }
    return staleRecord(key, match.why);
  }

  /** A tracked record as the store committed it, or EBADMSG (RollbackError); protocol in SPEC §4.1. */
  async #verifiedGet(key: string): Promise<StoredRecord | undefined> {
    const pos = position(key);
    let state = await this.#readRoot();
    let record = await this.#raw.get(key);
    for (let round = 0; round < READ_ROUNDS; round++) {
      const first = await this.#match(state, pos, record);
      if (first.ok) return record;
      const next = await this.#readRoot();
      // No batch committed between the two root reads, yet the record is not what it committed.
      if (next.mac === state.mac) throw VerifiedStorage.#tampered(key, first);
      state = next;
      if ((await this.#match(state, pos, record)).ok) return record;
      record = await this.#raw.get(key);
    }
    throw new CofferError('EUNAVAIL', `the store kept changing while ${key} was being read; try again`);
  }

  async get(key: string): Promise<StoredRecord | undefined> {
    return isTracked(key) ? this.#verifiedGet(key) : this.#raw.get(key);
  }

  /** Raw listing without the tree's own records (which only this class reads). */
  async #rawList(prefix: string, options: ListOptions = {}): Promise<StoredRecord[]> {
    const mayHoldTree = TREE_PREFIX.startsWith(prefix) && prefix !== TREE_PREFIX;
    if (!mayHoldTree || prefix.startsWith(TREE_PREFIX)) return this.#raw.list(prefix, options);
    if (options.limit === undefined)
      return (await this.#raw.list(prefix, options)).filter((r) => !r.key.startsWith(TREE_PREFIX));
    const out: StoredRecord[] = [];
    let after = options.after;
    for (;;) {
      const want = options.limit - out.length;
      const page = await this.#raw.list(prefix, { ...(after !== undefined ? { after } : {}), limit: want });
      out.push(...page.filter((r) => !r.key.startsWith(TREE_PREFIX)));
      if (page.length < want || out.length >= options.limit) return out;
      after = page[page.length - 1]!.key;
    }
  }

  /** Checks every tracked record of a listing against one root; re-reads only the ones that differ. */
  async #verifyAll(records: StoredRecord[], state: RootState): Promise<StoredRecord[]> {
    const bad: { index: number; match: Exclude<Match, { ok: true }> }[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (!isTracked(record.key)) continue;
      const match = await this.#match(state, position(record.key), record);
      if (!match.ok) bad.push({ index: i, match });
    }
    if (bad.length === 0) return records;
    const next = await this.#readRoot();
    if (next.mac === state.mac) throw VerifiedStorage.#tampered(records[bad[0]!.index]!.key, bad[0]!.match);
    const out = [...records] as (StoredRecord | undefined)[];
    for (const { index } of bad) {
      const record = records[index]!;
      if ((await this.#match(next, position(record.key), record)).ok) continue;
      // Changed (or deleted) by a concurrent writer since the listing: the committed value now.
      out[index] = await this.#verifiedGet(record.key);
    }
    return out.filter((r): r is StoredRecord => r !== undefined);
  }

  async list(prefix: string, options?: ListOptions): Promise<StoredRecord[]> {
    const state = await this.#readRoot();
    return this.#verifyAll(await this.#rawList(prefix, options), state);
  }

  /**
   * `list` keeping only the records whose key ends with `suffix` (a key's meta records without its
   * version records, SPEC §4.6): the backend filters when it can (Storage.listEnding), and the records
   * left out are never checked against the tree. `limit` counts the records returned.
   */
  async listEnding(prefix: string, suffix: string, options: ListOptions = {}): Promise<StoredRecord[]> {
    const state = await this.#readRoot();
    const keep = (r: StoredRecord) => r.key.endsWith(suffix) && !r.key.startsWith(TREE_PREFIX);
    if (this.#raw.listEnding) {
      const records = await this.#raw.listEnding(prefix, suffix, options);
      return this.#verifyAll(records.filter(keep), state);
    }
    const out: StoredRecord[] = [];
    let after = options.after;
    // Without the backend's filter: read in pages and keep the matches, up to `limit` of them.
    for (;;) {
      const want = options.limit === undefined ? undefined : Math.max(64, options.limit - out.length);
      const page = await this.#raw.list(prefix, {
        ...(after !== undefined ? { after } : {}),
        ...(want !== undefined ? { limit: want } : {}),
      });
      for (const record of page) {
        if (options.limit !== undefined && out.length === options.limit) break;
        if (keep(record)) out.push(record);
      }
      if (want === undefined || page.length < want || out.length === options.limit) break;
      after = page[page.length - 1]!.key;
    }
    return this.#verifyAll(out, state);
  }

  async changedSince(generation: number): Promise<StoredRecord[]> {
    const state = await this.#readRoot();
    const records = (await this.#raw.changedSince(generation)).filter((r) => !r.key.startsWith(TREE_PREFIX));
    return this.#verifyAll(records, state);
  }

  generation(): Promise<number> {
    return this.#raw.generation();
  }

  close(): Promise<void> {
    return this.#raw.close();
  }

  /** True when the root record is no longer the one `state` was read from (another writer committed). */
  async #rootMoved(state: RootState): Promise<boolean> {
    const record = await this.#raw.get(ROOT_KEY);
    return (record?.revision ?? 0) !== state.revision;
  }

  /**
   * Writes `ops` atomically with the tree's changed nodes and a new root (sequence + 1) under
   * compare-and-swap on the root; recomputes and retries when another writer moved the root. A failed
   * condition of the caller's own ops is ECONFLICT as with any Storage.
   */
  async write(ops: WriteOp[], options: WriteOptions = {}): Promise<number> {
    if (!Array.isArray(ops)) throw new CofferError('EINVAL', 'ops must be an array');
    if (ops.length === 0 && !options.anchors && !options.adopt?.length)
      throw new CofferError('EINVAL', 'a batch needs at least one op');
    const seen = new Set<string>();
    const changes: Change[] = [];
    for (const op of ops) {
      if (typeof op?.key !== 'string') throw new CofferError('EINVAL', 'every op needs a key');
      if (op.key.startsWith(TREE_PREFIX))
        throw new CofferError('EINVAL', `${op.key}: the record tree is written by the keystore only`);
      if (seen.has(op.key)) throw new CofferError('EINVAL', `a batch names ${op.key} twice`);
      seen.add(op.key);
      if (isTracked(op.key)) {
        changes.push({ pos: position(op.key), vh: op.op === 'put' ? valueHash(op.value) : undefined });
      }
    }
    for (let attempt = 1; ; attempt++) {
      const state = await this.#readRoot();
      const adopted: Change[] = [];
      for (const key of options.adopt ?? []) {
        if (seen.has(key) || !isTracked(key)) continue;
        const record = await this.#raw.get(key);
        adopted.push({ pos: position(key), vh: record ? valueHash(record.value) : undefined });
      }
      let update: Awaited<ReturnType<typeof updateTree>>;
      try {
        update = await updateTree(
          topHash(state.root),
          state.root.count,
          [...changes, ...adopted],
          this.#load,
        );
      } catch (error) {
        if (!(error instanceof NodeMismatch)) throw error;
        if (attempt < WRITE_ATTEMPTS && (await this.#rootMoved(state))) continue;
        throw VerifiedStorage.#tampered('the record tree', { ok: false, node: error.prefix });
      }
      const anchors = options.anchors
        ? options.anchors(structuredClone(state.root.anchors))
        : state.root.anchors;
      const root: TreeRoot = {
        v: 1,
        seq: state.root.seq + 1,
        count: update.count,
        top: update.top ? update.top.toString('hex') : '',
        anchors,
      };
      const encoded = encodeRoot(this.#treeKey(), root);
      const batch: WriteOp[] = [...ops];
      for (const [key, bytes] of update.writes) {
        batch.push(bytes === null ? { op: 'delete', key } : { op: 'put', key, value: bytes });
      }
      batch.push({ op: 'put', key: ROOT_KEY, value: encoded.bytes, expectRevision: state.revision });
      // Past the bound only on a tree far deeper than hashed positions make it (SPEC §9.1): refused whole.
      checkBatchSize(ops.length, update.writes.size + 1);
      let generation: number;
      try {
        generation = await this.#raw.write(batch);
      } catch (error) {
        const lostRace = error instanceof CofferError && error.code === 'ECONFLICT';
        if (lostRace && attempt < WRITE_ATTEMPTS && (await this.#rootMoved(state))) {
          await sleep(Math.floor(Math.random() * Math.min(20, attempt * 2)));
          continue;
        }
        throw error;
      }
      for (const made of update.made) this.#cache.set(cacheKey(made.prefix, made.hash), made);
      // Our own commit: newer than everything seen before it began, but a concurrent read of this
      // process may already have seen later commits of others, so only raise the mark.
      if (!this.#highest || root.seq > this.#highest.seq) this.#highest = { seq: root.seq, mac: encoded.mac };
      this.#last = { root, revision: generation, mac: encoded.mac, bytes: Buffer.from(encoded.bytes) };
      if (!options.quiet) this.#onWrite?.();
      return generation;
    }
  }
}
