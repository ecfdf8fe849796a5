// How a batch request shares the daemon (docs/daemon.md "Fairness"): its items run through a small
// window (a few in flight at once, enough to keep every pool worker busy), and the loop is given back
// to other requests whenever the items run inline have held it for BUDGET_MS. Without the yield, items
// whose crypto runs inline would resolve through microtasks only and one batch would hold the event
// loop from its first item to its last.
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Longest stretch a batch runs on the event loop before other requests get a turn. */
export const BUDGET_MS = 3;

/** A point where long work lets the event loop run; shared by the lanes of one batch. */
class Yielder {
  #since = performance.now();
  #pending: Promise<void> | undefined;

  async maybeYield(): Promise<void> {
    if (this.#pending === undefined) {
      if (performance.now() - this.#since < BUDGET_MS) return;
      this.#pending = nextTurn().then(() => {
        this.#since = performance.now();
        this.#pending = undefined;
      });
    }
    await this.#pending;
  }
}

/**
 * Runs `run(0 … count-1)` with at most `window` calls in flight, yielding the loop every BUDGET_MS;
 * results come back in item order. `run` must not throw (a batch turns each failure into its result).
 */
export async function runInSlices<T>(
  count: number,
  window: number,
  run: (index: number) => Promise<T>,
): Promise<T[]> {
  const results = new Array<T>(count);
  const yielder = new Yielder();
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      results[index] = await run(index);
      await yielder.maybeYield();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(window, count)) }, lane));
  return results;
}
