// The SQLite driver seam (sqlite-driver.ts, SPEC §9.5 "Drivers"): errors from the real driver map
// to SQLite's code names (busy is retryable, a foreign file is NOTADB), doctor's report names the
// driver, only node:sqlite's own ExperimentalWarning is filtered, and — across the two Node
// binaries — a store written through one driver opens, continues and recovers its WAL after a
// kill -9 through the other, with every record and generation identical.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { siblingScript } from '../testing/crash.js';
import { hasBuiltinSqlite, otherNode } from '../testing/other-node.js';
import {
  describeSqliteDriver,
  isSqliteBusy,
  isSqliteExperimentalWarning,
  sqliteDriver,
  sqliteErrorCode,
} from './sqlite-driver.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-sqlite-driver-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
const CHILD = siblingScript(import.meta.url, 'sqlite-cross.child.js');
const thisDriver = hasBuiltinSqlite(process.versions.node) ? 'node:sqlite' : 'better-sqlite3';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail('expected a throw');
}

test(`driver errors map to SQLite code names (${thisDriver})`, () => {
  const driver = sqliteDriver();
  const path = join(root, 'busy.db');
  writeFileSync(path, '');
  const holder = driver.open(path, { busyTimeoutMs: 0 });
  const waiter = driver.open(path, { busyTimeoutMs: 0 });
  try {
    holder.exec('PRAGMA journal_mode = WAL');
    holder.exec('CREATE TABLE t (x)');
    holder.exec('BEGIN IMMEDIATE');
    const busy = thrown(() => waiter.exec('BEGIN IMMEDIATE'));
    assert.match(sqliteErrorCode(busy), /^SQLITE_BUSY/);
    assert.equal(isSqliteBusy(busy), true);
    holder.exec('COMMIT');
    waiter.exec('BEGIN IMMEDIATE'); // the lock is free again
    waiter.exec('ROLLBACK');
    const syntax = thrown(() => waiter.exec('SELEKT 1'));
    assert.equal(sqliteErrorCode(syntax), 'SQLITE_ERROR');
    assert.equal(isSqliteBusy(syntax), false);
  } finally {
    waiter.close();
    holder.close();
  }
  const garbage = join(root, 'garbage.db');
  writeFileSync(garbage, 'not a database '.repeat(200));
  const foreign = driver.open(garbage, { busyTimeoutMs: 0 });
  try {
    assert.equal(sqliteErrorCode(thrown(() => foreign.exec('PRAGMA journal_mode = WAL'))), 'SQLITE_NOTADB');
  } finally {
    foreign.close();
  }
  // open() never creates a file (node:sqlite would, so the seam checks first).
  const missing = join(root, 'missing.db');
  assert.ok(thrown(() => driver.open(missing, { busyTimeoutMs: 0 })));
  assert.equal(existsSync(missing), false);
});

test('node:sqlite builds without errcode are mapped by their message', () => {
  const error = (message: string) => Object.assign(new Error(message), { code: 'ERR_SQLITE_ERROR' });
  assert.equal(sqliteErrorCode(error('database is locked')), 'SQLITE_BUSY');
  assert.equal(sqliteErrorCode(error('file is not a database')), 'SQLITE_NOTADB');
  assert.equal(sqliteErrorCode(error('near "x": syntax error')), 'SQLITE_ERROR');
  assert.equal(sqliteErrorCode({ code: 'ERR_SQLITE_ERROR', errcode: 517 }), 'SQLITE_BUSY'); // BUSY_SNAPSHOT
  assert.equal(sqliteErrorCode({ code: 'ERR_DLOPEN_FAILED' }), 'ERR_DLOPEN_FAILED');
  assert.equal(sqliteErrorCode(undefined), 'unknown error');
});

test('doctor report names the driver and the SQLite library version', () => {
  const report = describeSqliteDriver();
  assert.equal(report.usable, true, report.detail);
  assert.equal(report.driver, thisDriver);
  assert.match(report.sqliteVersion ?? '', /^3\.\d+\.\d+$/);
  assert.ok(report.detail.startsWith(`${thisDriver} `), report.detail);
  assert.match(report.detail, thisDriver === 'node:sqlite' ? /nothing compiled/ : /compiled addon/);
});

test("only node:sqlite's own ExperimentalWarning is filtered; every other warning still prints", () => {
  // The message Node 22.13–23.x emits when node:sqlite is loaded.
  const sqliteWarning = 'SQLite is an experimental feature and might change at any time';
  assert.equal(isSqliteExperimentalWarning(sqliteWarning, 'ExperimentalWarning'), true);
  const asError = Object.assign(new Error(sqliteWarning), { name: 'ExperimentalWarning' });
  assert.equal(isSqliteExperimentalWarning(asError, undefined), true);
  assert.equal(isSqliteExperimentalWarning('WASI is an experimental feature', 'ExperimentalWarning'), false);
  assert.equal(isSqliteExperimentalWarning(sqliteWarning, 'DeprecationWarning'), false);
  assert.equal(isSqliteExperimentalWarning(sqliteWarning, undefined), false);

  // For real, in a process that prints warnings: loading the driver and writing a store prints
  // nothing, and the real process.emitWarning is back in place afterwards.
  const driverModule = new URL('./sqlite-driver.js', import.meta.url).href;
  const openModule = new URL('./open.js', import.meta.url).href;
  const script = `
    const { sqliteDriver } = await import(${JSON.stringify(driverModule)});
    const { openStorage } = await import(${JSON.stringify(openModule)});
    sqliteDriver();
    const store = await openStorage(${JSON.stringify(`sqlite:${join(root, 'warn', 'store.db')}`)}, { create: true });
    await store.write([{ op: 'put', key: 'a', value: new Uint8Array([1]) }]);
    await store.close();
    process.emitWarning('still printed after the driver loaded', 'ExperimentalWarning');
  `;
  const env = { ...process.env };
  delete env.NODE_NO_WARNINGS;
  delete env.NODE_OPTIONS;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  assert.doesNotMatch(child.stderr, /SQLite is an experimental/);
  assert.match(child.stderr, /ExperimentalWarning: still printed after the driver loaded/);
  assert.equal(child.stderr.trim().split('\n')[0]?.includes('still printed'), true, child.stderr);
});

interface Dump {
  driver: string;
  generation: number;
  records: Array<{ key: string; revision: number; length: number; sha256: string }>;
}

function runChild(bin: string, ...args: string[]): Dump {
  const out = execFileSync(bin, [CHILD, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out) as Dump;
}

/** Runs `hold`: the child writes, reports, and is SIGKILLed with its connection still open. */
function holdAndKill(bin: string, path: string, round: number): Promise<Dump> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [CHILD, 'hold', path, String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let report: Dump | undefined;
    child.stderr.on('data', (chunk) => (err += chunk));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (report === undefined && out.includes('\n')) {
        report = JSON.parse(out.slice(0, out.indexOf('\n'))) as Dump;
        child.kill('SIGKILL');
      }
    });
    child.on('close', (_code, signal) => {
      if (report !== undefined && signal === 'SIGKILL') resolve(report);
      else reject(new Error(`hold child ended without reporting (${signal}): ${err}`));
    });
  });
}

test('a store written through one SQLite driver opens, continues and recovers through the other', async (t) => {
  const other = otherNode();
  if (other === undefined) {
    // CI installs both binaries (scripts/test-all.sh), so there a missing one is a failure.
    assert.ok(
      !process.env.CI,
      'the other Node binary is missing: run scripts/node24.sh (or set COFFER_NODE20)',
    );
    t.diagnostic('no second Node binary installed: the cross-driver check ran only within this Node');
  }
  const here = process.execPath;
  const there = other?.path ?? here;
  const path = join(root, 'cross', 'store.db');

  // 1. Written here, read there: every record, revision and the generation agree.
  const written = runChild(here, 'write', path, '1');
  assert.equal(written.driver, thisDriver);
  const readThere = runChild(there, 'dump', path);
  const readHere = runChild(here, 'dump', path);
  assert.deepEqual(readThere.records, readHere.records);
  assert.equal(readThere.generation, written.generation);
  assert.equal(readHere.records.length, 4); // head + 3 of round 1 (v1 deleted)

  // 2. Continued there: generations go on from where this driver left them.
  const continued = runChild(there, 'write', path, '2');
  assert.equal(continued.generation, written.generation + 2);
  assert.deepEqual(runChild(here, 'dump', path), { ...runChild(there, 'dump', path), driver: thisDriver });

  // 3. Killed there with committed transactions only in the WAL: recovered here.
  const held = await holdAndKill(there, path, 3);
  assert.ok(statSync(`${path}-wal`).size > 0, 'the kill left committed frames in the WAL');
  const recovered = runChild(here, 'dump', path);
  assert.equal(recovered.generation, held.generation);
  assert.deepEqual(
    recovered.records.filter((r) => r.key.startsWith('cross/r3/')).map((r) => [r.key, r.length]),
    [
      ['cross/r3/v0', 0],
      ['cross/r3/v2', 4096],
      ['cross/r3/v3', 200_000],
    ],
  );
  if (other !== undefined) {
    assert.equal(held.driver, thisDriver === 'node:sqlite' ? 'better-sqlite3' : 'node:sqlite');
    t.diagnostic(`other side: Node ${other.version} (${held.driver})`);
  }
});
