// The sync protocol's hybrid logical clock (SPEC §17.3; Kulkarni et al. 2014): `now` stamps a local
// write, `update` takes in a clock received from another device, `compareClocks` is the total order
// (wall, counter, device id) the merge of SPEC §17.4 decides by. A received clock further ahead of
// this device's wall time than the skew bound is refused, so one device with a clock set to next
// year cannot win every conflict from then on (and drag every other clock forward with it).
import { CofferError } from '../errors.js';
import { formatClock, parseClock } from '../keychain/clock.js';

/** Default bound on how far a received clock may lead local wall time (SPEC §17.3). */
export const DEFAULT_MAX_SKEW_MS = 10 * 60 * 1000;

const MAX_COUNTER = 0xffff;
const DEVICE_ID = /^[0-9a-f]{16}$/;

/** Total order of two clocks: -1, 0 or 1. The 32-hex form orders as strings (SPEC §16.4). */
export function compareClocks(a: string, b: string): -1 | 0 | 1 {
  parseClock(a);
  parseClock(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface SyncClockOptions {
  deviceId: string;
  /** Physical time in ms (injected so tests and vectors are reproducible). */
  wallTime?: () => number;
  maxSkewMs?: number;
  /** The highest clock this device has issued or seen, e.g. read back after a restart. */
  last?: string;
}

export class SyncClock {
  readonly deviceId: string;
  readonly maxSkewMs: number;
  readonly #wallTime: () => number;
  #wall = 0;
  #counter = 0;

  constructor(options: SyncClockOptions) {
    if (!DEVICE_ID.test(options.deviceId)) throw new CofferError('EINVAL', 'device id must be 16 hex');
    const skew = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    if (!Number.isSafeInteger(skew) || skew < 0) throw new CofferError('EINVAL', 'maxSkewMs must be ≥ 0');
    this.deviceId = options.deviceId;
    this.maxSkewMs = skew;
    this.#wallTime = options.wallTime ?? Date.now;
    if (options.last !== undefined) {
      const last = parseClock(options.last);
      this.#wall = last.wall;
      this.#counter = last.counter;
    }
  }

  #physical(): number {
    const t = Math.floor(this.#wallTime());
    if (!Number.isSafeInteger(t) || t < 0)
      throw new CofferError('EINTERNAL', 'wall clock returned a bad time');
    return t;
  }

  #advance(wall: number, counter: number): string {
    if (counter > MAX_COUNTER) {
      // 65 536 events within one millisecond of the highest clock: borrow the next millisecond.
      wall += 1;
      counter = 0;
    }
    this.#wall = wall;
    this.#counter = counter;
    return formatClock({ wall, counter, deviceId: this.deviceId });
  }

  /** Send or local event: a clock above every clock this device has issued or seen. */
  now(): string {
    const pt = this.#physical();
    if (pt > this.#wall) return this.#advance(pt, 0);
    return this.#advance(this.#wall, this.#counter + 1);
  }

  /**
   * Receive event. Refuses (EINVAL, nothing changed) a clock whose wall time leads local physical
   * time by more than `maxSkewMs`: SPEC §17.3 keeps such a record queued, unmerged, until local time
   * catches up, rather than letting it pull this clock into the future.
   */
  update(received: string): string {
    const remote = parseClock(received);
    const pt = this.#physical();
    if (remote.wall > pt + this.maxSkewMs)
      throw new CofferError(
        'EINVAL',
        `clock of device ${remote.deviceId} is ${remote.wall - pt} ms ahead of local time (bound ${this.maxSkewMs} ms)`,
      );
    const wall = Math.max(this.#wall, remote.wall, pt);
    let counter: number;
    if (wall === this.#wall && wall === remote.wall) counter = Math.max(this.#counter, remote.counter) + 1;
    else if (wall === this.#wall) counter = this.#counter + 1;
    else if (wall === remote.wall) counter = remote.counter + 1;
    else counter = 0;
    return this.#advance(wall, counter);
  }

  /** The highest clock issued or seen, to persist so a restart never goes backwards. */
  last(): string {
    return formatClock({ wall: this.#wall, counter: this.#counter, deviceId: this.deviceId });
  }
}
