// A compare-and-swap counter over the Storage contract, used by the conformance suite and the
// multi-process reliability test to prove that concurrent read-modify-write loses no update: each
// increment moves the counter and creates its history record (which must not exist yet) in one
// batch, so a lost or doubled increment shows as a gap or a conflict in the history.
import type { Storage } from '../storage/types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Increments the decimal counter at `key`, retrying lost races; returns the new value and retries. */
export async function casIncrement(
  store: Storage,
  key: string,
  historyPrefix: string,
  who: string,
): Promise<{ value: number; conflicts: number }> {
  for (let conflicts = 0; ; conflicts++) {
    const current = await store.get(key);
    const value = current === undefined ? 1 : Number(dec.decode(current.value)) + 1;
    try {
      await store.write([
        { op: 'put', key, value: enc.encode(String(value)), expectRevision: current?.revision ?? 0 },
        { op: 'put', key: historyKey(historyPrefix, value), value: enc.encode(who), expectRevision: 0 },
      ]);
      return { value, conflicts };
    } catch (error) {
      if ((error as { code?: string }).code !== 'ECONFLICT') throw error;
    }
  }
}

export const historyKey = (prefix: string, value: number) => `${prefix}${String(value).padStart(6, '0')}`;
