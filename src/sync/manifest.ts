// The set a device and the sync server compare (SPEC §17.5): one (uuid, record hash) entry per
// synced item, kept sorted by uuid; the fingerprint of a uuid-prefix range; and the manifest digest,
// which is the fingerprint of the whole set — equal digests mean equal sets, so "anything new?" is
// one comparison and one round trip.
import { createHash } from 'node:crypto';
import { CofferError } from '../errors.js';
import { isUuid } from '../keychain/record.js';

export interface ManifestEntry {
  uuid: string;
  /** SHA-256 of the record's bytes as stored (SPEC §17.2), 64 lowercase hex. */
  hash: string;
}

const HASH = /^[0-9a-f]{64}$/;
const PREFIX = /^[0-9a-f]{0,32}$/;
const ENTRY_BYTES = 16 + 32;
const FINGERPRINT_LABEL = Buffer.from('coffer:sync-range:v1\0', 'utf8');

/** SHA-256 of a stored record's bytes (SPEC §17.2): what the manifest lists for an item. */
export function recordHash(recordBytes: Uint8Array): string {
  return createHash('sha256').update(recordBytes).digest('hex');
}

/** The uuid's 32 hex digits without dashes: the key ranges are prefixes of (SPEC §17.6). */
export function uuidKey(uuid: string): string {
  return uuid.replaceAll('-', '');
}

export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix))
    throw new CofferError('EINVAL', 'range prefix must be 0–32 lowercase hex digits');
}

function checkedEntry(e: ManifestEntry): ManifestEntry {
  if (!isUuid(e.uuid)) throw new CofferError('EINVAL', 'manifest entry: uuid');
  if (typeof e.hash !== 'string' || !HASH.test(e.hash))
    throw new CofferError('EINVAL', 'manifest entry: hash');
  return { uuid: e.uuid, hash: e.hash };
}

const byUuid = (a: ManifestEntry, b: ManifestEntry) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0);

const BUILT = Symbol('built');
interface Built {
  entries: ManifestEntry[];
  keys: string[];
  packed: Buffer;
}

/** An immutable, sorted set of entries with range queries by uuid prefix. */
export class Manifest {
  readonly #keys: string[];
  readonly #entries: ManifestEntry[];
  /** key (16 bytes) ‖ hash (32 bytes) per entry, in order: a range's fingerprint input is one slice. */
  readonly #packed: Buffer;

  constructor(entries: Iterable<ManifestEntry>);
  /** @internal withChanges' result, already sorted and packed. */
  constructor(entries: typeof BUILT, built: Built);
  constructor(entries: Iterable<ManifestEntry> | typeof BUILT, built?: Built) {
    if (entries === BUILT && built) {
      this.#entries = built.entries;
      this.#keys = built.keys;
      this.#packed = built.packed;
      return;
    }
    const list = [...(entries as Iterable<ManifestEntry>)].map(checkedEntry);
    list.sort(byUuid);
    for (let i = 1; i < list.length; i++)
      if (list[i]!.uuid === list[i - 1]!.uuid)
        throw new CofferError('EINVAL', `manifest: uuid ${list[i]!.uuid} twice`);
    this.#entries = list;
    this.#keys = list.map((e) => uuidKey(e.uuid));
    this.#packed = Buffer.alloc(list.length * ENTRY_BYTES);
    list.forEach((e, i) => {
      this.#packed.write(this.#keys[i]!, i * ENTRY_BYTES, 'hex');
      this.#packed.write(e.hash, i * ENTRY_BYTES + 16, 'hex');
    });
  }

  /**
   * This set with `changes` put in (a uuid already present takes the new hash; the last change of a
   * uuid wins): what the server and a device do after writes. It merges the few sorted changes into
   * the sorted set and copies the packed bytes in runs, so a write to a 100 000-entry account costs a
   * copy, not a sort and a re-validation of every entry.
   */
  withChanges(changes: Iterable<ManifestEntry>): Manifest {
    const latest = new Map<string, ManifestEntry>();
    for (const change of changes) latest.set(change.uuid, checkedEntry(change));
    if (latest.size === 0) return this;
    const sorted = [...latest.values()].sort(byUuid);
    const entryRuns: ManifestEntry[][] = [];
    const keyRuns: string[][] = [];
    // Old entries kept, by index run [from, to) of this manifest, and new entries, in output order.
    const pieces: ({ from: number; to: number } | ManifestEntry)[] = [];
    let at = 0;
    for (const change of sorted) {
      const key = uuidKey(change.uuid);
      const index = this.#lowerBound(key);
      if (index > at) pieces.push({ from: at, to: index });
      pieces.push(change);
      at = index < this.#keys.length && this.#keys[index] === key ? index + 1 : index;
    }
    if (at < this.#keys.length) pieces.push({ from: at, to: this.#keys.length });
    let size = 0;
    for (const piece of pieces) size += 'from' in piece ? piece.to - piece.from : 1;
    const packed = Buffer.alloc(size * ENTRY_BYTES);
    let out = 0;
    for (const piece of pieces) {
      if ('from' in piece) {
        entryRuns.push(this.#entries.slice(piece.from, piece.to));
        keyRuns.push(this.#keys.slice(piece.from, piece.to));
        this.#packed.copy(packed, out * ENTRY_BYTES, piece.from * ENTRY_BYTES, piece.to * ENTRY_BYTES);
        out += piece.to - piece.from;
      } else {
        const key = uuidKey(piece.uuid);
        entryRuns.push([piece]);
        keyRuns.push([key]);
        packed.write(key, out * ENTRY_BYTES, 'hex');
        packed.write(piece.hash, out * ENTRY_BYTES + 16, 'hex');
        out++;
      }
    }
    return new Manifest(BUILT, {
      entries: ([] as ManifestEntry[]).concat(...entryRuns),
      keys: ([] as string[]).concat(...keyRuns),
      packed,
    });
  }

  get size(): number {
    return this.#entries.length;
  }

  entries(): readonly ManifestEntry[] {
    return this.#entries;
  }

  #lowerBound(key: string): number {
    let lo = 0;
    let hi = this.#keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index bounds [start, end) of the entries whose uuid key starts with `prefix`. */
  #bounds(prefix: string): [number, number] {
    assertPrefix(prefix);
    // Every key with this prefix sorts at or after `prefix` and before `prefix` ‖ "g" ("g" > "f").
    return [this.#lowerBound(prefix), this.#lowerBound(`${prefix}g`)];
  }

  count(prefix: string): number {
    const [start, end] = this.#bounds(prefix);
    return end - start;
  }

  range(prefix: string): ManifestEntry[] {
    const [start, end] = this.#bounds(prefix);
    return this.#entries.slice(start, end);
  }

  /** SPEC §17.5: SHA-256("coffer:sync-range:v1" ‖ 00 ‖ u32 count ‖ (uuid 16 ‖ hash 32)…), in uuid order. */
  fingerprint(prefix: string): string {
    const [start, end] = this.#bounds(prefix);
    const h = createHash('sha256').update(FINGERPRINT_LABEL);
    const count = Buffer.alloc(4);
    count.writeUInt32BE(end - start);
    h.update(count);
    h.update(this.#packed.subarray(start * ENTRY_BYTES, end * ENTRY_BYTES));
    return h.digest('hex');
  }

  /** The manifest digest: the fingerprint of the whole set (the empty prefix). */
  digest(): string {
    return this.fingerprint('');
  }
}
