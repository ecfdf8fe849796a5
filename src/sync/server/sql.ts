// The one SQL seam under the sync server's store (SPEC §17.8): the same statements run on SQLite
// (through the project's driver layer, src/storage/sqlite-driver.ts) and on PostgreSQL (`pg`).
// Statements are written with `?` placeholders and portable SQL (ON CONFLICT, RETURNING); this
// file numbers them for PostgreSQL. SQLite has one connection, so every read and transaction is
// serialised through a queue: an await inside a transaction can never let another request's
// statements run inside it.
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pg from 'pg';
import { CofferError } from '../../errors.js';
import { type SqliteConnection, type SqliteValue, sqliteDriver } from '../../storage/sqlite-driver.js';

export type SqlValue = string | number | Uint8Array | null;
export type Row = Record<string, unknown>;

export interface SqlRunner {
  query(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
}

export interface SqlDatabase {
  readonly kind: 'sqlite' | 'postgres';
  /** Runs `fn` outside a transaction (each statement on its own). */
  read<T>(fn: (db: SqlRunner) => Promise<T>): Promise<T>;
  /** Runs `fn` in one transaction: committed (durably) before the promise resolves, or rolled back. */
  tx<T>(fn: (db: SqlRunner) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// --- SQLite ----------------------------------------------------------------------------------------

const RETURNS_ROWS = /^\s*(SELECT|PRAGMA)\b|\bRETURNING\b/i;

class SqliteDatabase implements SqlDatabase {
  readonly kind = 'sqlite';
  #queue: Promise<unknown> = Promise.resolve();
  #runner: SqlRunner;
  constructor(readonly connection: SqliteConnection) {
    this.#runner = {
      query: async (sql, params = []) => {
        const stmt = connection.prepare(sql);
        // better-sqlite3 refuses all() on a statement that returns no rows; run() is for those.
        if (!RETURNS_ROWS.test(sql)) {
          stmt.run(...(params as SqliteValue[]));
          return [];
        }
        return stmt.all(...(params as SqliteValue[])).map((row) => ({ ...row }));
      },
    };
  }
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
  read<T>(fn: (db: SqlRunner) => Promise<T>): Promise<T> {
    return this.#serial(() => fn(this.#runner));
  }
  tx<T>(fn: (db: SqlRunner) => Promise<T>): Promise<T> {
    return this.#serial(async () => {
      this.connection.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.#runner);
        this.connection.exec('COMMIT');
        return result;
      } catch (error) {
        this.connection.exec('ROLLBACK');
        throw error;
      }
    });
  }
  async close(): Promise<void> {
    await this.#serial(async () => this.connection.close());
  }
}

export function openSqlite(path: string): SqlDatabase {
  const driver = sqliteDriver();
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Created here so the file (and the -wal/-shm files derived from it) are owner-only.
    closeSync(openSync(path, 'a', 0o600));
  }
  let connection: SqliteConnection;
  try {
    connection = driver.open(path, { busyTimeoutMs: 5000 });
  } catch (error) {
    throw new CofferError('EUNAVAIL', `cannot open the sync store ${path}`, { cause: error });
  }
  const mode = connection.prepare('PRAGMA journal_mode = WAL').get()?.journal_mode;
  if (mode !== 'wal') {
    connection.close();
    throw new CofferError('EUNAVAIL', `sync store ${path} cannot use WAL mode`);
  }
  // FULL: the WAL is fsync'd at every commit, so an acknowledged write survives kill -9 and power loss.
  connection.exec('PRAGMA synchronous = FULL');
  return new SqliteDatabase(connection);
}

// --- PostgreSQL ------------------------------------------------------------------------------------

/** `?` → `$1, $2, …` (the statements here never contain a literal question mark). */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function pgRunner(client: pg.Pool | pg.PoolClient): SqlRunner {
  return {
    async query(sql, params = []) {
      const result = await client.query(numberPlaceholders(sql), params as unknown[]);
      return result.rows as Row[];
    },
  };
}

class PostgresDatabase implements SqlDatabase {
  readonly kind = 'postgres';
  constructor(readonly pool: pg.Pool) {}
  read<T>(fn: (db: SqlRunner) => Promise<T>): Promise<T> {
    return fn(pgRunner(this.pool));
  }
  async tx<T>(fn: (db: SqlRunner) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(pgRunner(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}

export function openPostgres(url: string): PostgresDatabase {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  // An idle client's error (the server restarting) must not crash the process; the next query fails.
  pool.on('error', () => undefined);
  return new PostgresDatabase(pool);
}

/** BIGINT columns come back as strings from pg and as numbers from SQLite. */
export function int(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : (value as number);
  return typeof n === 'bigint' ? Number(n) : n;
}

export function bytes(value: unknown): Uint8Array {
  return value instanceof Uint8Array ? new Uint8Array(value) : new Uint8Array(0);
}
