// The audit chain (SPEC §8): every lifecycle event is logged, verifyAudit() passes on an honest log and
// reports any edit, deletion, reordering or truncation; entries never carry secret material.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStorage } from '../storage/open.js';
import { passphrase, tempKeystore } from '../testing/keystore.js';
import { auditEntryKey } from './audit.js';
import { Keystore } from './keystore.js';

async function populated() {
  const fixture = await tempKeystore();
  const { ks } = fixture;
  const a = await ks.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519' });
  await ks.rotate(a.id);
  await ks.suspend(a.id);
  await ks.resume(a.id);
  await ks.revoke(a.id, 'test');
  await ks.destroy(a.id);
  await ks.changePassphrase('correct horse battery staple', {
    kdf: { alg: 'argon2id', memoryKiB: 19456, iterations: 2, parallelism: 1 },
  });
  return { ...fixture, keyId: a.id };
}

test('every lifecycle event is in the log, in order, and the honest log verifies', async () => {
  const { ks, cleanup } = await populated();
  const events = (await ks.auditTail(100)).map((e) => e.event);
  assert.deepEqual(events, [
    'keystore.create',
    'key.create',
    'key.rotate',
    'key.suspend',
    'key.resume',
    'key.revoke',
    'key.destroy',
    'protector.passphrase-change',
  ]);
  const report = await ks.verifyAudit();
  assert.deepEqual(report, { ok: true, entries: 8, problems: [] });
  await cleanup();
});

async function tamperAndVerify(
  change: (storage: Awaited<ReturnType<typeof openStorage>>) => Promise<void>,
): Promise<string[]> {
  const { ks, url, dir } = await populated();
  await ks.close();
  const storage = await openStorage(url);
  await change(storage);
  await storage.close();
  const again = await Keystore.open({ store: url, protector: passphrase() });
  // Re-opening appends an unlock entry of its own: the damage before it must still show.
  const report = await again.verifyAudit();
  await again.close();
  dir.remove();
  assert.equal(report.ok, false);
  return report.problems;
}

test('an edited entry is reported', async () => {
  const problems = await tamperAndVerify(async (storage) => {
    const record = (await storage.get(auditEntryKey(3)))!;
    const value = Uint8Array.from(record.value);
    value[value.length - 5]! ^= 1;
    await storage.write([{ op: 'put', key: record.key, value }]);
  });
  assert.match(problems.join('\n'), /audit\/e\/0+3/);
});

test('a deleted entry is reported', async () => {
  const problems = await tamperAndVerify(async (storage) => {
    await storage.write([{ op: 'delete', key: auditEntryKey(4) }]);
  });
  assert.ok(problems.length > 0);
});

test('reordered entries are reported', async () => {
  const problems = await tamperAndVerify(async (storage) => {
    const two = (await storage.get(auditEntryKey(2)))!;
    const three = (await storage.get(auditEntryKey(3)))!;
    await storage.write([
      { op: 'put', key: auditEntryKey(2), value: three.value },
      { op: 'put', key: auditEntryKey(3), value: two.value },
    ]);
  });
  assert.ok(problems.length >= 2);
});

test('truncation of the tail is reported', async () => {
  const problems = await tamperAndVerify(async (storage) => {
    const entries = await storage.list('audit/e/');
    await storage.write(entries.slice(-3).map((e) => ({ op: 'delete' as const, key: e.key })));
  });
  assert.match(problems.join('\n'), /truncated|missing|expected entry/);
});

test('tail and head removed together: the next append fails closed (EBADMSG), the log is not restarted', async () => {
  const { ks, url, dir } = await populated();
  await ks.close();
  const storage = await openStorage(url);
  const entries = await storage.list('audit/e/');
  // Forging a stale head is impossible without the MAC key; the best an attacker can do is delete
  // entries and the head together.
  await storage.write([
    ...entries.slice(-3).map((e) => ({ op: 'delete' as const, key: e.key })),
    { op: 'delete', key: 'audit/head' },
  ]);
  await storage.close();
  // Unlocking appends an audit entry: with the head gone and entries present it must refuse.
  await assert.rejects(Keystore.open({ store: url, protector: passphrase() }), { code: 'EBADMSG' });
  dir.remove();
});

test('entries contain no secret material', async () => {
  const { ks, cleanup } = await populated();
  const text = JSON.stringify(await ks.auditTail(100));
  assert.doesNotMatch(text, /correct horse/);
  assert.doesNotMatch(text, /wrapped/);
  await cleanup();
});

test('per-operation audit is off by default and, when on, logs operations in batches that verify', async () => {
  const off = await tempKeystore();
  const key = await off.ks.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519' });
  await off.ks.sign(key.id, new Uint8Array(1));
  await off.ks.lock();
  await off.ks.unlock(passphrase());
  assert.ok(!(await off.ks.auditTail(10)).some((e) => e.event.startsWith('op.')));
  await off.cleanup();

  const on = await tempKeystore({ auditOperations: true });
  const signer = await on.ks.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519' });
  const sealer = await on.ks.createKey({ app: 'a', purpose: 'p', algorithm: 'aes-256-gcm' });
  for (let i = 0; i < 5; i++) await on.ks.sign(signer.id, new Uint8Array([i]));
  await on.ks.unseal(sealer.id, await on.ks.seal(sealer.id, new Uint8Array(4)));
  await on.ks.lock();
  await on.ks.unlock(passphrase());
  const ops = (await on.ks.auditTail(20)).filter((e) => e.event.startsWith('op.'));
  assert.deepEqual(
    ops.map((e) => e.event),
    ['op.sign', 'op.sign', 'op.sign', 'op.sign', 'op.sign', 'op.seal', 'op.unseal'],
  );
  assert.equal(ops[0]!.keyId, signer.id);
  assert.equal((await on.ks.verifyAudit()).ok, true);
  await on.cleanup();
});
