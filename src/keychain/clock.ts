// Hybrid logical clocks (SPEC §16.4; Kulkarni et al. 2014) for the per-field stamps inside items: a
// total order of writes across devices that follows wall time when clocks agree, never goes backwards
// when they do not, and breaks ties by device id — what the sync merge orders conflicting edits by.
import { CofferError } from '../errors.js';

const CLOCK = /^[0-9a-f]{12}[0-9a-f]{4}[0-9a-f]{16}$/;
const MAX_WALL = 2 ** 48 - 1;
const MAX_COUNTER = 0xffff;

export interface ClockParts {
  wall: number;
  counter: number;
  deviceId: string;
}

export function assertClock(value: unknown, what = 'clock'): asserts value is string {
  if (typeof value !== 'string' || !CLOCK.test(value))
    throw new CofferError('EBADMSG', `${what} is not a 32-hex hybrid logical clock`);
}

export function formatClock(parts: ClockParts): string {
  if (!Number.isSafeInteger(parts.wall) || parts.wall < 0 || parts.wall > MAX_WALL)
    throw new CofferError('EINVAL', 'clock wall time out of range');
  return (
    parts.wall.toString(16).padStart(12, '0') + parts.counter.toString(16).padStart(4, '0') + parts.deviceId
  );
}

export function parseClock(clock: string): ClockParts {
  assertClock(clock);
  return {
    wall: Number.parseInt(clock.slice(0, 12), 16),
    counter: Number.parseInt(clock.slice(12, 16), 16),
    deviceId: clock.slice(16),
  };
}

/** One device's clock: `tick` stamps a local write after everything it has seen (`observe`). */
export class HybridClock {
  #wall = 0;
  #counter = 0;

  constructor(
    readonly deviceId: string,
    readonly now: () => number,
  ) {
    if (!/^[0-9a-f]{16}$/.test(deviceId)) throw new CofferError('EINVAL', 'device id must be 16 hex');
  }

  /** Takes in a clock read from a record (a remote or another process's write). */
  observe(clock: string): void {
    const seen = parseClock(clock);
    if (seen.wall > this.#wall || (seen.wall === this.#wall && seen.counter > this.#counter)) {
      this.#wall = seen.wall;
      this.#counter = seen.counter;
    }
  }

  tick(): string {
    const physical = Math.max(0, Math.floor(this.now()));
    if (physical > this.#wall) {
      this.#wall = physical;
      this.#counter = 0;
    } else if (this.#counter < MAX_COUNTER) {
      this.#counter += 1;
    } else {
      // 65 536 writes within one millisecond of the highest clock seen: borrow the next millisecond.
      this.#wall += 1;
      this.#counter = 0;
    }
    return formatClock({ wall: this.#wall, counter: this.#counter, deviceId: this.deviceId });
  }
}
