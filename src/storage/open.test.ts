// Store URL parsing and dispatch (open.ts): every scheme and its malformed forms, EINVAL for
// unknown schemes without echoing URLs (which may hold passwords), ENOENT for missing stores.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { expectCode } from '../testing/storage-conformance.js';
import { openStorage, parseStoreUrl } from './open.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-open-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('parseStoreUrl: the three schemes and their path forms', () => {
  assert.deepEqual(parseStoreUrl('sqlite:store.db'), { kind: 'sqlite', path: 'store.db' });
  assert.deepEqual(parseStoreUrl('sqlite:/var/lib/coffer/store.db'), {
    kind: 'sqlite',
    path: '/var/lib/coffer/store.db',
  });
  assert.deepEqual(parseStoreUrl('sqlite:///var/lib/coffer/store.db'), {
    kind: 'sqlite',
    path: '/var/lib/coffer/store.db',
  });
  assert.deepEqual(parseStoreUrl('SQLite:x.db'), { kind: 'sqlite', path: 'x.db' });
  assert.deepEqual(parseStoreUrl('dir:./keys'), { kind: 'dir', path: './keys' });
  assert.deepEqual(parseStoreUrl('dir:///srv/keys'), { kind: 'dir', path: '/srv/keys' });
  const pgUrl = 'postgres://u:p@db.example:5433/coffer?sslmode=require';
  assert.deepEqual(parseStoreUrl(pgUrl), { kind: 'postgres', url: pgUrl });
  assert.deepEqual(parseStoreUrl('postgresql://u@localhost/coffer'), {
    kind: 'postgres',
    url: 'postgresql://u@localhost/coffer',
  });
  assert.deepEqual(parseStoreUrl('postgres://u@/coffer?host=/run/postgresql'), {
    kind: 'postgres',
    url: 'postgres://u@/coffer?host=/run/postgresql',
  });
});

test('parseStoreUrl: malformed and unknown URLs are EINVAL and never echo a password', () => {
  const secret = 'hunter2-secret';
  const bad: unknown[] = [
    '',
    'sqlite:',
    'dir:',
    'sqlite://host/path.db',
    'dir://server/share',
    'sqlite:a\0b',
    'store.db',
    '/abs/store.db',
    `mysql://root:${secret}@localhost/db`,
    `postgres://u:${secret}@db.example:99999/coffer`,
    `postgres://u:${secret}@db.example:5432`,
    `postgres:u:${secret}@db/coffer`,
    `postgres://u:${secret}@/coffer`,
    42,
    undefined,
  ];
  for (const url of bad) {
    assert.throws(
      () => parseStoreUrl(url),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'EINVAL', `${String(url)}: ${error.message}`);
        assert.ok(!error.message.includes(secret), `password echoed for ${String(url)}`);
        return true;
      },
    );
  }
});

test('openStorage: option checks, and missing stores are ENOENT without create', async () => {
  await expectCode(openStorage('nope:x'), 'EINVAL');
  await expectCode(openStorage(`sqlite:${join(root, 'a.db')}`, { create: 'yes' } as never), 'EINVAL');
  await expectCode(openStorage(`sqlite:${join(root, 'a.db')}`, null as never), 'EINVAL');
  await expectCode(openStorage(`sqlite:${join(root, 'missing.db')}`), 'ENOENT');
  await expectCode(openStorage(`dir:${join(root, 'missing-dir')}`), 'ENOENT');
  const sqlite = await openStorage(`sqlite:${join(root, 'made.db')}`, { create: true });
  assert.equal(sqlite.kind, 'sqlite');
  await sqlite.close();
  const dir = await openStorage(`dir:${join(root, 'made-dir')}`, { create: true });
  assert.equal(dir.kind, 'dir');
  await dir.close();
});
