// The changes index of the dir: backend (SPEC §9.6 "Changes index"): an append-only file `@changes`
// that says, for every committed group of batches, which keys it wrote (at which revision) and which
// it deleted. `changedSince(g)` reads only the entries past `g` and the record files they name, not
// the whole tree. The file is only ever appended to under the store lock, each entry carrying its
// own length and SHA-256, so a tail torn by kill -9 (or still being written while a reader looks)
// is recognised and never believed. Entries chain by generation (each starts right after the last
// one ended), so a lost or damaged entry shows as a gap; the writer then repairs the file from the
// redo journal or rebuilds it from a walk of the record files, which are the truth.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { checksum } from './dir-format.js';
import { recordKeyProblem } from './keys.js';
import type { RecordKey } from './types.js';

const CHANGES_MAGIC = Buffer.from('CFC1', 'latin1');
const CHECKSUM_BYTES = 32;
/** Entry body: first u64 | last u64 | item count u32, then the items. */
const BODY_HEADER_BYTES = 8 + 8 + 4;
/** Bound on one entry's body (a snapshot of a very large store), so a damaged length is not believed. */
const MAX_BODY_BYTES = 1 << 30;

/** One key an entry names: its revision, or 0 when its last op in the entry's range was a delete. */
export interface ChangeItem {
  revision: number;
  key: RecordKey;
}

/**
 * The keys written (or deleted, revision 0) by generations `first`..`last`, sorted by revision and
 * then key, so a reader finds the items past a generation by binary search.
 */
export interface ChangesEntry {
  first: number;
  last: number;
  items: ChangeItem[];
}

export function changesHeader(): Buffer {
  return Buffer.from(CHANGES_MAGIC);
}

function compareItems(a: ChangeItem, b: ChangeItem): number {
  return a.revision - b.revision || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

export function sortItems(items: ChangeItem[]): ChangeItem[] {
  return items.sort(compareItems);
}

/** entry = body length u32 | body | SHA-256(body); body = first u64 | last u64 | count u32 | items. */
export function encodeChangesEntry(entry: ChangesEntry): Buffer {
  let bodySize = BODY_HEADER_BYTES;
  for (const item of entry.items) bodySize += 8 + 2 + item.key.length;
  const out = Buffer.allocUnsafe(4 + bodySize + CHECKSUM_BYTES);
  let at = out.writeUInt32BE(bodySize, 0);
  at = out.writeBigUInt64BE(BigInt(entry.first), at);
  at = out.writeBigUInt64BE(BigInt(entry.last), at);
  at = out.writeUInt32BE(entry.items.length, at);
  for (const item of entry.items) {
    at = out.writeBigUInt64BE(BigInt(item.revision), at);
    at = out.writeUInt16BE(item.key.length, at);
    at += out.write(item.key, at, 'latin1');
  }
  checksum(out.subarray(4, at)).copy(out, at);
  return out;
}

/**
 * How parsing stopped: 'end' — every byte was a valid entry; 'partial' — the tail is an entry not
 * yet complete (being appended, or torn by a kill); 'bad' — an entry fails its checksum, its
 * structure or the generation chain; 'header' — the file does not start with the magic.
 */
export type ChangesStop = 'end' | 'partial' | 'bad' | 'header';

export interface ParsedChanges {
  entries: ChangesEntry[];
  /** Offset just past the last valid entry. */
  end: number;
  /** The last generation the valid entries cover (the `last` passed in when none). */
  last: number;
  stop: ChangesStop;
}

function decodeBody(body: Buffer, previousLast: number): ChangesEntry | undefined {
  if (body.length < BODY_HEADER_BYTES) return undefined;
  const first = Number(body.readBigUInt64BE(0));
  const last = Number(body.readBigUInt64BE(8));
  const count = body.readUInt32BE(16);
  if (first !== previousLast + 1 || !Number.isSafeInteger(last) || last < first) return undefined;
  const items: ChangeItem[] = [];
  let at = BODY_HEADER_BYTES;
  let previous: ChangeItem | undefined;
  for (let i = 0; i < count; i++) {
    if (at + 10 > body.length) return undefined;
    const revision = Number(body.readBigUInt64BE(at));
    const keyLength = body.readUInt16BE(at + 8);
    at += 10;
    if (at + keyLength > body.length) return undefined;
    const key = body.toString('latin1', at, at + keyLength);
    at += keyLength;
    if (revision !== 0 && (revision < first || revision > last)) return undefined;
    if (recordKeyProblem(key) !== undefined) return undefined;
    const item = { revision, key };
    // Strictly sorted: the binary search relies on it.
    if (previous !== undefined && compareItems(previous, item) >= 0) return undefined;
    items.push(item);
    previous = item;
  }
  if (at !== body.length) return undefined;
  return { first, last, items };
}

/**
 * Parses `bytes` (the file's bytes from offset `base`; base 0 includes the magic) into the valid
 * entries that continue the chain after generation `last`. Never throws: damage is a stop reason.
 */
export function parseChanges(bytes: Buffer, base: number, last: number): ParsedChanges {
  let at = 0;
  if (base === 0) {
    if (bytes.length < CHANGES_MAGIC.length) {
      return {
        entries: [],
        end: 0,
        last,
        stop: CHANGES_MAGIC.subarray(0, bytes.length).equals(bytes) ? 'partial' : 'header',
      };
    }
    if (!bytes.subarray(0, CHANGES_MAGIC.length).equals(CHANGES_MAGIC))
      return { entries: [], end: 0, last, stop: 'header' };
    at = CHANGES_MAGIC.length;
  }
  const entries: ChangesEntry[] = [];
  const done = (stop: ChangesStop): ParsedChanges => ({ entries, end: base + at, last, stop });
  while (at < bytes.length) {
    if (at + 4 > bytes.length) return done('partial');
    const bodySize = bytes.readUInt32BE(at);
    if (bodySize < BODY_HEADER_BYTES || bodySize > MAX_BODY_BYTES) return done('bad');
    const end = at + 4 + bodySize + CHECKSUM_BYTES;
    if (end > bytes.length) return done('partial');
    const body = bytes.subarray(at + 4, at + 4 + bodySize);
    if (!checksum(body).equals(bytes.subarray(at + 4 + bodySize, end))) return done('bad');
    const entry = decodeBody(body, last);
    if (entry === undefined) return done('bad');
    entries.push(entry);
    last = entry.last;
    at = end;
  }
  return done('end');
}

/**
 * One handle's view of `@changes`, read incrementally: only bytes appended since the last refresh
 * are read, and a replaced file (compaction or rebuild: another inode) is read afresh.
 */
export class ChangesIndex {
  #identity = '';
  /** File offset up to which entries were absorbed. */
  end = 0;
  /** The last generation covered; 0 for a file holding only the magic. */
  last = 0;
  /** Whether the file existed and started with the magic at the last refresh. */
  present = false;
  stop: ChangesStop = 'end';
  #entries: ChangesEntry[] = [];
  /** Each live key's latest revision: what a compaction writes. */
  readonly live = new Map<RecordKey, number>();
  /** Items across all entries (a compaction is due when these far outnumber the live keys). */
  items = 0;

  #reset(identity: string): void {
    this.#identity = identity;
    this.end = 0;
    this.last = 0;
    this.#entries = [];
    this.live.clear();
    this.items = 0;
  }

  /** Reads what was appended to `path` since the last call. Missing file: `present` is false. */
  refresh(path: string): void {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
      this.#reset('');
      this.present = false;
      this.stop = 'end';
      return;
    }
    try {
      const info = fstatSync(fd);
      const identity = `${info.dev}:${info.ino}`;
      if (identity !== this.#identity || info.size < this.end) this.#reset(identity);
      const length = info.size - this.end;
      const bytes = Buffer.allocUnsafe(Math.max(0, length));
      let got = 0;
      while (got < length) {
        const n = readSync(fd, bytes, got, length - got, this.end + got);
        if (n === 0) break;
        got += n;
      }
      const parsed = parseChanges(bytes.subarray(0, got), this.end, this.last);
      this.present = !(this.end === 0 && parsed.stop === 'header');
      this.stop = parsed.stop;
      for (const entry of parsed.entries) this.#absorb(entry);
      this.end = parsed.end;
      this.last = parsed.last;
    } finally {
      closeSync(fd);
    }
  }

  #absorb(entry: ChangesEntry): void {
    this.#entries.push(entry);
    this.items += entry.items.length;
    for (const item of entry.items) {
      if (item.revision === 0) this.live.delete(item.key);
      else this.live.set(item.key, item.revision);
    }
  }

  /** Keys written at a revision past `generation` (some may have been deleted or rewritten since). */
  writtenSince(generation: number): Set<RecordKey> {
    const keys = new Set<RecordKey>();
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const entry = this.#entries[i]!;
      if (entry.last <= generation) break;
      const items = entry.items;
      let lo = 0;
      let hi = items.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (items[mid]!.revision <= generation) lo = mid + 1;
        else hi = mid;
      }
      for (let j = lo; j < items.length; j++) keys.add(items[j]!.key);
    }
    return keys;
  }
}
