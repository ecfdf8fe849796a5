// The postgres:// backend against the conformance and reliability suites on a real PostgreSQL 15
// cluster started for this file, plus what only it has: missing database vs. missing store, clear
// EUNAVAIL for an unreachable server or a refused login with no password in any message, safe
// concurrent schema creation, index-served prefix listing, generations handed out in commit order
// (a poller following changedSince never misses a record), and a server that goes away.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { type PostgresCluster, startPostgres } from '../testing/postgres.js';
import { exerciseStorage, expectCode } from '../testing/storage-conformance.js';
import { exerciseListEnding } from '../testing/storage-list-ending.js';
import { exerciseReliability } from '../testing/storage-reliability.js';
import { openStorage } from './open.js';
import { POSTGRES_LIST_SQL } from './postgres.js';
import type { Storage } from './types.js';

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

let databases = 0;
async function newDatabase(): Promise<string> {
  return cluster.createDatabase(`store_${++databases}`);
}

let conformanceUrl: Promise<string> | undefined;
exerciseStorage('postgres', async () => {
  conformanceUrl ??= newDatabase();
  return openStorage(await conformanceUrl, { create: true });
});

exerciseReliability('postgres', async () => {
  const url = await newDatabase();
  await (await openStorage(url, { create: true })).close();
  return url;
});

/** Asserts a rejection with `code` whose message, JSON and cause never mention `secret`. */
async function expectSecretFree(promise: Promise<unknown>, code: string, secret: string, hint: RegExp) {
  await assert.rejects(promise, (error: Error & { code?: string; cause?: unknown }) => {
    assert.equal(error.code, code, String(error));
    assert.match(error.message, hint);
    assert.ok(!error.message.includes(secret), 'the password leaked into the message');
    assert.ok(!JSON.stringify(error).includes(secret), 'the password leaked into the JSON form');
    assert.ok(!String(error.cause).includes(secret), 'the password leaked into the cause');
    return true;
  });
}

test('postgres: a database without a store is ENOENT unless create; a missing database is ENOENT', async () => {
  const url = await newDatabase();
  await expectCode(openStorage(url), 'ENOENT');
  const store = await openStorage(url, { create: true });
  await store.close();
  await (await openStorage(url)).close();
  await assert.rejects(
    openStorage(cluster.urlFor('no_such_database')),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'ENOENT');
      assert.match(error.message, /database "no_such_database" does not exist.*createdb/);
      assert.ok(!error.message.includes(cluster.password));
      return true;
    },
  );
});

test('postgres: unreachable server and refused login are EUNAVAIL saying what to check, never the password', async () => {
  const secret = 'Sup3r-Secret-pw';
  // A port on loopback where nothing listens (the cluster's port + 1 is not ours; find one closed).
  const closed = `postgres://coffer:${secret}@127.0.0.1:1/coffer`;
  await expectSecretFree(
    openStorage(closed),
    'EUNAVAIL',
    secret,
    /cannot reach .*check that the server is running/,
  );
  await expectSecretFree(
    openStorage(cluster.urlFor('coffer', secret)),
    'EUNAVAIL',
    secret,
    /refused the login of user "coffer": check the user name and password/,
  );
  await expectSecretFree(
    openStorage(`postgres://coffer:${secret}@127.0.0.1:99999999/db`),
    'EINVAL',
    secret,
    /malformed postgres/,
  );
});

test('postgres: a newer schema is refused; concurrent creators agree on one schema', async () => {
  const url = await newDatabase();
  const handles = await Promise.all(Array.from({ length: 6 }, () => openStorage(url, { create: true })));
  const generations = await Promise.all(
    handles.map((h, i) => h.write([{ op: 'put', key: `c/${i}`, value: new Uint8Array([i]) }])),
  );
  assert.equal(new Set(generations).size, 6);
  await Promise.all(handles.map((h) => h.close()));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('UPDATE coffer_schema SET version = 99');
  } finally {
    await client.end();
  }
  await expectCode(openStorage(url), 'EUNAVAIL');
});

test('postgres: prefix listing is an index range scan', async () => {
  const url = await newDatabase();
  const store = await openStorage(url, { create: true });
  const ops = Array.from({ length: 5000 }, (_, i) => ({
    op: 'put' as const,
    key: `app${i % 50}/purpose/k${i}`,
    value: new Uint8Array(32),
  }));
  await store.write(ops);
  await store.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('ANALYZE coffer_records');
    for (const sql of POSTGRES_LIST_SQL) {
      const params = sql.includes('$4') ? ['app7/', 'app70', 100, '/meta'] : ['app7/', 'app70', 100];
      const plan = await client.query(`EXPLAIN ${sql}`, params);
      const text = plan.rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
      // The planner may pick a plain or a bitmap index scan; either way the primary-key index
      // bounds the range on both ends, and the table is never scanned whole.
      assert.match(text, /Index Scan on coffer_records_pkey|Index Scan using coffer_records_pkey/);
      assert.match(text, /Index Cond: \(\(key >=? '[^']+'::text\) AND \(key < '[^']+'::text\)\)/);
      assert.doesNotMatch(text, /Seq Scan/);
    }
  } finally {
    await client.end();
  }
});

test('postgres: generations follow commit order, so a changedSince poller misses nothing', async () => {
  const url = await newDatabase();
  const writers: Storage[] = await Promise.all(
    Array.from({ length: 4 }, () => openStorage(url, { create: true })),
  );
  const poller = await openStorage(url);
  const seen = new Set<string>();
  let high = 0;
  let done = false;
  const poll = async () => {
    for (const record of await poller.changedSince(high)) {
      seen.add(record.key);
      high = Math.max(high, record.revision);
    }
  };
  const polling = (async () => {
    while (!done) await poll();
  })();
  try {
    await Promise.all(
      writers.map(async (writer, w) => {
        for (let i = 0; i < 30; i++) {
          await writer.write([
            { op: 'put', key: `poll/w${w}/r${i}`, value: new Uint8Array(64) },
            { op: 'put', key: `poll/w${w}/s${i}`, value: new Uint8Array(64) },
          ]);
        }
      }),
    );
  } finally {
    done = true;
    await polling;
  }
  // Records are never rewritten here, so any key missing from `seen` was skipped by the poller
  // because it committed with a generation below one already seen.
  const all = (await poller.list('poll/')).map((r) => r.key);
  assert.equal(all.length, 240);
  await poll();
  assert.deepEqual(
    all.filter((key) => !seen.has(key)),
    [],
  );
  await Promise.all([...writers, poller].map((s) => s.close()));
});

exerciseListEnding('postgres', async () => openStorage(await newDatabase(), { create: true }));

test('postgres: a server that goes away turns calls into EUNAVAIL (runs last: stops the cluster)', async () => {
  const url = await newDatabase();
  const store = await openStorage(url, { create: true });
  await store.write([{ op: 'put', key: 'a', value: new Uint8Array(1) }]);
  await cluster.stop();
  await expectSecretFree(store.get('a'), 'EUNAVAIL', cluster.password, /PostgreSQL at 127\.0\.0\.1/);
  await expectSecretFree(
    store.write([{ op: 'put', key: 'b', value: new Uint8Array(1) }]),
    'EUNAVAIL',
    cluster.password,
    /PostgreSQL at 127\.0\.0\.1/,
  );
  await store.close();
});
