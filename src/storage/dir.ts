// The dir: backend (SPEC §9.6): one file per record under the store
// directory, mirroring the record key (`keystore/<app>/<purpose>/<keyId>/meta` is the file
// `<root>/keystore/<app>/<purpose>/<keyId>/meta@`), so listing a prefix reads only that subtree.
//
// Durability: every file is written temp file → fsync → rename → fsync of its directory. Batches
// use a redo journal: the whole batch, new values included, is written to `@journal` (temp → fsync
// → rename → fsync root), and that rename is the commit point. The batch is then applied record by
// record (each file and directory fsync'd) and `@applied` is set to its generation. A crash leaves
// either the previous journal (nothing of the batch happened) or the new one, complete, which is
// REPLAYED — never discarded — by the next lock holder or opener whenever `@applied` lags it: some
// records may already hold their new values, and replaying forward is the only direction that needs
// no undo data. Replay is idempotent. The journal is not deleted after applying: it is replaced by
// the next batch's, and its header doubles as the store's generation counter, which saves an
// fsync'd counter file and an fsync'd unlink per batch (4 fsyncs for a one-record write, not 7).
// `@applied` needs no fsync: it is written after the records it vouches for are durable, and a
// stale value after a power cut only causes one idempotent replay.
//
// Group commit: a handle queues its callers' batches; the batches that arrive while a commit round
// is in flight all go into the next round's journal (each at its own generation, each with its own
// compare-and-swap verdict), so one round of fsyncs makes them all durable.
//
// `changedSince` is served by `@changes` (dir-changes.ts), an append-only index of which keys each
// group wrote, repaired from the journal or rebuilt from a walk when a crash leaves it short.
//
// Readers take no lock. They read `@applied` and the journal header; when equal, the files are
// current, otherwise (a batch in flight) the journal is overlaid on what the files say. A reader
// re-reads the journal header afterwards and retries if a batch committed meanwhile (a seqlock), so
// it never sees half a batch. Writers serialise on the `@lock` file (dir-lock.ts).
//
// Reads use the synchronous fs calls: they are small page-cache reads, and a read is ~10x faster
// without a thread-pool round trip per call. Writes (fsync-bound) stay asynchronous.

import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rmdir,
  stat,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CofferError } from '../errors.js';
import {
  type ChangeItem,
  ChangesIndex,
  changesHeader,
  encodeChangesEntry,
  sortItems,
} from './dir-changes.js';
import {
  APPLIED_FILE,
  CHANGES_FILE,
  DIR_FORMAT_VERSION,
  decodeJournal,
  decodeRecord,
  encodeApplied,
  encodeJournal,
  encodeRecord,
  JOURNAL_FILE,
  JOURNAL_HEADER_BYTES,
  type Journal,
  type JournalBatch,
  type JournalOp,
  journalEffects,
  journalFirstGeneration,
  journalHeaderGeneration,
  LOCK_FILE,
  MARKER_FILE,
  markerContent,
  parseApplied,
  parseMarker,
  RECORD_SUFFIX,
  TMP_DIR,
} from './dir-format.js';
import { FileLock } from './dir-lock.js';
import {
  type CheckedOp,
  checkBatch,
  checkGeneration,
  checkListOptions,
  checkPrefix,
  checkRecordKey,
  compareKeys,
  conditionHolds,
  conflictError,
  isKeySegment,
} from './keys.js';
import type { ListOptions, OpenStorageOptions, RecordKey, Storage, StoredRecord, WriteOp } from './types.js';

/** Files written at once while applying a batch (fsyncs overlap in the thread pool). */
const APPLY_PARALLELISM = 8;
/** Lock-free read attempts before a reader falls back to taking the lock. */
const READ_ATTEMPTS = 5;
/** Bounds on one commit group (a single larger batch still commits, alone). */
const GROUP_MAX_OPS = 10_000;
const GROUP_MAX_BYTES = 64 * 1024 * 1024;
/** `@changes` is compacted when it holds this many more items than twice the live keys. */
const COMPACT_SLACK = 4096;

/** Tuning a test or benchmark may set; production opens use the defaults. */
export interface DirTuning {
  /**
   * Gather the writes that arrive while a commit is in flight into the next commit (default true).
   * false commits each batch on its own, as before group commit: kept for the benchmark's ratio.
   */
  groupCommit?: boolean;
}

/** Counters of one dir handle, for tests that must prove batches were grouped. */
export interface DirStats {
  /** Commit rounds run (each is one journal write and one round of fsyncs). */
  commits: number;
  /** Batches committed. */
  batches: number;
  /** Record files read (changedSince reads only the files the index names). */
  recordReads: number;
  /** Rebuilds of `@changes` from a walk of the whole tree. */
  rebuilds: number;
}

interface PendingWrite {
  ops: CheckedOp[];
  bytes: number;
  resolve: (generation: number) => void;
  reject: (error: unknown) => void;
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException)?.code;
}

const isMissing = (error: unknown) => errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR';

async function fsyncPath(path: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, fsConstants.O_RDONLY);
    await handle.sync();
  } finally {
    await handle?.close();
  }
}

/**
 * Runs `fn` over `items`, `limit` at a time. On the first failure no new item starts, and the
 * error is thrown only once every started item has settled: the caller releases the store lock
 * next, and no write of ours may still be landing after that.
 */
async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

class DirStorage implements Storage {
  readonly kind = 'dir' as const;
  readonly #root: string;
  readonly #lock: FileLock;
  readonly #groupCommit: boolean;
  #closed = false;
  /** Set once the store's marker is known to exist: only then is `@changes` kept up to date. */
  ready = false;
  /** Serialises this handle's lock holders (the file lock is per process, not per call). */
  #queue: Promise<unknown> = Promise.resolve();
  /** Writes waiting for the next commit round, and the loop that runs the rounds. */
  #pending: PendingWrite[] = [];
  #committer: Promise<void> | undefined;
  readonly #changes = new ChangesIndex();
  readonly stats: DirStats = { commits: 0, batches: 0, recordReads: 0, rebuilds: 0 };

  constructor(root: string, tuning: DirTuning = {}) {
    this.#root = root;
    this.#lock = new FileLock(join(root, LOCK_FILE));
    this.#groupCommit = tuning.groupCommit !== false;
  }

  #check(): void {
    if (this.#closed) throw new CofferError('EUNAVAIL', `dir store ${this.#root} is closed`);
  }

  #recordPath(key: RecordKey): string {
    return join(this.#root, `${key}${RECORD_SUFFIX}`);
  }

  #fail(error: unknown, what: string): never {
    if (error instanceof CofferError) throw error;
    throw new CofferError(
      'EUNAVAIL',
      `dir store ${this.#root}: ${what} failed (${errno(error) ?? 'error'})`,
      {
        cause: error,
      },
    );
  }

  /** Runs `fn` holding the store lock, after completing any batch a crashed writer left behind. */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = async () => {
      await this.#lock.acquire();
      try {
        await this.#recover();
        return await fn();
      } finally {
        await this.#lock.release();
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  // ---- reading --------------------------------------------------------------------------------

  /** The generation whose journal is fully applied (0 before the first batch). */
  async #readApplied(): Promise<number> {
    const path = join(this.#root, APPLIED_FILE);
    try {
      return parseApplied(readFileSync(path, 'latin1'), path);
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
  }

  /** The generation of the last committed batch, from the journal header (0: no batch yet). */
  async #readCommitted(): Promise<number> {
    const path = join(this.#root, JOURNAL_FILE);
    let fd: number | undefined;
    try {
      fd = openSync(path, fsConstants.O_RDONLY);
      const header = Buffer.alloc(JOURNAL_HEADER_BYTES);
      const bytesRead = readSync(fd, header, 0, JOURNAL_HEADER_BYTES, 0);
      return journalHeaderGeneration(header.subarray(0, bytesRead), path);
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  async #readJournal(): Promise<Journal | undefined> {
    const path = join(this.#root, JOURNAL_FILE);
    try {
      return decodeJournal(readFileSync(path), path);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async #readRecord(key: RecordKey): Promise<StoredRecord | undefined> {
    const path = this.#recordPath(key);
    this.stats.recordReads++;
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const { revision, value } = decodeRecord(bytes, key, path);
    return { key, value, revision };
  }

  /**
   * Runs a read so that it observes no batch half-applied. `@applied` is read before the journal
   * header; if they agree, that group was fully applied before the header was read and the files
   * are current; if not, the journal (complete, it was renamed into place) is passed to `read` to
   * overlay. `read` also gets the generation it reads at. Afterwards the header is read again: a new
   * commit in between means a retry.
   */
  async #snapshot<T>(read: (journal: Journal | undefined, generation: number) => Promise<T>): Promise<T> {
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const applied = await this.#readApplied();
      let token = await this.#readCommitted();
      let journal: Journal | undefined;
      if (applied !== token) {
        journal = await this.#readJournal();
        token = journal?.generation ?? 0;
      }
      const result = await read(journal, token);
      if ((await this.#readCommitted()) === token) return result;
    }
    // Writers kept committing under us: read once more holding the lock, where nothing moves.
    return this.withLock(async () => read(undefined, await this.#readCommitted()));
  }

  async get(key: RecordKey): Promise<StoredRecord | undefined> {
    checkRecordKey(key);
    this.#check();
    try {
      return await this.#snapshot(async (journal) => {
        const effect = journal === undefined ? undefined : journalEffects(journal).get(key);
        if (effect !== undefined) {
          return effect.op.op === 'put'
            ? { key, value: new Uint8Array(effect.op.value), revision: effect.revision }
            : undefined;
        }
        return this.#readRecord(key);
      });
    } catch (error) {
      this.#fail(error, 'get');
    }
  }

  /**
   * Walks the subtree that can hold keys starting with `prefix`, in key order. Within a directory a
   * record `s` sorts as "s" and a subdirectory `s` as "s/", which puts every entry in the global
   * code-unit order ('-' and '.' sort before '/', so "a-b" comes before "a/x").
   */
  async #walk(
    prefix: string,
    after: RecordKey | undefined,
    limit: number,
    keep: (record: StoredRecord) => boolean,
  ): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    const cut = prefix.lastIndexOf('/');
    const base = prefix.slice(0, cut + 1);
    const partial = prefix.slice(cut + 1);
    const visit = async (dirKey: string, filter: string): Promise<void> => {
      let names: string[];
      try {
        names = readdirSync(dirKey === '' ? this.#root : join(this.#root, dirKey));
      } catch (error) {
        if (isMissing(error)) return;
        throw error;
      }
      const entries: { sort: string; name: string; record: boolean }[] = [];
      for (const name of names) {
        const record = name.endsWith(RECORD_SUFFIX);
        const segment = record ? name.slice(0, -1) : name;
        if (!isKeySegment(segment) || !segment.startsWith(filter)) continue;
        entries.push({ sort: record ? segment : `${segment}/`, name: segment, record });
      }
      entries.sort((a, b) => compareKeys(a.sort, b.sort));
      for (const entry of entries) {
        if (out.length >= limit) return;
        const key = dirKey + entry.name;
        if (entry.record) {
          if (after !== undefined && key <= after) continue;
          const record = await this.#readRecord(key);
          if (record !== undefined && keep(record)) out.push(record);
        } else {
          const sub = `${key}/`;
          // Every key below `sub` starts with it; if `after` is past them all, skip the subtree.
          if (after !== undefined && after > sub && !after.startsWith(sub)) continue;
          await visit(sub, '');
        }
      }
    };
    await visit(base, partial);
    return out;
  }

  async list(prefix: string, options?: ListOptions): Promise<StoredRecord[]> {
    checkPrefix(prefix);
    const { after, limit } = checkListOptions(options);
    this.#check();
    try {
      return await this.#snapshot(async (journal) => {
        const inRange = (key: string) => key.startsWith(prefix) && (after === undefined || key > after);
        const effects = journal === undefined ? new Map() : journalEffects(journal);
        for (const key of effects.keys()) if (!inRange(key)) effects.delete(key);
        // Deletes in the journal may remove walked records, so walk far enough to still fill `limit`.
        const walked = await this.#walk(
          prefix,
          after,
          (limit ?? Number.POSITIVE_INFINITY) + effects.size,
          () => true,
        );
        const merged = overlay(walked, effects, () => true);
        return limit === undefined ? merged : merged.slice(0, limit);
      });
    } catch (error) {
      this.#fail(error, 'list');
    }
  }

  async generation(): Promise<number> {
    this.#check();
    try {
      // One read of the journal header: the generation of the last committed batch.
      return await this.#readCommitted();
    } catch (error) {
      this.#fail(error, 'generation');
    }
  }

  /**
   * Served from the changes index (`@changes`, SPEC §9.6): the keys written past `generation`,
   * then only their record files are read. When the index does not cover what is committed (a
   * writer is appending, or a crash tore it), the lock holder repairs it and the read is retried.
   */
  async changedSince(generation: number): Promise<StoredRecord[]> {
    checkGeneration(generation);
    this.#check();
    try {
      const found = await this.#snapshot((journal, at) => this.#changedFromIndex(generation, journal, at));
      if (found !== undefined) return found;
      const repaired = await this.withLock(async () =>
        this.#changedFromIndex(generation, undefined, await this.#readCommitted()),
      );
      if (repaired === undefined) {
        throw new CofferError('EUNAVAIL', `dir store ${this.#root}: ${CHANGES_FILE} could not be repaired`);
      }
      return repaired;
    } catch (error) {
      this.#fail(error, 'changedSince');
    }
  }

  /** changedSince at `committed` from the index, or undefined when the index does not cover it. */
  async #changedFromIndex(
    generation: number,
    journal: Journal | undefined,
    committed: number,
  ): Promise<StoredRecord[] | undefined> {
    this.#changes.refresh(join(this.#root, CHANGES_FILE));
    const changes = this.#changes;
    // Without a journal to overlay, the files are at `committed`: the index must reach it. With one,
    // the index must reach at least the generation before it (the overlay supplies the rest).
    const needed = journal === undefined ? committed : journalFirstGeneration(journal) - 1;
    if (!changes.present || changes.last < needed) return undefined;
    const records: StoredRecord[] = [];
    for (const key of changes.writtenSince(generation)) {
      const record = await this.#readRecord(key);
      if (record !== undefined && record.revision > generation) records.push(record);
    }
    records.sort((a, b) => compareKeys(a.key, b.key));
    const effects = journal === undefined ? new Map() : journalEffects(journal);
    return overlay(records, effects, (revision) => revision > generation);
  }

  // ---- writing --------------------------------------------------------------------------------

  /** Writes `bytes` to `path` durably: temp file in @tmp → fsync → rename. The caller fsyncs the dir. */
  async #writeFileDurably(path: string, bytes: Uint8Array | string): Promise<void> {
    const temp = join(this.#root, TMP_DIR, randomBytes(12).toString('hex'));
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  }

  /** Applies a journal's ops to the record files, fsyncing every directory it changed. */
  async #apply(journal: Journal): Promise<void> {
    const dirty = new Set<string>();
    const emptied = new Set<string>();
    await mapLimit([...journalEffects(journal).values()], APPLY_PARALLELISM, async ({ op, revision }) => {
      const path = this.#recordPath(op.key);
      const dir = dirname(path);
      if (op.op === 'put') {
        const first = await mkdir(dir, { recursive: true, mode: 0o700 });
        // Every directory created here must itself be made durable in its parent.
        if (first !== undefined) {
          for (let d = dir; d.length >= first.length; d = dirname(d)) dirty.add(dirname(d));
        }
        await this.#writeFileDurably(path, encodeRecord(op.key, revision, op.value));
      } else {
        try {
          await unlink(path);
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
        emptied.add(dir);
      }
      dirty.add(dir);
    });
    await mapLimit([...dirty], APPLY_PARALLELISM, async (dir) => {
      try {
        await fsyncPath(dir);
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    });
    // Empty directories left by deletes are pruned (best effort: an empty directory is harmless).
    for (const dir of emptied) {
      for (let d = dir; d.length > this.#root.length; d = dirname(d)) {
        try {
          await rmdir(d);
        } catch {
          break;
        }
      }
    }
  }

  /** Records that the journal of `generation` is applied (atomic rename; see the header comment). */
  async #setApplied(generation: number): Promise<void> {
    const temp = join(this.#root, TMP_DIR, randomBytes(12).toString('hex'));
    await writeFile(temp, encodeApplied(generation), { mode: 0o600, flag: 'wx' });
    await rename(temp, join(this.#root, APPLIED_FILE));
  }

  /** Finishes a committed batch a crashed writer left unapplied and clears temp files. Holds the lock. */
  async #recover(): Promise<void> {
    const tmp = join(this.#root, TMP_DIR);
    let names: string[] = [];
    try {
      names = await readdir(tmp);
    } catch (error) {
      if (!isMissing(error)) throw error;
      await mkdir(tmp, { mode: 0o700 });
    }
    // Only lock holders write temp files, so whatever is here belongs to a writer that died.
    await Promise.all(names.map((name) => unlink(join(tmp, name)).catch(() => undefined)));
    const applied = await this.#readApplied();
    const committed = await this.#readCommitted();
    const journal = applied === committed ? undefined : await this.#readJournal();
    if (journal !== undefined) await this.#apply(journal);
    // The index is made to cover the journal before `@applied` vouches for it (readers that see
    // `@applied` equal to the journal trust the index to reach it).
    if (this.ready) await this.#repairChanges(committed, journal);
    if (journal !== undefined) await this.#setApplied(journal.generation);
  }

  /**
   * Makes `@changes` cover exactly the generations up to `committed` (the record files are current):
   * a torn or damaged tail is cut off; the last group is re-appended from the journal when the
   * chain stops right before it; anything else (missing file, a gap) is rebuilt from a walk.
   */
  async #repairChanges(committed: number, journal: Journal | undefined): Promise<void> {
    const path = join(this.#root, CHANGES_FILE);
    const changes = this.#changes;
    changes.refresh(path);
    if (changes.present && changes.last <= committed) {
      const size = (await stat(path)).size;
      if (changes.last === committed) {
        if (size > changes.end) await this.#truncateChanges(changes.end);
        return;
      }
      journal ??= await this.#readJournal();
      if (journal !== undefined && journal.generation === committed) {
        if (changes.last === journalFirstGeneration(journal) - 1) {
          if (size > changes.end) await this.#truncateChanges(changes.end);
          await this.#appendChanges(journal);
          return;
        }
      }
    }
    await this.#rebuildChanges(committed);
  }

  async #truncateChanges(length: number): Promise<void> {
    const path = join(this.#root, CHANGES_FILE);
    await truncate(path, length);
    await fsyncPath(path);
  }

  /**
   * Appends the entry of a committed (and applied) group to `@changes`. No fsync: the index is a
   * cache of the record files, and a power cut can only cut it short or leave a tail that fails its
   * checksum, which the next lock holder sees against the journal and repairs or rebuilds (SPEC
   * §9.6), so a one-record write still costs 4 fsyncs.
   */
  async #appendChanges(journal: Journal): Promise<void> {
    const items: ChangeItem[] = [];
    for (const [key, { op, revision }] of journalEffects(journal)) {
      items.push({ key, revision: op.op === 'put' ? revision : 0 });
    }
    const entry = {
      first: journalFirstGeneration(journal),
      last: journal.generation,
      items: sortItems(items),
    };
    const bytes = encodeChangesEntry(entry);
    const handle = await open(join(this.#root, CHANGES_FILE), 'r+');
    try {
      await handle.write(bytes, 0, bytes.length, this.#changes.end);
    } finally {
      await handle.close();
    }
    // Re-read rather than absorbed directly: a reader of this handle may already have read it.
    this.#changes.refresh(join(this.#root, CHANGES_FILE));
    if (this.#changes.last !== entry.last) {
      throw new CofferError('EUNAVAIL', `dir store ${this.#root}: ${CHANGES_FILE} did not take its entry`);
    }
    if (this.#changes.items > 2 * this.#changes.live.size + COMPACT_SLACK) {
      await this.#writeChanges(this.#changes.live, journal.generation);
    }
  }

  /** Rebuilds `@changes` from the record files (the truth), as one snapshot entry. */
  async #rebuildChanges(committed: number): Promise<void> {
    const live = new Map<RecordKey, number>();
    this.stats.rebuilds++;
    if (committed > 0) {
      for (const record of await this.#walk('', undefined, Number.POSITIVE_INFINITY, () => true)) {
        live.set(record.key, record.revision);
      }
    }
    await this.#writeChanges(live, committed);
  }

  /** Replaces `@changes` with a snapshot (temp → fsync → rename → fsync root) and re-reads it. */
  async #writeChanges(live: Map<RecordKey, number>, committed: number): Promise<void> {
    const parts = [changesHeader()];
    if (committed > 0) {
      const items = sortItems([...live].map(([key, revision]) => ({ key, revision })));
      parts.push(encodeChangesEntry({ first: 1, last: committed, items }));
    }
    await this.#writeFileDurably(join(this.#root, CHANGES_FILE), Buffer.concat(parts));
    await fsyncPath(this.#root);
    this.#changes.refresh(join(this.#root, CHANGES_FILE));
  }

  /** Takes the lock to replay or repair only when a committed batch or the index needs it. */
  async recoverIfNeeded(): Promise<void> {
    const committed = await this.#readCommitted();
    this.#changes.refresh(join(this.#root, CHANGES_FILE));
    const indexed = this.#changes.present && this.#changes.last === committed && this.#changes.stop === 'end';
    if ((await this.#readApplied()) !== committed || !indexed) await this.withLock(async () => undefined);
  }

  /**
   * Queues the batch for the next commit round. Writes that arrive while a round is in flight are
   * gathered into the next one, which makes them all durable with one journal write and one round
   * of fsyncs (group commit, SPEC §9.6); each caller is answered once its batch is durable.
   */
  async write(ops: WriteOp[]): Promise<number> {
    const checked = checkBatch(ops);
    this.#check();
    let bytes = 0;
    for (const op of checked) if (op.op === 'put') bytes += op.value.byteLength;
    try {
      return await new Promise<number>((resolve, reject) => {
        this.#pending.push({ ops: checked, bytes, resolve, reject });
        this.#committer ??= this.#commitLoop();
      });
    } catch (error) {
      this.#fail(error, 'write');
    }
  }

  /** Runs commit rounds until no write is waiting. */
  async #commitLoop(): Promise<void> {
    while (this.#pending.length > 0) {
      let group: PendingWrite[] = [];
      let answers: (() => void)[] = [];
      try {
        await this.withLock(async () => {
          // Taken once the lock is held, so writes that came while we waited for it join too.
          group = this.#takeGroup();
          answers = await this.#commitGroup(group);
        });
      } catch (error) {
        // The lock could not be taken, or the round failed: its writers get the error (a round that
        // failed after its commit point is replayed later, so for them the outcome is unknown).
        if (group.length === 0) group = this.#pending.splice(0);
        for (const write of group) write.reject(error);
        continue;
      }
      // Answered once the lock is released, as a caller may go on to look at the store's files.
      for (const answer of answers) answer();
    }
    this.#committer = undefined;
  }

  #takeGroup(): PendingWrite[] {
    if (!this.#groupCommit) return this.#pending.splice(0, 1);
    let ops = 0;
    let bytes = 0;
    let count = 0;
    for (const write of this.#pending) {
      if (count > 0 && (ops + write.ops.length > GROUP_MAX_OPS || bytes + write.bytes > GROUP_MAX_BYTES))
        break;
      ops += write.ops.length;
      bytes += write.bytes;
      count++;
    }
    return this.#pending.splice(0, count);
  }

  /**
   * One commit round. Each batch's conditions are checked against the files as the earlier batches
   * of the round leave them; a batch whose condition fails is answered ECONFLICT and takes no
   * generation, the others get consecutive generations. Then one journal holds them all.
   */
  async #commitGroup(group: PendingWrite[]): Promise<(() => void)[]> {
    // #recover ran under this lock, so the files are current and conditions can be read from them.
    const pendingRevisions = new Map<RecordKey, number | undefined>();
    let generation = await this.#readCommitted();
    const accepted: { write: PendingWrite; batch: JournalBatch }[] = [];
    const answers: (() => void)[] = [];
    for (const write of group) {
      let refusal: unknown;
      try {
        for (const op of write.ops) {
          if (op.expectRevision === undefined) continue;
          const current = pendingRevisions.has(op.key)
            ? pendingRevisions.get(op.key)
            : (await this.#readRecord(op.key))?.revision;
          if (!conditionHolds(op.expectRevision, current)) {
            refusal = conflictError(op.key, op.expectRevision, current);
            break;
          }
        }
      } catch (error) {
        refusal = error;
      }
      if (refusal !== undefined) {
        answers.push(() => write.reject(refusal));
        continue;
      }
      generation++;
      for (const op of write.ops) pendingRevisions.set(op.key, op.op === 'put' ? generation : undefined);
      const ops: JournalOp[] = write.ops.map((op) =>
        op.op === 'put' ? { op: 'put', key: op.key, value: op.value } : { op: 'delete', key: op.key },
      );
      accepted.push({ write, batch: { generation, ops } });
    }
    if (accepted.length === 0) return answers;
    this.stats.commits++;
    this.stats.batches += accepted.length;
    const journal: Journal = { generation, batches: accepted.map((a) => a.batch) };
    // Commit point: once this rename is durable, the group will be fully applied (now or by replay).
    await this.#writeFileDurably(join(this.#root, JOURNAL_FILE), encodeJournal(journal));
    await fsyncPath(this.#root);
    await this.#apply(journal);
    await this.#appendChanges(journal);
    await this.#setApplied(generation);
    for (const { write, batch } of accepted) answers.push(() => write.resolve(batch.generation));
    return answers;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#committer;
    await this.#queue;
  }
}

/**
 * The records as they are once a committed journal is applied: every journal effect replaces what
 * the files say for its key; a put is kept (at its revision) only when `keep(revision)`.
 */
function overlay(
  records: StoredRecord[],
  effects: Map<RecordKey, { op: JournalOp; revision: number }>,
  keep: (revision: number) => boolean,
): StoredRecord[] {
  if (effects.size === 0) return records;
  const byKey = new Map(records.map((r) => [r.key, r]));
  for (const [key, { op, revision }] of effects) {
    if (op.op === 'put' && keep(revision)) {
      byKey.set(key, { key, value: new Uint8Array(op.value), revision });
    } else {
      byKey.delete(key);
    }
  }
  return [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

const CASE_INSENSITIVE = (root: string) =>
  new CofferError(
    'EUNAVAIL',
    `dir store ${root} is on a case-insensitive filesystem, where distinct keys would share files: ` +
      'use a case-sensitive volume or the sqlite: store',
  );

/**
 * Refuses case-insensitive filesystems (macOS and Windows defaults): keys 'A' and 'a' would share a
 * file there. An existing store is probed through its marker file's upper-case name.
 */
async function checkCaseSensitive(root: string): Promise<void> {
  if (await exists(join(root, MARKER_FILE.toUpperCase()))) throw CASE_INSENSITIVE(root);
}

/** The same probe before a store exists, with a temp file (so a refused volume gets no marker). */
async function probeCaseSensitive(root: string): Promise<void> {
  const name = `case-probe-${randomBytes(6).toString('hex')}`;
  const probe = join(root, TMP_DIR, name);
  await writeFile(probe, '', { flag: 'wx', mode: 0o600 });
  try {
    if (await exists(join(root, TMP_DIR, name.toUpperCase()))) throw CASE_INSENSITIVE(root);
  } finally {
    await unlink(probe).catch(() => undefined);
  }
}

/** Opens (or with `create`, creates) the dir store rooted at `path`. */
export async function openDirStorage(
  path: string,
  options: OpenStorageOptions = {},
  tuning: DirTuning = {},
): Promise<Storage> {
  const root = resolve(path);
  const create = options.create === true;
  try {
    let info: Awaited<ReturnType<typeof stat>> | undefined;
    try {
      info = await stat(root);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    if (info !== undefined && !info.isDirectory()) {
      throw new CofferError('EINVAL', `dir store path ${root} exists and is not a directory`);
    }
    if (info === undefined) {
      if (!create) throw new CofferError('ENOENT', `no dir store at ${root} (pass create to make one)`);
      await mkdir(root, { recursive: true, mode: 0o700 });
    }
    const storage = new DirStorage(root, tuning);
    const markerPath = join(root, MARKER_FILE);
    if (!(await exists(markerPath))) {
      if (!create)
        throw new CofferError('ENOENT', `${root} is not a Coffer dir store (pass create to make one)`);
      // Initialised under the lock, so a second process creating the same store at once finds the
      // first one's marker (and maybe records) and opens it instead of refusing a non-empty dir.
      await storage.withLock(async () => {
        if (await exists(markerPath)) return;
        const foreign = (await readdir(root)).filter((name) => !name.startsWith('@'));
        if (foreign.length > 0) {
          throw new CofferError(
            'EINVAL',
            `${root} is not empty and not a Coffer dir store: choose an empty directory`,
          );
        }
        await mkdir(join(root, TMP_DIR), { recursive: true, mode: 0o700 });
        await probeCaseSensitive(root);
        await writeInitial(root);
      });
    }
    const version = parseMarker(await readFile(markerPath, 'utf8'), root);
    if (version > DIR_FORMAT_VERSION) {
      throw new CofferError(
        'EUNAVAIL',
        `dir store ${root} has format version ${version}, newer than this build understands: upgrade Coffer`,
      );
    }
    await checkCaseSensitive(root);
    storage.ready = true;
    if (version < DIR_FORMAT_VERSION) {
      // Version 1 → 2: the lock holder's recovery builds `@changes` from a walk (it is missing), and
      // only then does the marker say 2, so no version-2 store ever lacks its index.
      await storage.withLock(async () => {
        if (parseMarker(await readFile(markerPath, 'utf8'), root) < DIR_FORMAT_VERSION)
          await writeMarker(root);
      });
    }
    // Finish any batch a crashed writer left, so the store is clean once open returns.
    await storage.recoverIfNeeded();
    return storage;
  } catch (error) {
    if (error instanceof CofferError) throw error;
    throw new CofferError(
      'EUNAVAIL',
      `cannot open dir store at ${root} (${errno(error) ?? 'error'}): check the path and its permissions`,
      { cause: error },
    );
  }
}

/** Writes `bytes` as `<root>/<name>` through a synced temp file (the caller fsyncs the root). */
async function writeRootFile(root: string, name: string, bytes: Uint8Array | string): Promise<void> {
  const temp = join(root, TMP_DIR, randomBytes(12).toString('hex'));
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, join(root, name));
}

async function writeMarker(root: string): Promise<void> {
  await writeRootFile(root, MARKER_FILE, markerContent());
  await fsyncPath(root);
}

/**
 * Writes an empty changes index, then the marker durably, last (an empty store has no journal: it
 * is at generation 0).
 */
async function writeInitial(root: string): Promise<void> {
  await writeRootFile(root, CHANGES_FILE, changesHeader());
  await writeMarker(root);
  await fsyncPath(dirname(root));
}

/** The commit counters of a dir handle (tests prove group commit with them). */
export function dirStats(storage: Storage): DirStats {
  if (!(storage instanceof DirStorage)) throw new CofferError('EINVAL', 'not a dir store handle');
  return storage.stats;
}
