// The session's cache of unwrapped key versions (secret and public key), bounded by bytes (issue 14).
// A keystore of 100 000 keys signing with all of them must neither re-read and unwrap a version record
// on every use (the cold-key path: record read, tree check, unwrap) nor keep every secret it ever
// unwrapped for as long as it stays unlocked. A version costs its bytes plus a fixed estimate of the JS
// objects around them; past the budget the least recently used key (all its versions) is dropped.
//
// Evicted secrets are dropped, not wiped: an operation may hold one between its `await` and the kernel
// call (or a worker-pool task queued with it), and zeroing it there would make it sign with a zero key.
// They are left to the garbage collector, as the transient JWK strings of key-import.ts are; lock, close
// and destroy still wipe every secret the cache holds (`clear`, `forget`), as before.
import { wipe } from '../crypto/bytes.js';

export interface VersionEntry {
  secret?: Uint8Array;
  publicKey?: Uint8Array;
}

/** Default budget: the same 32 MiB as each prepared-key cache of the crypto layer (key-cache.ts). */
export const VERSION_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * Estimated bytes of one cached version besides its secret and public key bytes: the entry object, two
 * Uint8Array views with their ArrayBuffers, the Map slots, and per key the key id string and inner Map.
 */
export const VERSION_OVERHEAD_BYTES = 320;

function entryBytes(entry: VersionEntry): number {
  return VERSION_OVERHEAD_BYTES + (entry.secret?.byteLength ?? 0) + (entry.publicKey?.byteLength ?? 0);
}

export class VersionCache {
  /** Key id → version → entry; the outer Map's insertion order is the recency order (oldest first). */
  readonly #keys = new Map<string, Map<number, VersionEntry>>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes: number = VERSION_CACHE_BYTES) {
    if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0)) throw new RangeError('maxBytes must be > 0');
    this.#maxBytes = maxBytes;
  }

  /** Estimated bytes held now (never above the budget after a `set` returns, but for one key). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Cached versions, over all keys. */
  get size(): number {
    let n = 0;
    for (const versions of this.#keys.values()) n += versions.size;
    return n;
  }

  /** The cached entry of a version, marking its key as just used. */
  get(id: string, version: number): VersionEntry | undefined {
    const versions = this.#keys.get(id);
    const entry = versions?.get(version);
    if (versions === undefined || entry === undefined) return undefined;
    // Moving the key to the young end costs two Map operations; a hit on the youngest key costs none.
    if (this.#lastKey !== id) {
      this.#keys.delete(id);
      this.#keys.set(id, versions);
      this.#lastKey = id;
    }
    return entry;
  }

  #lastKey: string | undefined;

  /**
   * Stores what was read of a version (fields given replace the cached ones; a replaced secret is not
   * wiped, for the reason in the header), then evicts the least recently used keys past the budget.
   */
  set(id: string, version: number, fields: VersionEntry): VersionEntry {
    let versions = this.#keys.get(id);
    if (versions === undefined) versions = new Map();
    else this.#keys.delete(id);
    this.#keys.set(id, versions);
    this.#lastKey = id;
    const previous = versions.get(version);
    if (previous !== undefined) this.#bytes -= entryBytes(previous);
    const entry: VersionEntry = { ...previous, ...fields };
    versions.set(version, entry);
    this.#bytes += entryBytes(entry);
    for (const [oldest, old] of this.#keys) {
      if (this.#bytes <= this.#maxBytes || oldest === id) break;
      this.#drop(oldest, old, false);
    }
    return entry;
  }

  /** Wipes and drops every version of one key (destroy, forgetVersions). */
  forget(id: string): void {
    const versions = this.#keys.get(id);
    if (versions !== undefined) this.#drop(id, versions, true);
  }

  /** Wipes and drops everything (lock, close, dropCaches). */
  clear(): void {
    for (const versions of this.#keys.values()) for (const entry of versions.values()) wipe(entry.secret);
    this.#keys.clear();
    this.#bytes = 0;
    this.#lastKey = undefined;
  }

  #drop(id: string, versions: Map<number, VersionEntry>, wipeSecrets: boolean): void {
    for (const entry of versions.values()) {
      this.#bytes -= entryBytes(entry);
      if (wipeSecrets) wipe(entry.secret);
    }
    this.#keys.delete(id);
    if (this.#lastKey === id) this.#lastKey = undefined;
  }
}
