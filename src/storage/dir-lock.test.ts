// The dir: store's cross-process lock (dir-lock.ts): mutual exclusion between real processes,
// stale locks of dead, rebooted or reused-pid owners broken exactly once even when several
// processes race to break them, live or unknown owners waited for, and a release that never
// deletes a lock it does not own.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runToEnd, siblingScript } from '../testing/crash.js';
import { expectCode } from '../testing/storage-conformance.js';
import { FileLock, type LockOwner, ownerAlive } from './dir-lock.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-lock-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `case-${++n}`, '@lock');

function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

function writeOwner(path: string, owner: Partial<LockOwner>): string {
  const content = JSON.stringify({
    pid: process.pid,
    host: hostname(),
    token: randomBytes(16).toString('hex'),
    ...owner,
  });
  spawnSync('mkdir', ['-p', join(path, '..')]);
  writeFileSync(path, content);
  return content;
}

const selfStart = () => {
  const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
};

test('lock: a second holder in the same process waits for the release', async () => {
  const path = fresh();
  spawnSync('mkdir', ['-p', join(path, '..')]);
  const a = new FileLock(path);
  const b = new FileLock(path);
  await a.acquire();
  const order: string[] = [];
  const waiting = b.acquire().then(() => order.push('b acquired'));
  await new Promise((r) => setTimeout(r, 50));
  order.push('a releasing');
  await a.release();
  await waiting;
  assert.deepEqual(order, ['a releasing', 'b acquired']);
  await b.release();
  assert.equal(existsSync(path), false);
});

test('lock: owners that are dead, from another boot, or a reused pid are stale', () => {
  const token = randomBytes(16).toString('hex');
  const host = hostname();
  assert.equal(ownerAlive({ pid: process.pid, host, token }), true);
  assert.equal(ownerAlive({ pid: deadPid(), host, token }), false);
  assert.equal(ownerAlive({ pid: process.pid, host, token, boot: 'another-boot' }), false);
  if (existsSync('/proc/self/stat')) {
    assert.equal(ownerAlive({ pid: process.pid, host, token, start: selfStart() }), true);
    assert.equal(ownerAlive({ pid: process.pid, host, token, start: '1' }), false);
  }
  // Another host cannot be checked: assume alive rather than break a lock in use.
  assert.equal(ownerAlive({ pid: deadPid(), host: `${host}-elsewhere`, token }), true);
});

test('lock: stale locks are broken (dead pid, garbage content, stale tombstone of a dead breaker)', async () => {
  const dead = fresh();
  writeOwner(dead, { pid: deadPid() });
  const first = new FileLock(dead, { timeoutMs: 2000 });
  await first.acquire();
  await first.release();

  const garbage = fresh();
  spawnSync('mkdir', ['-p', join(garbage, '..')]);
  writeFileSync(garbage, '');
  const second = new FileLock(garbage, { timeoutMs: 2000 });
  await second.acquire();
  await second.release();

  // A breaker that died holding the tombstone for the stale lock's token.
  const nested = fresh();
  const staleToken = randomBytes(16).toString('hex');
  writeOwner(nested, { pid: deadPid(), token: staleToken });
  writeOwner(`${nested}.${staleToken}`, { pid: deadPid() });
  const third = new FileLock(nested, { timeoutMs: 2000 });
  await third.acquire();
  assert.equal(existsSync(`${nested}.${staleToken}`), false);
  await third.release();
});

test('lock: a live or unknown owner is waited for, then EUNAVAIL naming it and the file', async () => {
  const path = fresh();
  writeOwner(path, { pid: 4242, host: 'another-host.example' });
  const lock = new FileLock(path, { timeoutMs: 300 });
  await assert.rejects(lock.acquire(), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'EUNAVAIL');
    assert.match(error.message, /pid 4242 on another-host\.example/);
    assert.ok(error.message.includes(path));
    return true;
  });
  // A stale lock whose tombstone is held by a live breaker is not touched either.
  const guarded = fresh();
  const token = randomBytes(16).toString('hex');
  const stale = writeOwner(guarded, { pid: deadPid(), token });
  writeOwner(`${guarded}.${token}`, {});
  await expectCode(new FileLock(guarded, { timeoutMs: 200 }).acquire(), 'EUNAVAIL');
  assert.equal(readFileSync(guarded, 'utf8'), stale);
});

test('lock: release never deletes a lock that is no longer ours', async () => {
  const path = fresh();
  spawnSync('mkdir', ['-p', join(path, '..')]);
  const lock = new FileLock(path);
  await lock.acquire();
  const other = writeOwner(path, {});
  await lock.release();
  assert.equal(readFileSync(path, 'utf8'), other);
});

test('lock: 4 processes racing to break one stale lock, then contending, never overlap', async () => {
  const dir = join(root, 'race');
  const path = join(dir, '@lock');
  writeOwner(path, { pid: deadPid() });
  const counter = join(dir, 'counter');
  writeFileSync(counter, '0');
  const iterations = 40;
  const env = { COFFER_TEST_START_AT: String(Date.now() + 1500) };
  const script = siblingScript(import.meta.url, '../testing/workers/dir-lock.js');
  await Promise.all(
    [0, 1, 2, 3].map(() => runToEnd({ script, args: [path, counter, String(iterations)], env })),
  );
  assert.equal(Number(readFileSync(counter, 'utf8')), 4 * iterations);
  assert.equal(existsSync(path), false);
});
