// The overview a bare `coffer --help` prints from the build's cache is the one the table renders, and
// a cache older than the table or the renderer is never used.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { overview } from './help.js';
import { cachedOverview, writeOverviewCache } from './overview-cache.js';
import { COMMANDS } from './table/index.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

test('the cached overview is the rendered one, and `coffer --help` prints it', async () => {
  await writeOverviewCache(fs);
  assert.equal(cachedOverview(fs), overview(COMMANDS));
  const run = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' });
  assert.equal(run.status, 0);
  assert.equal(run.stdout, `${overview(COMMANDS)}\n`);
  const bare = spawnSync(process.execPath, [MAIN], { encoding: 'utf8' });
  assert.equal(bare.status, 2);
  assert.equal(bare.stderr, `${overview(COMMANDS)}\n`);
});

test('a cache older than any table file or the renderer is not used', () => {
  const files = new Map<string, number>([
    ['overview.txt', 100],
    ['help.js', 50],
    ['index.js', 60],
    ['keys.js', 70],
  ]);
  const name = (u: fs.PathLike) => String(u).split('/').pop()!;
  const fakeFs = {
    statSync: (u: fs.PathLike) => ({ mtimeMs: files.get(name(u)) ?? 0 }),
    readdirSync: () => ['index.js', 'keys.js', 'keys.d.ts'],
    readFileSync: () => 'the cached overview',
  } as unknown as typeof fs;
  assert.equal(cachedOverview(fakeFs), 'the cached overview');
  files.set('keys.js', 101);
  assert.equal(cachedOverview(fakeFs), undefined, 'a table file changed after the cache was written');
  files.set('keys.js', 70);
  files.set('help.js', 150);
  assert.equal(cachedOverview(fakeFs), undefined, 'the renderer changed after the cache was written');
  files.delete('overview.txt');
  const missing = {
    ...fakeFs,
    statSync: () => {
      throw new Error('ENOENT');
    },
  } as unknown as typeof fs;
  assert.equal(cachedOverview(missing), undefined);
});
