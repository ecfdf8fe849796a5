// Token buckets for the sync server (SPEC §17.8 "Limits"): per device, per account and per client
// address on the unauthenticated routes. Over the limit is ERATE (429) with the whole seconds after
// which a retry can succeed. Monotonic time, so a wall-clock step never refills or drains a bucket.
import { performance } from 'node:perf_hooks';
import { CofferError } from '../../errors.js';

export class RateLimitError extends CofferError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('ERATE', message);
  }
}

export interface Rate {
  /** Requests per second sustained (0: unlimited). */
  rate: number;
  /** Requests allowed at once after a pause. */
  burst: number;
}

const MAX_TRACKED = 10_000;

export class Buckets {
  readonly #state = new Map<string, { balance: number; at: number }>();
  constructor(
    readonly limit: Rate,
    readonly what: string,
  ) {}

  admit(key: string): void {
    const { rate, burst } = this.limit;
    if (rate <= 0) return;
    const now = performance.now();
    const state = this.#state.get(key) ?? { balance: burst, at: now };
    state.balance = Math.min(burst, state.balance + ((now - state.at) / 1000) * rate);
    state.at = now;
    if (state.balance < 1) {
      this.#state.set(key, state);
      throw new RateLimitError(
        `${this.what} is over its rate limit`,
        Math.max(1, Math.ceil((1 - state.balance) / rate)),
      );
    }
    state.balance -= 1;
    this.#state.delete(key);
    this.#state.set(key, state);
    if (this.#state.size > MAX_TRACKED) this.#state.delete(this.#state.keys().next().value as string);
  }
}
