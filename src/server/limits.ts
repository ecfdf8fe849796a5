// Per-token admission control of the daemon (SPEC §10.5, docs/daemon.md "Limits"): how many requests
// one token may have in flight, and how many operations per second it may start (a token bucket; a
// batch costs one operation per item). Either limit answers ERATE (429) with a Retry-After header, and
// it is checked right after the token is known — before the key lookup and before any body is read —
// so a refused request costs the daemon next to nothing. Time is monotonic (performance.now), never
// the injectable wall clock: a clock step must not refill or drain a bucket.
import { CofferError } from '../errors.js';

export interface LimitOptions {
  /** Requests one token may have in flight at once (default 16; 0: no limit). */
  concurrency?: number;
  /** Operations per second one token may sustain, a batch counting its items (default 20 000; 0: no limit). */
  rate?: number;
  /** Operations one token may start at once after a pause (default: twice the rate). */
  burst?: number;
}

export const DEFAULT_LIMITS: Readonly<Required<LimitOptions>> = Object.freeze({
  concurrency: 16,
  rate: 20_000,
  burst: 40_000,
});

/** ERATE with the seconds after which a retry can succeed (sent as the Retry-After header). */
export class RateLimitError extends CofferError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super('ERATE', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

interface TokenState {
  inFlight: number;
  /** Operations that may start now; negative after a batch larger than what was left (a debt). */
  balance: number;
  at: number;
}

/** Entries kept before idle ones (nothing in flight, bucket full) are dropped. */
const MAX_TRACKED = 10_000;

function checkLimit(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > 1e9)
    throw new CofferError('EINVAL', `${name} must be an integer in 0..1000000000`);
  return value;
}

export function resolveLimits(options: LimitOptions = {}): Required<LimitOptions> {
  const concurrency = checkLimit('concurrency', options.concurrency ?? DEFAULT_LIMITS.concurrency);
  const rate = checkLimit('rate', options.rate ?? DEFAULT_LIMITS.rate);
  const burst = checkLimit(
    'burst',
    options.burst ?? (options.rate === undefined ? DEFAULT_LIMITS.burst : 2 * rate),
  );
  if (rate > 0 && burst < 1) throw new CofferError('EINVAL', 'burst must be at least 1 when rate is limited');
  return { concurrency, rate, burst };
}

export class TokenLimits {
  readonly options: Readonly<Required<LimitOptions>>;
  readonly #now: () => number;
  readonly #tokens = new Map<string, TokenState>();

  constructor(options: LimitOptions = {}, now: () => number = () => performance.now()) {
    this.options = Object.freeze(resolveLimits(options));
    this.#now = now;
  }

  #state(tokenId: string): TokenState {
    const now = this.#now();
    let state = this.#tokens.get(tokenId);
    if (state === undefined) {
      if (this.#tokens.size >= MAX_TRACKED) this.#prune(now);
      state = { inFlight: 0, balance: this.options.burst, at: now };
      this.#tokens.set(tokenId, state);
      return state;
    }
    const { rate, burst } = this.options;
    if (rate > 0 && now > state.at)
      state.balance = Math.min(burst, state.balance + ((now - state.at) * rate) / 1000);
    state.at = now;
    return state;
  }

  #prune(now: number): void {
    for (const [id, state] of this.#tokens) {
      const refilled = state.balance + ((now - state.at) * this.options.rate) / 1000;
      if (state.inFlight === 0 && refilled >= this.options.burst) this.#tokens.delete(id);
    }
  }

  #retryAfter(deficit: number): number {
    return Math.max(1, Math.ceil(deficit / this.options.rate));
  }

  /**
   * Admits one request of `tokenId` (one operation) or throws RateLimitError. The returned function
   * ends the request's concurrency slot; calling it twice is harmless.
   */
  admit(tokenId: string): () => void {
    const { concurrency, rate } = this.options;
    const state = this.#state(tokenId);
    if (concurrency > 0 && state.inFlight >= concurrency)
      throw new RateLimitError(`this token already has ${concurrency} requests in flight`, 1);
    if (rate > 0) {
      if (state.balance < 1)
        throw new RateLimitError(
          `this token is over its rate of ${rate} operations per second`,
          this.#retryAfter(1 - state.balance),
        );
      state.balance -= 1;
    }
    state.inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      state.inFlight--;
    };
  }

  /** Charges further operations to an admitted request (a batch's items beyond the first); may leave a debt. */
  charge(tokenId: string, operations: number): void {
    if (this.options.rate === 0 || operations <= 0) return;
    const state = this.#state(tokenId);
    // The debt is bounded so one huge charge cannot lock a token out for longer than a burst's worth.
    state.balance = Math.max(-this.options.burst, state.balance - operations);
  }
}
