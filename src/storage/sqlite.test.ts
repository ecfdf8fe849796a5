// The sqlite: backend against the conformance suite, plus what only it has: file creation and
// permissions, WAL mode, refusing foreign or newer databases, the migration hook, and an index
// range (not a scan) behind prefix listing. Under Node 20 all of it runs on better-sqlite3, under
// Node ≥ 22.13 on node:sqlite (the first test pins which); raw inspection goes through the same seam.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hasBuiltinSqlite } from '../testing/other-node.js';
import { exerciseStorage, expectCode } from '../testing/storage-conformance.js';
import { exerciseListEnding } from '../testing/storage-list-ending.js';
import { exerciseReliability } from '../testing/storage-reliability.js';
import { openStorage } from './open.js';
import {
  openSqliteStorage,
  SQLITE_LIST_SQL,
  SQLITE_MIGRATIONS,
  SQLITE_SCHEMA_VERSION,
  sqliteSettings,
} from './sqlite.js';
import { type SqliteConnection, sqliteDriver } from './sqlite-driver.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-sqlite-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A second connection straight to the file, through the same driver the backend uses. */
function raw(path: string, readOnly = true): SqliteConnection {
  return sqliteDriver().open(path, { readOnly, busyTimeoutMs: 0 });
}

/** Node ≥ 22.13 (and 23.4+) has node:sqlite without a flag; older Nodes need better-sqlite3. */
const expectedDriver = () => (hasBuiltinSqlite(process.versions.node) ? 'node:sqlite' : 'better-sqlite3');

test(`sqlite: Node ${process.versions.node} serves the store through ${expectedDriver()}, WAL, synchronous=FULL`, async () => {
  assert.equal(sqliteDriver().name, expectedDriver());
  const store = await openStorage(`sqlite:${join(root, 'settings', 'store.db')}`, { create: true });
  try {
    assert.deepEqual(sqliteSettings(store), {
      driver: expectedDriver(),
      journalMode: 'wal',
      synchronous: 2, // FULL
      busyTimeout: 25,
    });
  } finally {
    await store.close();
  }
});

const suiteStore = join(root, 'conformance', 'store.db');
exerciseStorage('sqlite', () => openStorage(`sqlite:${suiteStore}`, { create: true }));

let stores = 0;
exerciseReliability('sqlite', async () => {
  const url = `sqlite:${join(root, `reliability-${++stores}`, 'store.db')}`;
  await (await openStorage(url, { create: true })).close();
  return url;
});

test('sqlite: a missing file is ENOENT without create; create makes an owner-only WAL database', async () => {
  const path = join(root, 'new', 'nested', 'store.db');
  await expectCode(openStorage(`sqlite:${path}`), 'ENOENT');
  assert.equal(existsSync(path), false);
  const store = await openStorage(`sqlite:${path}`, { create: true });
  await store.write([{ op: 'put', key: 'a', value: new Uint8Array([1]) }]);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(join(root, 'new', 'nested')).mode & 0o777, 0o700);
  const db = raw(path);
  try {
    assert.equal(db.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
    assert.equal(db.prepare('SELECT version FROM coffer_schema').get()?.version, SQLITE_SCHEMA_VERSION);
  } finally {
    db.close();
  }
  await store.close();
  // Reopening without create finds it.
  const again = await openStorage(`sqlite:///${path.slice(1)}`);
  assert.equal((await again.get('a'))?.revision, 1);
  await again.close();
});

test('sqlite: an empty file without create is ENOENT; foreign files and databases are EINVAL', async () => {
  const empty = join(root, 'empty.db');
  writeFileSync(empty, '');
  await expectCode(openStorage(`sqlite:${empty}`), 'ENOENT');
  const garbage = join(root, 'garbage.db');
  writeFileSync(garbage, 'this is not an SQLite database, just text that is long enough '.repeat(20));
  await expectCode(openStorage(`sqlite:${garbage}`, { create: true }), 'EINVAL');
  const foreign = join(root, 'foreign.db');
  writeFileSync(foreign, ''); // an empty file is an empty SQLite database
  const db = raw(foreign, false);
  db.exec('CREATE TABLE customers (id INTEGER)');
  db.close();
  await expectCode(openStorage(`sqlite:${foreign}`, { create: true }), 'EINVAL');
  // The foreign database was not modified.
  const check = raw(foreign);
  assert.deepEqual(
    check
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all()
      .map((row) => row.name),
    ['customers'],
  );
  check.close();
});

test('sqlite: the migration hook upgrades in order, and a newer schema is refused', async () => {
  const path = join(root, 'migrate.db');
  const v1 = await openStorage(`sqlite:${path}`, { create: true });
  await v1.write([{ op: 'put', key: 'kept', value: new Uint8Array([7]) }]);
  await v1.close();
  const applied: number[] = [];
  const future = [
    ...SQLITE_MIGRATIONS,
    (db: SqliteConnection) => {
      applied.push(2);
      db.exec('CREATE TABLE coffer_future (x INTEGER)');
    },
  ];
  const v2 = await openSqliteStorage(path, {}, future);
  assert.deepEqual(applied, [2]);
  assert.deepEqual((await v2.get('kept'))?.value, new Uint8Array([7]));
  await v2.close();
  // Opening again with the same list runs nothing more.
  await (await openSqliteStorage(path, {}, future)).close();
  assert.deepEqual(applied, [2]);
  // This build only knows version 1: a version-2 store is EUNAVAIL, not silently misread.
  await expectCode(openStorage(`sqlite:${path}`), 'EUNAVAIL');
});

test('sqlite: a migration that fails leaves the previous version intact', async () => {
  const path = join(root, 'migrate-fail.db');
  await (await openStorage(`sqlite:${path}`, { create: true })).close();
  const broken = [
    ...SQLITE_MIGRATIONS,
    (db: SqliteConnection) => {
      db.exec('CREATE TABLE coffer_half (x INTEGER)');
      throw new Error('migration step failed');
    },
  ];
  await expectCode(openSqliteStorage(path, {}, broken), 'EUNAVAIL');
  const db = raw(path);
  try {
    assert.equal(db.prepare('SELECT version FROM coffer_schema').get()?.version, 1);
    assert.equal(
      db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'coffer_half'").get()?.n,
      0,
    );
  } finally {
    db.close();
  }
});

test('sqlite: prefix listing is an index range search, not a table scan', async () => {
  const db = raw(suiteStore);
  try {
    for (const sql of SQLITE_LIST_SQL) {
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        // The ranges with a key ending take it twice (length and comparison) before the limit.
        .all(...(sql.includes('substr') ? ['a/', 'a0', '/meta', '/meta', 10] : ['a/', 'a0', 10]))
        .map((row) => (row as { detail: string }).detail)
        .join('; ');
      assert.match(
        plan,
        /SEARCH coffer_records USING INDEX sqlite_autoindex_coffer_records_1 \(key>\? AND key<\?\)/,
      );
      assert.doesNotMatch(plan, /SCAN|TEMP B-TREE/);
    }
  } finally {
    db.close();
  }
});

exerciseListEnding('sqlite', () =>
  openStorage(`sqlite:${join(root, 'ending', 'store.db')}`, { create: true }),
);
