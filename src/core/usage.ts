// Usage counting per key version (for max-uses rotation policies). Counting in memory and persisting
// in batches keeps a sign from paying for a durable write; the price, stated in the README, is that
// a crash loses at most the counts of the last flush window (FLUSH_EVERY operations or FLUSH_MS).
//
// A usage record that fails the barrier or the record tree means the key's use count is unknown
// (SPEC §4.5). It is never read as zero and counted uses are never dropped: the key's counting
// operations are refused (EBADMSG naming the record) until `repairUsage` rewrites it, its uses counted
// meanwhile are held in memory, and lock/close report them if they still cannot be written.
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import type { Storage, WriteOp } from '../storage/types.js';
import { openRecord, sealRecord } from './barrier.js';

// Each flush is a durable write (an fsync, which on sqlite blocks the event loop for milliseconds).
// At one flush per 1 000 operations that was a fifth of a 1 KiB seal's time and 7% of an Ed25519
// signature's; per 10 000 it is about 2%, and at ordinary rates the 1 s timer flushes first anyway.
export const FLUSH_EVERY = 10_000;
export const FLUSH_MS = 1000;
/** Keys per flush batch: each is one record plus its path in the record tree (SPEC §4.1). */
const KEYS_PER_BATCH = 1000;
/** Keys remembered as having a good record; one more read re-admits an evicted key. */
const TRUSTED_ENTRIES = 100_000;

interface UsageRecord {
  counts: Record<string, number>;
}

export function usageKey(keyId: string): string {
  return `usage/${keyId}`;
}

type Counts = Map<number, number>;

function add(into: Map<string, Counts>, keyId: string, counts: Counts): void {
  let perKey = into.get(keyId);
  if (!perKey) {
    perKey = new Map();
    into.set(keyId, perKey);
  }
  for (const [version, n] of counts) perKey.set(version, (perKey.get(version) ?? 0) + n);
}

function isBadRecord(error: unknown): error is CofferError {
  return error instanceof CofferError && error.code === 'EBADMSG';
}

/** The error every counting operation on a key with an untrustworthy usage record gets. */
function unknownCount(keyId: string, cause: CofferError): CofferError {
  return new CofferError(
    'EBADMSG',
    `the use count of key ${keyId} is unknown: ${cause.message}. Operations that count uses are refused ` +
      `until an administrator rewrites ${usageKey(keyId)} with repairUsage (SPEC §4.5)`,
    { cause },
  );
}

export class UsageCounter {
  #pending = new Map<string, Counts>();
  /** Uses counted for keys whose record is bad: kept until the record is repaired. */
  #held = new Map<string, Counts>();
  #trusted = new Set<string>();
  #total = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly barrierKey: () => Uint8Array,
    private readonly rng: Rng,
    private readonly onError: (error: unknown) => void,
  ) {}

  #trust(keyId: string): void {
    this.#trusted.delete(keyId);
    this.#trusted.add(keyId);
    if (this.#trusted.size > TRUSTED_ENTRIES) this.#trusted.delete(this.#trusted.values().next().value!);
  }

  /** The stored counts, or the reason they cannot be trusted (EBADMSG). */
  async #stored(keyId: string): Promise<{ counts: Record<string, number>; revision: number }> {
    const key = usageKey(keyId);
    try {
      const record = await this.storage.get(key);
      if (!record) return { counts: {}, revision: 0 };
      const { counts } = openRecord<UsageRecord>(this.barrierKey(), key, record.value);
      return { counts, revision: record.revision };
    } catch (error) {
      if (isBadRecord(error)) {
        this.#trusted.delete(keyId);
        throw unknownCount(keyId, error);
      }
      throw error;
    }
  }

  /**
   * Call before an operation that counts a use: undefined when the key's usage record is known good
   * (the hot path), else a promise that reads it once and rejects (EBADMSG) when it is bad.
   */
  admit(keyId: string): Promise<void> | undefined {
    if (this.#trusted.has(keyId)) return undefined;
    return this.#stored(keyId).then(() => {
      this.#trust(keyId);
      const held = this.#held.get(keyId);
      if (held) {
        this.#held.delete(keyId);
        add(this.#pending, keyId, held);
      }
    });
  }

  count(keyId: string, version: number): void {
    let perKey = this.#pending.get(keyId);
    if (!perKey) {
      perKey = new Map();
      this.#pending.set(keyId, perKey);
    }
    perKey.set(version, (perKey.get(version) ?? 0) + 1);
    this.#total++;
    if (this.#total >= FLUSH_EVERY) {
      void this.flush().catch(this.onError);
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => void this.flush().catch(this.onError), FLUSH_MS);
      this.#timer.unref();
    }
  }

  /** Persisted count plus what is still pending (or held) in memory; EBADMSG when the record is bad. */
  async read(keyId: string): Promise<Record<string, number>> {
    // A batch being written is in neither the record nor #pending yet: wait for it, or it is missed.
    if (this.#flushing) await this.#flushing.catch(() => {});
    const out: Record<string, number> = { ...(await this.#stored(keyId)).counts };
    for (const source of [this.#pending, this.#held]) {
      for (const [version, n] of source.get(keyId) ?? []) out[version] = (out[version] ?? 0) + n;
    }
    return out;
  }

  /** After an administrator rewrote the record (repairUsage): uses held meanwhile are counted again. */
  repaired(keyId: string): void {
    this.#trust(keyId);
    const held = this.#held.get(keyId);
    if (held) {
      this.#held.delete(keyId);
      add(this.#pending, keyId, held);
    }
  }

  /**
   * Writes pending counts, merging with what other processes wrote (CAS, retried). Keys whose record is
   * bad keep their counts in memory; then EBADMSG names them (after every other key was written).
   */
  async flush(): Promise<void> {
    if (this.#flushing) await this.#flushing.catch(() => {});
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size > 0) {
      const batch = this.#pending;
      this.#pending = new Map();
      this.#total = 0;
      this.#flushing = this.#writeAll(batch).finally(() => {
        this.#flushing = undefined;
      });
      await this.#flushing;
    }
    if (this.#held.size > 0) {
      const lost = [...this.#held].map(
        ([keyId, counts]) => `${[...counts.values()].reduce((a, b) => a + b, 0)} of key ${keyId}`,
      );
      throw new CofferError(
        'EBADMSG',
        `uses could not be recorded because the keys' usage records are bad (SPEC §4.5): ${lost.join(', ')}; ` +
          'repair them with repairUsage',
      );
    }
  }

  async #writeAll(batch: Map<string, Counts>): Promise<void> {
    const entries = [...batch];
    for (let i = 0; i < entries.length; i += KEYS_PER_BATCH) {
      try {
        await this.#write(entries.slice(i, i + KEYS_PER_BATCH));
      } catch (error) {
        // Not written (a batch is all or nothing): count them again at the next flush, never drop them.
        for (const [keyId, counts] of entries.slice(i))
          if (!this.#held.has(keyId)) add(this.#pending, keyId, counts);
        throw error;
      }
    }
  }

  async #write(entries: [string, Counts][]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const ops: WriteOp[] = [];
      for (const [keyId, versions] of entries) {
        if (this.#held.has(keyId)) {
          add(this.#held, keyId, versions);
          continue;
        }
        let stored: { counts: Record<string, number>; revision: number };
        try {
          stored = await this.#stored(keyId);
        } catch (error) {
          if (!isBadRecord(error)) throw error;
          add(this.#held, keyId, versions);
          continue;
        }
        const counts = stored.counts;
        for (const [version, n] of versions) counts[version] = (counts[version] ?? 0) + n;
        const key = usageKey(keyId);
        ops.push({
          op: 'put',
          key,
          value: sealRecord(this.barrierKey(), key, { counts }, this.rng),
          expectRevision: stored.revision,
        });
      }
      if (ops.length === 0) return;
      try {
        await this.storage.write(ops);
        return;
      } catch (error) {
        if (!(error instanceof CofferError && error.code === 'ECONFLICT') || attempt >= 20) throw error;
        // Entries moved to #held on this attempt stay there; only the rest is retried.
        entries = entries.filter(([keyId]) => !this.#held.has(keyId));
      }
    }
  }
}
