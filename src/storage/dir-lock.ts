// Cross-process write lock of the dir: backend (SPEC "Storage model / dir / locking"). Node has no
// flock(2), so the lock is a file created atomically with link(2) (it appears with its content
// already in place: pid, host, boot id, process start time and a random token). A lock whose owner
// is dead is stale. Breaking it needs care: two processes that both saw the same stale lock must not
// both delete "the lock", or the second would delete the lock the first has just taken. So breaking
// the lock with token T first takes the tombstone `<lock>.T` (itself such a lock); only its holder
// re-reads the lock and deletes it if it still carries T. A breaker that dies holding a tombstone
// leaves a stale tombstone, which the next breaker removes the same way, one level deeper.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CofferError } from '../errors.js';
import { procStat } from '../proc-stat.js';

export interface LockOwner {
  pid: number;
  host: string;
  /** Linux boot id: a lock from an earlier boot is stale whatever its pid. */
  boot?: string;
  /** Process start time (clock ticks since boot, from /proc): detects pid reuse. */
  start?: string;
  token: string;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat: the process's start time. */
function processStart(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

let self: Omit<LockOwner, 'token'> | undefined;

function me(): Omit<LockOwner, 'token'> {
  self ??= {
    pid: process.pid,
    host: hostname(),
    boot: readProc('/proc/sys/kernel/random/boot_id')?.trim(),
    start: processStart(process.pid),
  };
  return self;
}

/** This process as a lock owner records it (the anchor seals of SPEC §4.2 reuse the same liveness rule). */
export function currentProcess(): Omit<LockOwner, 'token'> {
  return { ...me() };
}

/** Whether the lock's owner may still be running. Unknown (another host) counts as alive. */
export function ownerAlive(owner: LockOwner): boolean {
  const local = me();
  if (owner.host !== local.host) return true;
  if (owner.boot !== undefined && local.boot !== undefined && owner.boot !== local.boot) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (owner.start !== undefined) {
    const start = processStart(owner.pid);
    if (start !== undefined && start !== owner.start) return false;
  }
  return true;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (
      typeof value.pid === 'number' &&
      typeof value.host === 'string' &&
      typeof value.token === 'string' &&
      /^[0-9a-f]{16,64}$/.test(value.token)
    ) {
      return value as LockOwner;
    }
  } catch {
    // fall through: unreadable
  }
  return undefined;
}

type Held = 'held' | 'gone';

const MAX_TOMBSTONE_DEPTH = 6;

/** A lock file at `path`; candidates and tombstones are created next to it. */
export class FileLock {
  readonly #path: string;
  readonly #timeoutMs: number;
  #token: string | undefined;

  constructor(path: string, { timeoutMs = 30_000 }: { timeoutMs?: number } = {}) {
    this.#path = path;
    this.#timeoutMs = timeoutMs;
  }

  get path(): string {
    return this.#path;
  }

  /** Creates `path` holding a fresh owner record, atomically; false when it already exists. */
  async #tryCreate(path: string): Promise<string | undefined> {
    const token = randomBytes(16).toString('hex');
    const content = JSON.stringify({ ...me(), token } satisfies LockOwner);
    // The candidate name contains '@', so it never collides with a record, and a pid so debris
    // from a crash in the microseconds between write and unlink can be attributed.
    const candidate = join(dirname(path), `@cand.${process.pid}.${token}`);
    await writeFile(candidate, content, { mode: 0o600 });
    try {
      await link(candidate, path);
      return token;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      throw new CofferError(
        'EUNAVAIL',
        `cannot take the lock ${path} (${(error as NodeJS.ErrnoException).code}): the dir: store needs a ` +
          'local filesystem with hard links',
        { cause: error },
      );
    } finally {
      await unlink(candidate).catch(() => undefined);
    }
  }

  /** Removes the lock file at `path` if its owner is dead; 'held' when a live owner keeps it. */
  async #breakIfStale(path: string, depth: number): Promise<Held> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      throw error;
    }
    const owner = parseOwner(text);
    // Content that does not parse can only come from a crash of the whole machine (the candidate is
    // complete before it is linked), so its owner is gone; its tombstone name comes from its bytes.
    if (owner !== undefined && ownerAlive(owner)) return 'held';
    if (depth >= MAX_TOMBSTONE_DEPTH) return 'held';
    const token =
      owner?.token ??
      Buffer.from(text)
        .toString('hex')
        .padEnd(16, '0')
        .slice(0, 32)
        .replace(/[^0-9a-f]/g, '0');
    const tombstone = `${path}.${token}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const mine = await this.#tryCreate(tombstone);
      if (mine !== undefined) {
        try {
          let current: string | undefined;
          try {
            current = await readFile(path, 'utf8');
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          }
          // Only the tombstone holder deletes, and only the exact stale lock it judged.
          if (current === text) await unlink(path).catch(() => undefined);
        } finally {
          await unlink(tombstone).catch(() => undefined);
        }
        return 'gone';
      }
      if ((await this.#breakIfStale(tombstone, depth + 1)) === 'held') return 'held';
    }
    return 'held';
  }

  /** Waits for the lock (polling with back-off) and holds it until `release`. */
  async acquire(): Promise<void> {
    if (this.#token !== undefined) throw new CofferError('EINTERNAL', 'lock acquired twice by one holder');
    const deadline = Date.now() + this.#timeoutMs;
    let delay = 1;
    for (;;) {
      const token = await this.#tryCreate(this.#path);
      if (token !== undefined) {
        this.#token = token;
        return;
      }
      if ((await this.#breakIfStale(this.#path, 0)) === 'gone') continue;
      if (Date.now() > deadline) {
        let holder = 'another process';
        try {
          const owner = parseOwner(await readFile(this.#path, 'utf8'));
          if (owner !== undefined) holder = `pid ${owner.pid} on ${owner.host}`;
        } catch {
          // keep the generic description
        }
        throw new CofferError(
          'EUNAVAIL',
          `${basename(dirname(this.#path))}: the store is locked by ${holder} for over ` +
            `${Math.round(this.#timeoutMs / 1000)} s; if no Coffer process is using it, delete ${this.#path}`,
        );
      }
      await sleep(delay * (0.5 + Math.random()));
      delay = Math.min(delay * 2, 20);
    }
  }

  /** Releases the lock, but only if it is still ours (never deletes someone else's lock). */
  async release(): Promise<void> {
    const token = this.#token;
    this.#token = undefined;
    if (token === undefined) return;
    try {
      const owner = parseOwner(await readFile(this.#path, 'utf8'));
      if (owner?.token === token) await unlink(this.#path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
