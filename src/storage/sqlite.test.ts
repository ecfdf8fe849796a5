// The sqlite: backend against the conformance suite, plus what only it has: file creation and
// permissions, WAL mode, refusing foreign or newer databases, the migration hook, and an index
// range (not a scan) behind prefix listing.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { exerciseStorage, expectCode } from './conformance.js';
import { openStorage } from './open.js';
import { exerciseReliability } from './reliability.js';
import { openSqliteStorage, SQLITE_LIST_SQL, SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from './sqlite.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-sqlite-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

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
  const raw = new Database(path, { readonly: true });
  try {
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(raw.prepare('SELECT version FROM coffer_schema').pluck().get(), SQLITE_SCHEMA_VERSION);
  } finally {
    raw.close();
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
  const db = new Database(foreign);
  db.exec('CREATE TABLE customers (id INTEGER)');
  db.close();
  await expectCode(openStorage(`sqlite:${foreign}`, { create: true }), 'EINVAL');
  // The foreign database was not modified.
  const check = new Database(foreign, { readonly: true });
  assert.deepEqual(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all(), [
    'customers',
  ]);
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
    (db: Database.Database) => {
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
    (db: Database.Database) => {
      db.exec('CREATE TABLE coffer_half (x INTEGER)');
      throw new Error('migration step failed');
    },
  ];
  await expectCode(openSqliteStorage(path, {}, broken), 'EUNAVAIL');
  const raw = new Database(path, { readonly: true });
  try {
    assert.equal(raw.prepare('SELECT version FROM coffer_schema').pluck().get(), 1);
    assert.equal(
      raw.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'coffer_half'").pluck().get(),
      0,
    );
  } finally {
    raw.close();
  }
});

test('sqlite: prefix listing is an index range search, not a table scan', async () => {
  const db = new Database(suiteStore, { readonly: true });
  try {
    for (const sql of SQLITE_LIST_SQL) {
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all('a/', 'a0', 10)
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
