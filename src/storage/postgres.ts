// The postgres:// backend (SPEC §9, SPEC "Storage model / postgres"): several daemon instances
// share one database. Concurrency control is row locking under READ COMMITTED, not SERIALIZABLE:
// every write transaction first increments the single generation row, which row-locks it until
// commit. That serialises writers, so (1) a writer's condition checks, made after it holds the lock,
// see every earlier commit, and (2) generations are handed out in commit order — a reader that has
// seen generation G can never later see a commit with a smaller one appear, which `changedSince`
// depends on (a sequence would not give this: numbers are taken before commit, out of order).
// Nothing here raises serialization failures; should a deployment force SERIALIZABLE as the
// default, 40001/40P01 are retried, and the retried transaction re-checks the caller's conditions.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
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
import { describeTarget, type PostgresTarget } from './pg-url.js';
import type { ListOptions, OpenStorageOptions, RecordKey, Storage, StoredRecord, WriteOp } from './types.js';

/**
 * Schema migrations, in order (entry i: version i → i + 1), each run in the transaction that bumps
 * the version, under an advisory lock so concurrent openers do not race to create tables.
 */
export const POSTGRES_MIGRATIONS: ReadonlyArray<string> = [
  // COLLATE "C": key order is plain byte order (the contract), and the primary-key index serves
  // prefix ranges whatever the database's locale.
  `CREATE TABLE coffer_records (
     key text COLLATE "C" PRIMARY KEY,
     value bytea NOT NULL,
     revision bigint NOT NULL
   );
   CREATE INDEX coffer_records_revision ON coffer_records (revision);
   CREATE TABLE coffer_generation (
     id integer PRIMARY KEY CHECK (id = 1),
     value bigint NOT NULL
   );
   INSERT INTO coffer_generation (id, value) VALUES (1, 0);`,
];

export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS.length;

/** Advisory lock id for schema creation/migration ('coffer' in ASCII). */
const MIGRATION_LOCK = 0x636f66666572;
const RETRIES = 8;

function redact(text: string, target: PostgresTarget): string {
  if (target.password.length === 0) return text;
  return text.split(target.password).join('***').split(encodeURIComponent(target.password)).join('***');
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EAI_AGAIN',
]);

/** Maps a pg/network error to a CofferError whose message says what to check, without secrets. */
function mapPostgresError(error: unknown, target: PostgresTarget, what: string): CofferError {
  if (error instanceof CofferError) return error;
  const code = String((error as { code?: unknown })?.code ?? '');
  const message = redact(error instanceof Error ? error.message : String(error), target);
  const where = `PostgreSQL at ${target.host}:${target.port}`;
  const fail = (c: ConstructorParameters<typeof CofferError>[0], text: string) =>
    new CofferError(c, redact(text, target), { cause: error });
  if (UNREACHABLE.has(code) || /timeout|terminated unexpectedly|Connection terminated/i.test(message)) {
    return fail(
      'EUNAVAIL',
      `cannot reach ${where} while ${what} (${code || message}): check that the server is running and ` +
        'the host and port in the store URL',
    );
  }
  if (code === '28P01' || code === '28000') {
    return fail(
      'EUNAVAIL',
      `${where} refused the login of user "${target.user}": check the user name and password in the store ` +
        'URL and pg_hba.conf',
    );
  }
  if (code === '3D000') {
    return fail(
      'ENOENT',
      `database "${target.database}" does not exist on ${where}: create it (createdb) or fix the store URL`,
    );
  }
  if (code === '42501') {
    return fail('EUNAVAIL', `${where}: user "${target.user}" lacks a privilege while ${what}: ${message}`);
  }
  if (code === '40001' || code === '40P01') {
    return fail('ECONFLICT', `${where}: concurrent transactions kept conflicting while ${what}`);
  }
  return fail('EUNAVAIL', `${where}: ${what} failed (${code || 'error'}: ${message})`);
}

interface Row {
  key: string;
  value: Buffer;
  revision: string;
}

const toRecord = (row: Row): StoredRecord => ({
  key: row.key,
  value: ownedBytes(row.value),
  revision: Number(row.revision),
});

const SELECT = 'SELECT key, value, revision FROM coffer_records';
const listSql = (op: '>' | '>=', ending = false) =>
  `${SELECT} WHERE key ${op} $1 AND key < $2${ending ? ' AND right(key, length($4)) = $4' : ''} ORDER BY key LIMIT $3`;
/** The prefix-listing queries (exported so a test can check their plan is an index range). */
export const POSTGRES_LIST_SQL: readonly string[] = [
  listSql('>='),
  listSql('>'),
  listSql('>=', true),
  listSql('>', true),
];

class PostgresStorage implements Storage {
  readonly kind = 'postgres' as const;
  #pool: pg.Pool | undefined;
  readonly #target: PostgresTarget;

  constructor(pool: pg.Pool, target: PostgresTarget) {
    this.#pool = pool;
    this.#target = target;
  }

  #open(): pg.Pool {
    if (this.#pool === undefined) {
      throw new CofferError('EUNAVAIL', `postgres store ${this.#target.host}:${this.#target.port} is closed`);
    }
    return this.#pool;
  }

  async #query<R extends pg.QueryResultRow>(what: string, text: string, values: unknown[]): Promise<R[]> {
    const pool = this.#open();
    try {
      return (await pool.query<R>(text, values)).rows;
    } catch (error) {
      throw mapPostgresError(error, this.#target, what);
    }
  }

  async get(key: RecordKey): Promise<StoredRecord | undefined> {
    checkRecordKey(key);
    const rows = await this.#query<Row>('reading a record', `${SELECT} WHERE key = $1`, [key]);
    return rows[0] === undefined ? undefined : toRecord(rows[0]);
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
    const upper = prefixUpperBound(prefix) ?? '\x7f';
    const useAfter = after !== undefined && after >= prefix;
    const args: unknown[] = [useAfter ? after : prefix, upper, limit ?? null];
    if (suffix !== undefined) args.push(suffix);
    const sql = listSql(useAfter ? '>' : '>=', suffix !== undefined);
    const rows = await this.#query<Row>('listing records', sql, args);
    return rows.map(toRecord);
  }

  async generation(): Promise<number> {
    const rows = await this.#query<{ value: string }>(
      'reading the generation',
      'SELECT value FROM coffer_generation WHERE id = 1',
      [],
    );
    return Number(rows[0]?.value ?? 0);
  }

  async changedSince(generation: number): Promise<StoredRecord[]> {
    checkGeneration(generation);
    const rows = await this.#query<Row>('listing changes', `${SELECT} WHERE revision > $1 ORDER BY key`, [
      generation,
    ]);
    return rows.map(toRecord);
  }

  async write(ops: WriteOp[]): Promise<number> {
    const checked = checkBatch(ops);
    const pool = this.#open();
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw mapPostgresError(error, this.#target, 'connecting');
      }
      let broken: Error | undefined;
      try {
        return await this.#commit(client, checked);
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        const code = (error as { code?: unknown })?.code;
        if ((code === '40001' || code === '40P01') && attempt < RETRIES) {
          await sleep(attempt * (1 + Math.random() * 4));
          continue;
        }
        throw mapPostgresError(error, this.#target, 'writing');
      } finally {
        // A client whose ROLLBACK failed is in an unknown state: destroy it rather than reuse it.
        client.release(broken);
      }
    }
  }

  async #commit(client: pg.PoolClient, ops: CheckedOp[]): Promise<number> {
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    // Row lock on the counter first: from here on no other writer commits until we do.
    const bumped = await client.query<{ value: string }>(
      'UPDATE coffer_generation SET value = value + 1 WHERE id = 1 RETURNING value',
    );
    const generation = Number(bumped.rows[0]?.value);
    const conditioned = ops.filter((op) => op.expectRevision !== undefined);
    if (conditioned.length > 0) {
      const rows = await client.query<{ key: string; revision: string }>(
        'SELECT key, revision FROM coffer_records WHERE key = ANY($1::text[]) FOR UPDATE',
        [conditioned.map((op) => op.key)],
      );
      const current = new Map(rows.rows.map((r) => [r.key, Number(r.revision)]));
      for (const op of conditioned) {
        const revision = current.get(op.key);
        if (!conditionHolds(op.expectRevision, revision))
          throw conflictError(op.key, op.expectRevision!, revision);
      }
    }
    const puts = ops.filter((op): op is Extract<CheckedOp, { op: 'put' }> => op.op === 'put');
    const deletes = ops.filter((op) => op.op === 'delete');
    if (puts.length > 0) {
      await client.query(
        'INSERT INTO coffer_records (key, value, revision) ' +
          'SELECT k, v, $3 FROM unnest($1::text[], $2::bytea[]) AS t (k, v) ' +
          'ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision',
        [
          puts.map((op) => op.key),
          puts.map((op) => Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength)),
          generation,
        ],
      );
    }
    if (deletes.length > 0) {
      await client.query('DELETE FROM coffer_records WHERE key = ANY($1::text[])', [
        deletes.map((op) => op.key),
      ]);
    }
    await client.query('COMMIT');
    return generation;
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end();
  }
}

/** Brings the schema up to date (or reports ENOENT for a database with no store and no `create`). */
async function migrate(client: pg.PoolClient, create: boolean, target: PostgresTarget): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    const exists = await client.query<{ t: string | null }>("SELECT to_regclass('coffer_schema')::text AS t");
    let version = 0;
    if (exists.rows[0]?.t === null || exists.rows[0]?.t === undefined) {
      if (!create) {
        throw new CofferError(
          'ENOENT',
          `no Coffer store in database "${target.database}" on ${target.host}:${target.port} (pass create to make one)`,
        );
      }
      await client.query(
        'CREATE TABLE coffer_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL);' +
          'INSERT INTO coffer_schema (id, version) VALUES (1, 0)',
      );
    } else {
      const row = await client.query<{ version: number }>('SELECT version FROM coffer_schema WHERE id = 1');
      version = row.rows[0]?.version ?? 0;
    }
    if (version > POSTGRES_MIGRATIONS.length) {
      throw new CofferError(
        'EUNAVAIL',
        `the Coffer store in database "${target.database}" has schema version ${version}, newer than this ` +
          'build understands: upgrade Coffer',
      );
    }
    for (let next = version; next < POSTGRES_MIGRATIONS.length; next++) {
      await client.query(POSTGRES_MIGRATIONS[next]!);
      await client.query('UPDATE coffer_schema SET version = $1 WHERE id = 1', [next + 1]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Opens (or with `create`, initialises) the store in the database named by `url`. */
export async function openPostgresStorage(url: string, options: OpenStorageOptions = {}): Promise<Storage> {
  const target = describeTarget(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: 8,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 10_000,
    application_name: 'coffer',
  });
  // An idle connection dropped by the server emits 'error' on the pool; without a listener that
  // would crash the process. The next query reports EUNAVAIL instead.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    try {
      await migrate(client, options.create === true, target);
    } finally {
      client.release();
    }
    return new PostgresStorage(pool, target);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw mapPostgresError(error, target, 'opening the store');
  }
}
