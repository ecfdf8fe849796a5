// Bounded LRU caches for expensive key preparations (importing a KeyObject, expanding an ML-DSA key),
// so repeated sign/verify with the same key bytes pays the preparation once (SPEC §1: the fast
// path is not optional — a native Ed25519 import costs ~10× a signature on Node 20).
//
// Entries are keyed by a salted SHA-256 digest of the key bytes, never by buffer identity: callers
// may wipe or reuse a buffer, and an identity-keyed cache would then hand back the wrong key. The
// salt is random per process so the Map keys are not a public function of secret keys (a heap dump
// does not let anyone test guesses of a low-entropy secret against them).
//
// Memory trade-off: every entry keeps its prepared key alive until evicted or cleared. For secret
// keys that means secret material (an OpenSSL EVP_PKEY, or a noble expanded ML-DSA key of 4 KiB)
// stays in memory after the caller wiped its own copy; `clearKeyCaches()` drops them all (the
// keystore calls it on lock/close) and evicted values are passed to an `onEvict` wipe hook.
import * as nodeCrypto from 'node:crypto';
import { dropEcdhObjects } from './key-import.js';

const PROCESS_SALT = nodeCrypto.randomBytes(32);

// One-shot crypto.hash (Node ≥ 20.12) is ~3× cheaper than a createHash chain; on the sign hot path
// that is a measurable share of an Ed25519 signature (~20 µs).
const oneShot = typeof nodeCrypto.hash === 'function' ? nodeCrypto.hash : undefined;
function digest(data: Uint8Array): string {
  return oneShot !== undefined
    ? oneShot('sha256', data, 'base64')
    : nodeCrypto.createHash('sha256').update(data).digest('base64');
}

/**
 * A cache's bound in bytes: at most `maxBytes` of estimated memory, each entry costing `entryBytes`
 * (measured per kind of key: the KeyObject's OpenSSL allocations plus the JS objects). A bound in bytes
 * rather than in entries lets cheap keys (Ed25519: ≈ 3 KiB) be kept by the ten thousand while big
 * ones (ML-DSA: ≈ 16 KiB) stay fewer in the same memory (issue 14: a cold key costs an import).
 */
export interface ByteBudget {
  maxBytes: number;
  entryBytes: number;
}

/** The default budget of one secret-key cache (docs/daemon.md "Worker pool and secrets"). */
export const SECRET_CACHE_BYTES = 32 * 1024 * 1024;

/** Every cache created in this process, so one call can drop all prepared keys. */
const registry = new Set<KeyCache<unknown>>();

export class KeyCache<V> {
  readonly #entries = new Map<string, V>();
  /** salt ‖ label ‖ 0x00: the fixed head of every digest input. */
  readonly #prefix: Uint8Array;
  readonly #capacity: number;
  readonly #onEvict: ((value: V) => void) | undefined;

  /**
   * @param label domain separation between caches (e.g. 'ed25519/secret'), so the same bytes used
   *   as two different kinds of key never share an entry.
   * @param bound a number of entries, or a byte budget (which becomes ⌊maxBytes / entryBytes⌋ entries,
   *   at least one: every entry of one cache is the same kind of key, so costs the same).
   */
  constructor(label: string, bound: number | ByteBudget, onEvict?: (value: V) => void) {
    const capacity =
      typeof bound === 'number' ? bound : Math.max(1, Math.floor(bound.maxBytes / bound.entryBytes));
    if (typeof bound !== 'number' && !(bound.entryBytes > 0 && bound.maxBytes > 0))
      throw new RangeError('a byte budget needs maxBytes > 0 and entryBytes > 0');
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be ≥ 1');
    const name = new TextEncoder().encode(`${label}\0`);
    this.#prefix = new Uint8Array(PROCESS_SALT.length + name.length);
    this.#prefix.set(PROCESS_SALT);
    this.#prefix.set(name, PROCESS_SALT.length);
    this.#capacity = capacity;
    this.#onEvict = onEvict;
    registry.add(this as KeyCache<unknown>);
  }

  get size(): number {
    return this.#entries.size;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /**
   * Returns the prepared value for `key`, calling `prepare` on a miss. `prepare` must not keep a
   * reference to `key` (the caller may wipe it): copy or transform it. If `prepare` throws, nothing
   * is cached and the error propagates.
   */
  get(key: Uint8Array, prepare: () => V): V {
    const input = new Uint8Array(this.#prefix.length + key.length);
    input.set(this.#prefix);
    input.set(key, this.#prefix.length);
    const id = digest(input);
    input.fill(0); // it holds a copy of the (possibly secret) key
    const hit = this.#entries.get(id);
    if (hit !== undefined) {
      // Re-inserting moves the entry to the young end of the Map's insertion order (LRU).
      this.#entries.delete(id);
      this.#entries.set(id, hit);
      return hit;
    }
    const value = prepare();
    this.#entries.set(id, value);
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#evict(oldest.value);
    }
    return value;
  }

  clear(): void {
    for (const id of [...this.#entries.keys()]) this.#evict(id);
  }

  #evict(id: string): void {
    const value = this.#entries.get(id);
    this.#entries.delete(id);
    if (value !== undefined) this.#onEvict?.(value);
  }
}

/** Drops every prepared key in every cache (wiping what can be wiped), and the reused ECDH objects. */
export function clearKeyCaches(): void {
  for (const cache of registry) cache.clear();
  dropEcdhObjects();
}
