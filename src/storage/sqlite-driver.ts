// The driver seam under the sqlite: backend (SPEC §9.5 "Drivers"): one tiny synchronous interface
// (open, exec, prepare → get/all/run, close) over two SQLite bindings, so sqlite.ts is written once.
//   - node:sqlite (DatabaseSync), built into Node ≥ 22.13: nothing to compile, used wherever the
//     runtime has it. better-sqlite3 12 aborts the process on Node 24 when a statement is garbage
//     collected at exit, so it is never loaded where node:sqlite exists.
//   - better-sqlite3, an optional peer dependency compiled at install, only where node:sqlite is
//     missing (Node 20). Loaded on first use; absent, it is EUNAVAIL naming the install command.
// Both open the same file format (it is SQLite's), so a store written by one opens with the other.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { CofferError } from '../errors.js';

export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3';
export type SqliteValue = string | number | bigint | Uint8Array | null;
export type SqliteRow = Record<string, unknown>;

export interface SqliteStatement {
  /** The first row, or undefined. */
  get(...params: SqliteValue[]): SqliteRow | undefined;
  all(...params: SqliteValue[]): SqliteRow[];
  run(...params: SqliteValue[]): void;
}

export interface SqliteConnection {
  readonly driver: SqliteDriverName;
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  close(): void;
}

export interface SqliteOpenOptions {
  readOnly?: boolean;
  /** SQLite's own blocking busy wait per statement (busy_timeout), in ms. */
  busyTimeoutMs: number;
}

export interface SqliteDriver {
  readonly name: SqliteDriverName;
  /** The driver package's version ('built in' for node:sqlite). */
  readonly version: string;
  /** Opens an existing database file (never creates one). */
  open(path: string, options: SqliteOpenOptions): SqliteConnection;
}

/** The better-sqlite3 version pinned by scripts/addons.sh (the peer range in package.json allows ^12). */
export const BETTER_SQLITE3_PACKAGE = 'better-sqlite3@12.11.1';
const INSTALL_HINT =
  `install it with \`npm install ${BETTER_SQLITE3_PACKAGE}\` (in a Coffer checkout: bash scripts/addons.sh), ` +
  'or use Node ≥ 22.13, whose built-in node:sqlite needs nothing compiled';

// --- node:sqlite ---------------------------------------------------------------------------------

/** The subset of node:sqlite's DatabaseSync that Coffer uses (typed here: @types/node 20 lacks it). */
interface NodeSqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): {
    get(...params: SqliteValue[]): SqliteRow | undefined;
    all(...params: SqliteValue[]): SqliteRow[];
    run(...params: SqliteValue[]): unknown;
  };
  close(): void;
}
interface NodeSqliteModule {
  DatabaseSync: new (path: string, options?: { readOnly?: boolean }) => NodeSqliteDatabase;
}

const SQLITE_EXPERIMENTAL = /^SQLite is an experimental feature/;

/**
 * True for exactly the warning Node 22.13–23.x prints when node:sqlite is first loaded. Coffer
 * chose the built-in driver on purpose, so that one warning is noise; every other warning (another
 * ExperimentalWarning, a DeprecationWarning about SQLite) is let through.
 */
export function isSqliteExperimentalWarning(warning: unknown, type: unknown): boolean {
  const name = warning instanceof Error ? warning.name : typeof type === 'string' ? type : undefined;
  const message = warning instanceof Error ? warning.message : warning;
  return name === 'ExperimentalWarning' && typeof message === 'string' && SQLITE_EXPERIMENTAL.test(message);
}

/** node:sqlite, or undefined when this Node has none (Node 20, or 22.5–22.12 without the flag). */
function loadNodeSqlite(): NodeSqliteModule | undefined {
  // getBuiltinModule is synchronous, so the warning filter is in place for exactly the load.
  const getBuiltin = process.getBuiltinModule as ((id: string) => unknown) | undefined;
  if (typeof getBuiltin !== 'function') return undefined;
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: unknown, ...rest: unknown[]) {
    const type =
      typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { type?: unknown }).type : rest[0];
    if (isSqliteExperimentalWarning(warning, type)) return;
    return (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    const module = getBuiltin.call(process, 'node:sqlite') as Partial<NodeSqliteModule> | undefined;
    return typeof module?.DatabaseSync === 'function' ? (module as NodeSqliteModule) : undefined;
  } catch {
    return undefined;
  } finally {
    process.emitWarning = emitWarning;
  }
}

function nodeSqliteDriver(sqlite: NodeSqliteModule): SqliteDriver {
  return {
    name: 'node:sqlite',
    version: 'built in',
    open(path, { readOnly, busyTimeoutMs }) {
      // DatabaseSync creates a missing file (it has no fileMustExist); the contract here is to open.
      if (path !== ':memory:' && !existsSync(path)) {
        throw Object.assign(new Error(`no database file at ${path}`), { code: 'ENOENT' });
      }
      const db = new sqlite.DatabaseSync(path, readOnly ? { readOnly: true } : {});
      try {
        db.exec(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
      } catch (error) {
        db.close();
        throw error;
      }
      return {
        driver: 'node:sqlite',
        exec: (sql) => db.exec(sql),
        prepare(sql) {
          const stmt = db.prepare(sql);
          return {
            get: (...params) => stmt.get(...params),
            all: (...params) => stmt.all(...params),
            run: (...params) => void stmt.run(...params),
          };
        },
        close: () => db.close(),
      };
    },
  };
}

// --- better-sqlite3 ------------------------------------------------------------------------------

/** The subset of better-sqlite3's API that Coffer uses. */
interface BetterSqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): {
    get(...params: unknown[]): unknown;
    all(...params: unknown[]): unknown[];
    run(...params: unknown[]): unknown;
  };
  close(): void;
}
type BetterSqliteConstructor = new (
  path: string,
  options: { fileMustExist: boolean; readonly: boolean; timeout: number },
) => BetterSqliteDatabase;

/** better-sqlite3 binds Buffers, not plain Uint8Arrays, as BLOBs. */
function bindable(params: SqliteValue[]): unknown[] {
  return params.map((p) =>
    p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p,
  );
}

function betterSqliteDriver(Database: BetterSqliteConstructor, version: string): SqliteDriver {
  return {
    name: 'better-sqlite3',
    version,
    open(path, { readOnly, busyTimeoutMs }) {
      const db = new Database(path, {
        fileMustExist: true,
        readonly: readOnly === true,
        timeout: Math.trunc(busyTimeoutMs),
      });
      return {
        driver: 'better-sqlite3',
        exec: (sql) => void db.exec(sql),
        prepare(sql) {
          const stmt = db.prepare(sql);
          return {
            get: (...params) => stmt.get(...bindable(params)) as SqliteRow | undefined,
            all: (...params) => stmt.all(...bindable(params)) as SqliteRow[],
            run: (...params) => void stmt.run(...bindable(params)),
          };
        },
        close: () => db.close(),
      };
    },
  };
}

function loadBetterSqlite(): SqliteDriver {
  const require = createRequire(import.meta.url);
  let Database: BetterSqliteConstructor;
  let version: string;
  try {
    Database = require('better-sqlite3') as BetterSqliteConstructor;
    version = (require('better-sqlite3/package.json') as { version: string }).version;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reason =
      code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND'
        ? 'is not installed'
        : code === 'ERR_DLOPEN_FAILED'
          ? `was built for another Node version or platform (${(error as Error).message.split('\n')[0]})`
          : `does not load (${String(code ?? (error as Error).message)})`;
    throw new CofferError(
      'EUNAVAIL',
      `sqlite: Node ${process.versions.node} has no built-in node:sqlite, and the better-sqlite3 addon ` +
        `${reason}: ${INSTALL_HINT}`,
      { cause: error },
    );
  }
  return betterSqliteDriver(Database, version);
}

// --- selection -----------------------------------------------------------------------------------

let chosen: SqliteDriver | undefined;

/**
 * The driver for this process: node:sqlite when the runtime has it, else better-sqlite3. Loaded
 * once, on first use (a process that never opens an sqlite: store loads neither). Throws EUNAVAIL
 * when neither is available, saying what to install.
 */
export function sqliteDriver(): SqliteDriver {
  if (chosen !== undefined) return chosen;
  const builtIn = loadNodeSqlite();
  chosen = builtIn !== undefined ? nodeSqliteDriver(builtIn) : loadBetterSqlite();
  return chosen;
}

export interface SqliteDriverReport {
  usable: boolean;
  /** e.g. "node:sqlite (built into Node 24.21.0, nothing compiled), SQLite 3.50.4". */
  detail: string;
  driver?: SqliteDriverName;
  sqliteVersion?: string;
}

/** What `coffer doctor` prints: which driver this process would use, and the SQLite library version. */
export function describeSqliteDriver(): SqliteDriverReport {
  let driver: SqliteDriver;
  try {
    driver = sqliteDriver();
  } catch (error) {
    return { usable: false, detail: error instanceof Error ? error.message : String(error) };
  }
  let sqliteVersion = 'unknown';
  try {
    // An in-memory database: the version of the SQLite library this driver links, not a guess.
    const db = driver.open(':memory:', { busyTimeoutMs: 0 });
    try {
      sqliteVersion = String(db.prepare('SELECT sqlite_version() AS v').get()?.v);
    } finally {
      db.close();
    }
  } catch (error) {
    return {
      usable: false,
      driver: driver.name,
      detail: `${driver.name} loads but cannot open a database (${sqliteErrorCode(error)})`,
    };
  }
  const origin =
    driver.name === 'node:sqlite'
      ? `node:sqlite (built into Node ${process.versions.node}, nothing compiled)`
      : `better-sqlite3 ${driver.version} (compiled addon; Node ≥ 22.13 needs none)`;
  return { usable: true, driver: driver.name, sqliteVersion, detail: `${origin}, SQLite ${sqliteVersion}` };
}

// --- errors --------------------------------------------------------------------------------------

/** SQLite's primary result codes (sqlite3.h), by number: node:sqlite reports numbers. */
const PRIMARY_CODES = [
  'OK',
  'ERROR',
  'INTERNAL',
  'PERM',
  'ABORT',
  'BUSY',
  'LOCKED',
  'NOMEM',
  'READONLY',
  'INTERRUPT',
  'IOERR',
  'CORRUPT',
  'NOTFOUND',
  'FULL',
  'CANTOPEN',
  'PROTOCOL',
  'EMPTY',
  'SCHEMA',
  'TOOBIG',
  'CONSTRAINT',
  'MISMATCH',
  'MISUSE',
  'NOLFS',
  'AUTH',
  'FORMAT',
  'RANGE',
  'NOTADB',
] as const;

/** Messages (sqlite3_errstr) of the codes the backend acts on, for node:sqlite builds without errcode. */
const MESSAGES: ReadonlyArray<[RegExp, string]> = [
  [/^database is locked/, 'SQLITE_BUSY'],
  [/^database table is locked/, 'SQLITE_LOCKED'],
  [/^file is not a database/, 'SQLITE_NOTADB'],
  [/^database disk image is malformed/, 'SQLITE_CORRUPT'],
];

/**
 * The SQLite result code name of an error from either driver ('SQLITE_BUSY', 'SQLITE_NOTADB', …;
 * better-sqlite3 may give an extended name such as 'SQLITE_BUSY_SNAPSHOT'), the Node error code for
 * anything else (e.g. 'ERR_DLOPEN_FAILED'), or 'unknown error'.
 */
export function sqliteErrorCode(error: unknown): string {
  const e = error as { code?: unknown; errcode?: unknown; message?: unknown } | null | undefined;
  const code = e?.code;
  if (code === 'ERR_SQLITE_ERROR') {
    if (typeof e?.errcode === 'number') {
      const name = PRIMARY_CODES[e.errcode & 0xff];
      if (name !== undefined) return `SQLITE_${name}`;
    }
    const message = typeof e?.message === 'string' ? e.message : '';
    return MESSAGES.find(([pattern]) => pattern.test(message))?.[1] ?? 'SQLITE_ERROR';
  }
  return typeof code === 'string' ? code : 'unknown error';
}

/** Another connection holds the lock: worth retrying. */
export function isSqliteBusy(error: unknown): boolean {
  const code = sqliteErrorCode(error);
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}
