// Usage counting per key version (for max-uses rotation policies). Counting in memory and persisting
// in batches keeps a sign from paying for a durable write; the price, stated in the README, is that
// a crash loses at most the counts of the last flush window (FLUSH_EVERY operations or FLUSH_MS).

import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import type { Storage, WriteOp } from '../storage/types.js';
import { openRecord, sealRecord } from './barrier.js';

// Each flush is a durable write (an fsync, which on sqlite blocks the event loop for milliseconds).
// At one flush per 1 000 operations that was a fifth of a 1 KiB seal's time and 7% of an Ed25519
// signature's; per 10 000 it is about 2%, and at ordinary rates the 1 s timer flushes first anyway.
export const FLUSH_EVERY = 10_000;
export const FLUSH_MS = 1000;

interface UsageRecord {
  counts: Record<string, number>;
}

export function usageKey(keyId: string): string {
  return `usage/${keyId}`;
}

export class UsageCounter {
  #pending = new Map<string, Map<number, number>>();
  #total = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly barrierKey: () => Uint8Array,
    private readonly rng: Rng,
    private readonly onError: (error: unknown) => void,
  ) {}

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

  /** Persisted count plus what is still pending in memory. */
  async read(keyId: string): Promise<Record<string, number>> {
    // A batch being written is in neither the record nor #pending yet: wait for it, or it is missed.
    if (this.#flushing) await this.#flushing.catch(() => {});
    const record = await this.storage.get(usageKey(keyId));
    const stored = record
      ? openRecord<UsageRecord>(this.barrierKey(), usageKey(keyId), record.value).counts
      : {};
    const out: Record<string, number> = { ...stored };
    for (const [version, n] of this.#pending.get(keyId) ?? []) out[version] = (out[version] ?? 0) + n;
    return out;
  }

  /** Writes pending counts, merging with what other processes wrote (CAS, retried). */
  async flush(): Promise<void> {
    if (this.#flushing) await this.#flushing;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    this.#total = 0;
    this.#flushing = this.#write(batch).finally(() => {
      this.#flushing = undefined;
    });
    await this.#flushing;
  }

  async #write(batch: Map<string, Map<number, number>>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const ops: WriteOp[] = [];
      for (const [keyId, versions] of batch) {
        const key = usageKey(keyId);
        const record = await this.storage.get(key);
        const counts = record ? openRecord<UsageRecord>(this.barrierKey(), key, record.value).counts : {};
        for (const [version, n] of versions) counts[version] = (counts[version] ?? 0) + n;
        ops.push({
          op: 'put',
          key,
          value: sealRecord(this.barrierKey(), key, { counts }, this.rng),
          expectRevision: record?.revision ?? 0,
        });
      }
      try {
        await this.storage.write(ops);
        return;
      } catch (error) {
        if (!(error instanceof CofferError && error.code === 'ECONFLICT') || attempt >= 20) throw error;
      }
    }
  }
}
