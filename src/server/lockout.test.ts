// Unlock lockout (SPEC §10.4): 5 failed passphrase unlocks → 15 minutes of ELOCKED (423) for every
// unlock, the right passphrase included; the lockout survives a daemon restart; 100 parallel wrong
// guesses get no more than 5 tries; attempts are counted before the KDF runs.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CofferError } from '../errors.js';
import { openStorage } from '../storage/open.js';
import { tempDir } from '../testing/keystore.js';
import { type DaemonFixture, PASSPHRASE, startDaemon } from './fixture.js';
import { LOCKOUT_MS, LOCKOUT_RECORD, MAX_FAILURES, UnlockGate } from './lockout.js';

function postUnlock(socket: string, passphrase: string): Promise<{ status: number; code?: string }> {
  return new Promise((done, fail) => {
    const req = request(
      {
        socketPath: socket,
        method: 'POST',
        path: '/v1/unlock',
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { error?: { code: string } };
          done({ status: res.statusCode ?? 0, ...(body.error ? { code: body.error.code } : {}) });
        });
      },
    );
    req.on('error', fail);
    req.end(JSON.stringify({ passphrase }));
  });
}

describe('unlock lockout', () => {
  const fixtures: DaemonFixture[] = [];
  after(async () => {
    for (const f of fixtures) await f.cleanup();
  });

  test('5 failures lock out for 15 minutes, across a restart; then the passphrase works again', async () => {
    let now = Date.UTC(2030, 0, 1);
    const clock = () => now;
    const d = await startDaemon({ unlock: false, clock });
    fixtures.push(d);
    const anonymous = d.client();
    for (let i = 0; i < MAX_FAILURES; i++) {
      await assert.rejects(anonymous.unlock(`wrong ${i}`), (e: CofferError) => {
        assert.equal(e.code, 'ELOCKED');
        assert.match(e.message, /wrong passphrase/);
        return true;
      });
    }
    assert.equal((await anonymous.status()).lockedOutUntil, now + LOCKOUT_MS);
    const refused = await postUnlock(d.socket, PASSPHRASE);
    assert.deepEqual(refused, { status: 423, code: 'ELOCKED' });
    await assert.rejects(anonymous.unlock(PASSPHRASE), /locked out/);

    await d.restart({ clock });
    const restarted = await anonymous.status();
    assert.equal(restarted.locked, true);
    assert.equal(restarted.lockedOutUntil, now + LOCKOUT_MS, 'a restart does not reset the lockout');
    await assert.rejects(anonymous.unlock(PASSPHRASE), /locked out/);

    now += LOCKOUT_MS - 1;
    await assert.rejects(anonymous.unlock(PASSPHRASE), /locked out/);
    now += 1;
    assert.equal((await anonymous.status()).lockedOutUntil, undefined);
    assert.equal((await anonymous.unlock(PASSPHRASE)).locked, false);

    // Success resets the count: four failures after a lock do not lock out, the fifth does.
    await d.admin.lock();
    for (let i = 0; i < MAX_FAILURES - 1; i++)
      await assert.rejects(anonymous.unlock('nope'), /wrong passphrase/);
    assert.equal((await anonymous.unlock(PASSPHRASE)).locked, false);
  });

  test('100 parallel wrong guesses get exactly 5 tries; the rest are refused without a try', async () => {
    const d = await startDaemon({ unlock: false });
    fixtures.push(d);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => postUnlock(d.socket, `guess ${i}`)),
    );
    const elapsed = performance.now() - started;
    assert.ok(results.every((r) => r.status === 423 && r.code === 'ELOCKED'));
    // Which guesses were tried is told by the record: exactly MAX_FAILURES attempts were counted.
    await d.server.close();
    const storage = await openStorage(d.store);
    try {
      const record = await storage.get(LOCKOUT_RECORD);
      const parsed = JSON.parse(Buffer.from(record?.value ?? []).toString()) as { failures: number };
      assert.equal(parsed.failures, MAX_FAILURES);
    } finally {
      await storage.close();
    }
    assert.ok(elapsed < 60_000);
  });

  test('the gate counts an attempt before it runs and gives back a non-credential failure', async () => {
    const dir = tempDir();
    const storage = await openStorage(`sqlite:${join(dir.path, 'gate.db')}`, { create: true });
    try {
      const gate = new UnlockGate(storage, () => 1000);
      const read = async () =>
        JSON.parse(Buffer.from((await storage.get(LOCKOUT_RECORD))?.value ?? []).toString()) as {
          failures: number;
        };
      let release!: () => void;
      const pending = gate.attempt(
        () =>
          new Promise<void>((r) => (release = r)).then(() =>
            Promise.reject(new CofferError('ELOCKED', 'wrong')),
          ),
        () => true,
      );
      await new Promise((r) => setTimeout(r, 50));
      // The KDF has not finished, yet the attempt is already on disk (a crash now cannot erase it).
      assert.equal((await read()).failures, 1);
      release();
      await assert.rejects(pending, { code: 'ELOCKED' });
      assert.equal((await read()).failures, 1);
      await assert.rejects(
        gate.attempt(
          () => Promise.reject(new CofferError('EUNAVAIL', 'storage down')),
          (e) => e instanceof CofferError && e.code === 'ELOCKED',
        ),
        { code: 'EUNAVAIL' },
      );
      assert.equal((await read()).failures, 1, 'a non-credential failure is not counted');
      await gate.attempt(
        async () => {},
        () => true,
      );
      assert.equal((await read()).failures, 0);
      // An unreadable record fails closed: locked out.
      await storage.write([{ op: 'put', key: LOCKOUT_RECORD, value: new TextEncoder().encode('garbage') }]);
      assert.ok((await gate.lockedOutUntil()) !== undefined);
      await assert.rejects(
        gate.attempt(
          async () => {},
          () => true,
        ),
        /locked out/,
      );
    } finally {
      await storage.close();
      dir.remove();
    }
  });
});
