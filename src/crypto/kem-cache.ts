// Bounded LRU of expanded KEM keys. Expanding a 32/64-byte seed (ML-KEM KeyGen_internal, the X-Wing
// SHAKE256 step, OpenSSL key import) costs more than a decapsulation, so repeated use of one key
// reuses the expanded form (X-Wing draft §5.5.1 allows exactly this; expanded keys never leave the
// process). Entries are indexed by SHA-256(per-process random key ‖ domain ‖ key bytes), never by the
// key bytes themselves: the index is not an offline-checkable fingerprint of a secret seed in a heap
// dump. (A keyed prefix hash, not HMAC: only secrecy of the index is needed, and createHmac costs ~9 µs
// per call on Node 24 — more than an ML-KEM encapsulation's whole overhead budget.)
import { hash, randomBytes } from 'node:crypto';

const INDEX_KEY = randomBytes(32);

/** A cached value that owns secret or expensive state and must release it when evicted. */
export interface Disposable {
  dispose(): void;
}

export interface CacheStats {
  hits: number;
  misses: number;
  size: number;
  capacity: number;
}

const prefixes = new Map<string, Buffer>();

function indexOf(domain: string, keyBytes: Uint8Array): string {
  let prefix = prefixes.get(domain);
  if (prefix === undefined) {
    prefix = Buffer.concat([INDEX_KEY, Buffer.from(`${domain}\0`, 'utf8')]);
    prefixes.set(domain, prefix);
  }
  const input = Buffer.allocUnsafeSlow(prefix.length + keyBytes.length);
  prefix.copy(input, 0);
  input.set(keyBytes, prefix.length);
  try {
    return hash('sha256', input, 'base64');
  } finally {
    input.fill(0); // it held a copy of the (possibly secret) key bytes
  }
}

export class ExpandedKeyCache<V extends Disposable> {
  readonly #entries = new Map<string, V>();
  readonly #capacity: number;
  /**
   * Public keys only: the index last computed for a given array object, with a copy of the bytes it
   * was computed from. Encapsulating to one key object over and over then costs a memcmp instead of
   * a hash (~1.2 µs, a tenth of a native ML-KEM encapsulation); a mutated array just misses.
   */
  readonly #memo: WeakMap<Uint8Array, { domain: string; bytes: Buffer; index: string }> | undefined;
  #hits = 0;
  #misses = 0;

  constructor(capacity: number, options: { publicKeys?: boolean } = {}) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be >= 1');
    this.#capacity = capacity;
    this.#memo = options.publicKeys === true ? new WeakMap() : undefined;
  }

  #index(domain: string, keyBytes: Uint8Array): string {
    if (this.#memo === undefined) return indexOf(domain, keyBytes);
    const memo = this.#memo.get(keyBytes);
    if (memo !== undefined && memo.domain === domain && memo.bytes.equals(keyBytes)) return memo.index;
    const index = indexOf(domain, keyBytes);
    this.#memo.set(keyBytes, { domain, bytes: Buffer.from(keyBytes), index });
    return index;
  }

  /**
   * Returns the entry for (`domain`, `keyBytes`), building it with `build` on a miss. A throwing
   * `build` caches nothing, so a malformed key is rejected again on every call.
   */
  get(domain: string, keyBytes: Uint8Array, build: () => V): V {
    const index = this.#index(domain, keyBytes);
    const found = this.#entries.get(index);
    if (found !== undefined) {
      this.#hits++;
      // Re-insert so Map iteration order is least-recently-used first.
      this.#entries.delete(index);
      this.#entries.set(index, found);
      return found;
    }
    this.#misses++;
    const built = build();
    this.#entries.set(index, built);
    while (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      const evicted = this.#entries.get(oldest.value);
      this.#entries.delete(oldest.value);
      evicted?.dispose();
    }
    return built;
  }

  /** Drops and disposes every entry (wipes what JS can wipe). */
  clear(): void {
    const values = [...this.#entries.values()];
    this.#entries.clear();
    for (const value of values) value.dispose();
  }

  stats(): CacheStats {
    return { hits: this.#hits, misses: this.#misses, size: this.#entries.size, capacity: this.#capacity };
  }
}
