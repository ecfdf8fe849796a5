// The sqlite: backend (SPEC §9.5): the embedded default. One file in WAL mode with
// synchronous=FULL, so a write is in the fsync'd WAL before `write` resolves and a kill -9 loses
// nothing acknowledged. Several processes may share the file: writes run in BEGIN IMMEDIATE
// transactions (the write lock is taken up front, so two writers never deadlock on a lock upgrade)
// and SQLITE_BUSY is retried with back-off on the event loop rather than blocking it. The SQLite
// binding (node:sqlite, or better-sqlite3 on Node 20) sits behind the seam in sqlite-driver.ts.
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CofferError } from '../errors.js';
import {
  type CheckedOp,
  checkBatch,
  checkGeneration,
  checkKeySuffix,
  checkListOptions,
  checkPrefix,
  checkRecordKey,
  conditionHolds,
  conflictError,
  ownedBytes,
  prefixUpperBound,
} from './keys.js';
import { isSqliteBusy, type SqliteConnection, sqliteDriver, sqliteErrorCode } from './sqlite-driver.js';
import type { ListOptions, OpenStorageOptions, RecordKey, Storage, StoredRecord, WriteOp } from './types.js';

type Db = SqliteConnection;

/**
 * Schema migrations, in order: entry i moves the schema from version i to i + 1. This is the hook a
 * future layout change adds to; each step runs inside the same IMMEDIATE transaction as the version
 * bump, so a crash mid-migration leaves the previous version intact.
 */
export const SQLITE_MIGRATIONS: ReadonlyArray<(db: Db) => void> = [
  (db) => {
    // A rowid table with a separate unique index on key (not WITHOUT ROWID): values may be up to
    // 64 MiB, and SQLite keeps large rows out of the key's B-tree this way.
    db.exec(`
      CREATE TABLE coffer_records (
        key TEXT NOT NULL PRIMARY KEY,
        value BLOB NOT NULL,
        revision INTEGER NOT NULL
      );
      CREATE INDEX coffer_records_revision ON coffer_records (revision);
      CREATE TABLE coffer_generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        value INTEGER NOT NULL
      );
      INSERT INTO coffer_generation (id, value) VALUES (1, 0);
    `);
  },
];

/** Schema version this build writes. */
export const SQLITE_SCHEMA_VERSION = SQLITE_MIGRATIONS.length;

/** How long a write keeps retrying SQLITE_BUSY before giving up with EUNAVAIL. */
const BUSY_DEADLINE_MS = 30_000;
/** SQLite's own blocking busy wait per attempt; kept short so the event loop stays responsive. */
const BUSY_TIMEOUT_MS = 25;

/**
 * Runs `fn` in a BEGIN IMMEDIATE transaction: committed when it returns, rolled back when it (or the
 * COMMIT) throws. The write lock is taken by BEGIN, before `fn` reads anything.
 */
function immediate<T>(db: Db, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // SQLite already rolled back (e.g. after an I/O error): nothing is left to undo.
    }
    throw error;
  }
}

/** Runs `fn`, retrying while another process holds the write lock, until the deadline. */
async function retryBusy<T>(fn: () => T, what: string, path: string): Promise<T> {
  const deadline = Date.now() + BUSY_DEADLINE_MS;
  let delay = 1;
  for (;;) {
    try {
      return fn();
    } catch (error) {
      if (!isSqliteBusy(error)) throw error;
      if (Date.now() > deadline) {
        throw new CofferError(
          'EUNAVAIL',
          `sqlite store ${path} stayed locked by another process for ${BUSY_DEADLINE_MS / 1000} s while ${what}: ` +
            'check for a stuck process holding the database',
          { cause: error },
        );
      }
      // Jitter keeps several waiting processes from retrying in lock-step.
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 50);
    }
  }
}

function hasCofferSchema(db: Db): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'coffer_schema'").get() !==
    undefined
  );
}

/**
 * Brings the schema up to `migrations.length`, creating the version table on a fresh database when
 * `create` is set (ENOENT otherwise). Must run inside a write transaction. Throws EUNAVAIL for a
 * store written by a newer build and EINVAL for a database that holds tables but is not a Coffer store.
 */
function migrateSqlite(
  db: Db,
  path: string,
  create: boolean,
  migrations: ReadonlyArray<(db: Db) => void>,
): void {
  let version = 0;
  if (!hasCofferSchema(db)) {
    if (!create) throw new CofferError('ENOENT', `${path} is not an initialised Coffer store (pass create)`);
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get();
    if (Number(tables?.n) > 0) {
      throw new CofferError('EINVAL', `${path} is an SQLite database but not a Coffer store`);
    }
    db.exec(
      'CREATE TABLE coffer_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);' +
        'INSERT INTO coffer_schema (id, version) VALUES (1, 0);',
    );
  } else {
    const row = db.prepare('SELECT version FROM coffer_schema WHERE id = 1').get();
    if (row === undefined) throw new CofferError('EUNAVAIL', `sqlite store ${path} has no schema version`);
    version = Number(row.version);
  }
  if (version > migrations.length) {
    throw new CofferError(
      'EUNAVAIL',
      `sqlite store ${path} has schema version ${version}, newer than this build understands ` +
        `(${migrations.length}): upgrade Coffer`,
    );
  }
  const bump = db.prepare('UPDATE coffer_schema SET version = ? WHERE id = 1');
  for (let next = version; next < migrations.length; next++) {
    migrations[next]!(db);
    bump.run(next + 1);
  }
}

/** A row of coffer_records: BLOBs come back as Buffer (better-sqlite3) or Uint8Array (node:sqlite). */
const toRecord = (row: Record<string, unknown>): StoredRecord => ({
  key: row.key as string,
  value: ownedBytes(row.value as Uint8Array),
  revision: row.revision as number,
});

const SELECT = 'SELECT key, value, revision FROM coffer_records';
const LIST_FROM = `${SELECT} WHERE key >= ? AND key < ? ORDER BY key LIMIT ?`;
const LIST_AFTER = `${SELECT} WHERE key > ? AND key < ? ORDER BY key LIMIT ?`;
// The same ranges keeping only keys with a given ending (SPEC §4.6): the filter runs on the index
// rows, so the values of the records left out are never copied out of SQLite.
const ENDING = 'substr(key, -length(?)) = ?';
const LIST_ENDING_FROM = `${SELECT} WHERE key >= ? AND key < ? AND ${ENDING} ORDER BY key LIMIT ?`;
const LIST_ENDING_AFTER = `${SELECT} WHERE key > ? AND key < ? AND ${ENDING} ORDER BY key LIMIT ?`;
/** The prefix-listing queries (exported so a test can check their plan is an index range). */
export const SQLITE_LIST_SQL: readonly string[] = [
  LIST_FROM,
  LIST_AFTER,
  LIST_ENDING_FROM,
  LIST_ENDING_AFTER,
];

function prepareStatements(db: Db) {
  // Every key range is one index range: the lower bound is computed in JS (the larger of the prefix
  // and `after`), because SQLite uses only one lower bound of a column for the index seek.
  return {
    get: db.prepare(`${SELECT} WHERE key = ?`),
    revision: db.prepare('SELECT revision FROM coffer_records WHERE key = ?'),
    listFrom: db.prepare(LIST_FROM),
    listAfter: db.prepare(LIST_AFTER),
    listEndingFrom: db.prepare(LIST_ENDING_FROM),
    listEndingAfter: db.prepare(LIST_ENDING_AFTER),
    changed: db.prepare(`${SELECT} WHERE revision > ? ORDER BY key`),
    generation: db.prepare('SELECT value FROM coffer_generation WHERE id = 1'),
    bump: db.prepare('UPDATE coffer_generation SET value = value + 1 WHERE id = 1 RETURNING value'),
    upsert: db.prepare(
      'INSERT INTO coffer_records (key, value, revision) VALUES (?, ?, ?) ' +
        'ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision',
    ),
    delete: db.prepare('DELETE FROM coffer_records WHERE key = ?'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

class SqliteStorage implements Storage {
  readonly kind = 'sqlite' as const;
  #db: Db | undefined;
  readonly #path: string;
  readonly #stmts: Statements;
  readonly #writeTx: (ops: CheckedOp[]) => number;

  constructor(db: Db, path: string) {
    this.#db = db;
    this.#path = path;
    this.#stmts = prepareStatements(db);
    const stmts = this.#stmts;
    // Conditions are read inside the IMMEDIATE transaction, so no other writer can change them
    // between the check and the write; throwing rolls the whole batch back.
    this.#writeTx = (ops: CheckedOp[]) =>
      immediate(db, () => {
        for (const op of ops) {
          if (op.expectRevision === undefined) continue;
          const current = stmts.revision.get(op.key)?.revision as number | undefined;
          if (!conditionHolds(op.expectRevision, current)) {
            throw conflictError(op.key, op.expectRevision, current);
          }
        }
        const generation = stmts.bump.get()?.value as number;
        for (const op of ops) {
          if (op.op === 'put') stmts.upsert.run(op.key, op.value, generation);
          else stmts.delete.run(op.key);
        }
        return generation;
      });
  }

  #open(): Db {
    if (this.#db === undefined) throw new CofferError('EUNAVAIL', `sqlite store ${this.#path} is closed`);
    return this.#db;
  }

  #fail(error: unknown, what: string): never {
    if (error instanceof CofferError) throw error;
    throw new CofferError(
      'EUNAVAIL',
      `sqlite store ${this.#path}: ${what} failed (${sqliteErrorCode(error)})`,
      {
        cause: error,
      },
    );
  }

  async get(key: RecordKey): Promise<StoredRecord | undefined> {
    checkRecordKey(key);
    this.#open();
    try {
      const row = await retryBusy(() => this.#stmts.get.get(key), 'reading', this.#path);
      return row === undefined ? undefined : toRecord(row);
    } catch (error) {
      this.#fail(error, 'get');
    }
  }

  list(prefix: string, options?: ListOptions): Promise<StoredRecord[]> {
    return this.#list(prefix, undefined, options);
  }

  async listEnding(prefix: string, suffix: string, options?: ListOptions): Promise<StoredRecord[]> {
    return this.#list(prefix, checkKeySuffix(suffix), options);
  }

  async #list(prefix: string, suffix: string | undefined, options?: ListOptions): Promise<StoredRecord[]> {
    checkPrefix(prefix);
    const { after, limit } = checkListOptions(options);
    this.#open();
    // Every valid key is ASCII below 0x7f, so U+007F bounds the empty prefix.
    const upper = prefixUpperBound(prefix) ?? '\x7f';
    const useAfter = after !== undefined && after >= prefix;
    const stmts = this.#stmts;
    const stmt =
      suffix === undefined
        ? useAfter
          ? stmts.listAfter
          : stmts.listFrom
        : useAfter
          ? stmts.listEndingAfter
          : stmts.listEndingFrom;
    const lower = useAfter ? after : prefix;
    const args =
      suffix === undefined ? [lower, upper, limit ?? -1] : [lower, upper, suffix, suffix, limit ?? -1];
    try {
      const rows = await retryBusy(() => stmt.all(...args), 'listing', this.#path);
      return rows.map(toRecord);
    } catch (error) {
      this.#fail(error, 'list');
    }
  }

  async write(ops: WriteOp[]): Promise<number> {
    const checked = checkBatch(ops);
    this.#open();
    try {
      return await retryBusy(
        () => {
          this.#open();
          return this.#writeTx(checked);
        },
        'writing',
        this.#path,
      );
    } catch (error) {
      this.#fail(error, 'write');
    }
  }

  async generation(): Promise<number> {
    this.#open();
    try {
      return await retryBusy(() => this.#stmts.generation.get()?.value as number, 'reading', this.#path);
    } catch (error) {
      this.#fail(error, 'generation');
    }
  }

  async changedSince(generation: number): Promise<StoredRecord[]> {
    checkGeneration(generation);
    this.#open();
    try {
      const rows = await retryBusy(() => this.#stmts.changed.all(generation), 'reading', this.#path);
      return rows.map(toRecord);
    } catch (error) {
      this.#fail(error, 'changedSince');
    }
  }

  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    db?.close();
  }

  /** @internal The live connection's settings and driver, for tests (see sqliteSettings). */
  _settings(): { driver: string; journalMode: unknown; synchronous: unknown; busyTimeout: unknown } {
    const db = this.#open();
    const pragma = (name: string) => Object.values(db.prepare(`PRAGMA ${name}`).get() ?? {})[0];
    return {
      driver: db.driver,
      journalMode: pragma('journal_mode'),
      synchronous: pragma('synchronous'),
      busyTimeout: pragma('busy_timeout'),
    };
  }
}

/**
 * The settings of an open sqlite store's connection, read back from SQLite itself: which driver
 * serves it, journal_mode, synchronous (2 = FULL) and busy_timeout. For tests and diagnostics.
 */
export function sqliteSettings(storage: Storage): ReturnType<SqliteStorage['_settings']> {
  if (!(storage instanceof SqliteStorage)) throw new CofferError('EINVAL', 'not an sqlite store');
  return storage._settings();
}

/** Opens (or with `create`, creates) the sqlite store at `path`. */
export async function openSqliteStorage(
  path: string,
  options: OpenStorageOptions = {},
  migrations: ReadonlyArray<(db: Db) => void> = SQLITE_MIGRATIONS,
): Promise<Storage> {
  const create = options.create === true;
  // First, so a Node without any SQLite driver gets EUNAVAIL (naming what to install) and no file.
  const driver = sqliteDriver();
  if (!existsSync(path)) {
    if (!create) {
      throw new CofferError('ENOENT', `no sqlite store at ${path} (pass create to make one)`);
    }
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Created here rather than by SQLite so the file (and the -wal/-shm files SQLite derives from
      // it) are owner-only from the first byte.
      closeSync(openSync(path, 'wx', 0o600));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CofferError(
          'EUNAVAIL',
          `cannot create sqlite store at ${path} (${(error as NodeJS.ErrnoException).code}): check the directory exists and is writable`,
          { cause: error },
        );
      }
    }
  }
  let db: Db;
  try {
    db = driver.open(path, { busyTimeoutMs: BUSY_TIMEOUT_MS });
  } catch (error) {
    const code = sqliteErrorCode(error);
    throw new CofferError(
      'EUNAVAIL',
      `cannot open sqlite store at ${path} (${code}): check the file exists and its permissions`,
      { cause: error },
    );
  }
  try {
    const mode = await retryBusy(
      () => db.prepare('PRAGMA journal_mode = WAL').get()?.journal_mode,
      'opening',
      path,
    );
    if (mode !== 'wal') {
      throw new CofferError(
        'EUNAVAIL',
        `sqlite store ${path} cannot use WAL mode (got ${String(mode)}): use a local, writable filesystem`,
      );
    }
    // FULL: the WAL is fsync'd at every commit, so an acknowledged write survives power loss.
    db.exec('PRAGMA synchronous = FULL');
    await retryBusy(() => immediate(db, () => migrateSqlite(db, path, create, migrations)), 'opening', path);
    return new SqliteStorage(db, path);
  } catch (error) {
    db.close();
    if (error instanceof CofferError) throw error;
    const code = sqliteErrorCode(error);
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new CofferError('EINVAL', `${path} is not a valid SQLite database (${code})`, { cause: error });
    }
    throw new CofferError('EUNAVAIL', `cannot open sqlite store at ${path} (${code})`, { cause: error });
  }
}
