// Unlock attempt limiting (SPEC §10.4): 5 failed passphrase unlocks
// lock unlocking out for 15 minutes, and the count survives a restart. The count lives in a small
// plaintext record `daemon/unlock-attempts` written through the store itself: it must be readable while
// the keystore is locked (a sealed record would need the very master key being guessed). It holds no
// secret — a counter and a time — and tampering with it needs write access to the store, which
// already allows an offline guessing attack against the keyslot, so it protects exactly the online
// interface it is meant for.
//
// Attempts are serialised (one at a time per daemon; compare-and-swap across daemons sharing a store)
// and counted BEFORE the passphrase is tried: a crash or kill during the slow KDF cannot erase a
// guess. Success resets the count; an error that is not a wrong credential (no such slot, storage
// down) gives the attempt back.
import { CofferError } from '../errors.js';
import type { Storage } from '../storage/types.js';

export const LOCKOUT_RECORD = 'daemon/unlock-attempts';
export const MAX_FAILURES = 5;
export const LOCKOUT_MS = 15 * 60 * 1000;

interface AttemptsRecord {
  v: 1;
  /** Consecutive attempts not (yet) known to have succeeded. */
  failures: number;
  /** While now < lockedUntil, every unlock is refused, the right passphrase too. */
  lockedUntil?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function parse(value: Uint8Array): AttemptsRecord {
  try {
    const parsed = JSON.parse(decoder.decode(value)) as AttemptsRecord;
    if (parsed.v === 1 && Number.isSafeInteger(parsed.failures) && parsed.failures >= 0) return parsed;
  } catch {
    // fall through
  }
  // An unreadable record is treated as a lockout, never as a clean slate (fail closed).
  return { v: 1, failures: MAX_FAILURES, lockedUntil: Number.MAX_SAFE_INTEGER };
}

function until(lockedUntil: number): string {
  const at = new Date(lockedUntil);
  return Number.isNaN(at.getTime())
    ? `until the damaged record ${LOCKOUT_RECORD} is repaired (an unreadable count fails closed)`
    : `until ${at.toISOString()}; wait and try again`;
}

/** What `coffer status` shows: failures in the current window and, while locked out, until when. */
export interface UnlockAttempts {
  failures: number;
  maxFailures: number;
  lockedOutUntil?: number;
}

/** Reads the count without counting anything; an unreadable record reads as locked out (fail closed). */
export async function readUnlockAttempts(storage: Storage, now: number): Promise<UnlockAttempts> {
  const stored = await storage.get(LOCKOUT_RECORD);
  const record: AttemptsRecord = stored ? parse(stored.value) : { v: 1, failures: 0 };
  const lockedOut = record.lockedUntil !== undefined && now < record.lockedUntil;
  // A lockout that has run out starts a fresh window: its failures no longer count.
  const failures = record.lockedUntil !== undefined && !lockedOut ? 0 : record.failures;
  return {
    failures,
    maxFailures: MAX_FAILURES,
    ...(lockedOut ? { lockedOutUntil: record.lockedUntil } : {}),
  };
}

export class UnlockGate {
  readonly #storage: Storage;
  readonly #clock: () => number;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(storage: Storage, clock: () => number) {
    this.#storage = storage;
    this.#clock = clock;
  }

  async #read(): Promise<{ record: AttemptsRecord; revision: number }> {
    const stored = await this.#storage.get(LOCKOUT_RECORD);
    return stored
      ? { record: parse(stored.value), revision: stored.revision }
      : { record: { v: 1, failures: 0 }, revision: 0 };
  }

  async #write(record: AttemptsRecord, expectRevision: number): Promise<number> {
    return this.#storage.write([
      { op: 'put', key: LOCKOUT_RECORD, value: encoder.encode(JSON.stringify(record)), expectRevision },
    ]);
  }

  /** When unlocking is locked out, the instant it ends; undefined otherwise. */
  async lockedOutUntil(): Promise<number | undefined> {
    const { record } = await this.#read();
    return record.lockedUntil !== undefined && this.#clock() < record.lockedUntil
      ? record.lockedUntil
      : undefined;
  }

  /** Runs `fn` (one unlock try) exclusively, counted; `isCredentialFailure` says which errors count. */
  attempt<T>(fn: () => Promise<T>, isCredentialFailure: (error: unknown) => boolean): Promise<T> {
    const run = this.#queue.then(() => this.#attempt(fn, isCredentialFailure));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Runs `fn` in the same queue without counting (lock, auto-unlock), so it never interleaves. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #attempt<T>(fn: () => Promise<T>, isCredentialFailure: (error: unknown) => boolean): Promise<T> {
    let before: AttemptsRecord;
    let revision: number;
    for (let tries = 0; ; tries++) {
      const current = await this.#read();
      const now = this.#clock();
      before = current.record;
      if (before.lockedUntil !== undefined && now < before.lockedUntil) {
        throw new CofferError(
          'ELOCKED',
          `unlocking is locked out after ${MAX_FAILURES} failed attempts ${until(before.lockedUntil)}`,
        );
      }
      // A lockout that has run out starts a fresh window of MAX_FAILURES attempts.
      const failures = (before.lockedUntil !== undefined ? 0 : before.failures) + 1;
      const counted: AttemptsRecord = {
        v: 1,
        failures,
        ...(failures >= MAX_FAILURES ? { lockedUntil: now + LOCKOUT_MS } : {}),
      };
      try {
        revision = await this.#write(counted, current.revision);
        break;
      } catch (error) {
        // Another daemon on the same store counted an attempt meanwhile: re-read and re-check.
        if (!(error instanceof CofferError && error.code === 'ECONFLICT') || tries >= 20) throw error;
      }
    }
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      if (!isCredentialFailure(error)) await this.#write(before, revision).catch(() => {});
      throw error;
    }
    await this.#write({ v: 1, failures: 0 }, revision).catch(() => {});
    return result;
  }
}
