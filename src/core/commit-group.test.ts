// Group commit in the session (issue 14, goal 5): key creations and changes from concurrent callers
// of one process share a write — one tree root, one audit head — yet each caller gets its own result
// or its own error, and every change keeps its own audit entry. The dir handle's commit counter proves
// the coalescing without timing anything: without the session's queue, every creation needs a commit
// of its own (concurrent writes conflict on the tree root and the audit head, SPEC §4.1, §8).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CofferError } from '../errors.js';
import { dirStats, openDirStorage } from '../storage/dir.js';
import { passphrase, tempDir } from '../testing/keystore.js';
import { Keystore } from './keystore.js';
import type { CreateKeySpec } from './types.js';

const dir = tempDir('coffer-commit-group-');
after(() => dir.remove());

async function openDir(name: string) {
  const storage = await openDirStorage(join(dir.path, name), { create: true });
  const ks = await Keystore.open({ store: storage, protector: passphrase(), create: true });
  return { ks, storage };
}

const spec = (i: number): CreateKeySpec => ({ app: 'group', purpose: `p${i % 4}`, algorithm: 'ed25519' });

test('16 concurrent createKey calls on a dir: keystore share commits, each key and audit entry its own', async () => {
  const { ks, storage } = await openDir('coalesce');
  try {
    const before = dirStats(storage).commits;
    const infos = await Promise.all(Array.from({ length: 16 }, (_, i) => ks.createKey(spec(i))));
    const commits = dirStats(storage).commits - before;
    // The first caller's write, then one for the 15 that queued behind it. Without the session's
    // group commit this is at least 16 (one root move per key).
    assert.ok(commits <= 3, `${commits} dir commits for 16 concurrent key creations`);
    assert.equal(new Set(infos.map((i) => i.id)).size, 16);
    for (const info of infos) {
      assert.deepEqual(await ks.getKey(info.id), info);
      const signature = await ks.sign(info.id, new TextEncoder().encode('m'));
      assert.ok(signature.signature.length > 0);
    }
    const report = await ks.verifyAudit();
    assert.equal(report.ok, true, report.problems.join('\n'));
    const created = (await ks.auditTail(100)).filter((e) => e.event === 'key.create');
    assert.deepEqual(created.map((e) => e.keyId).sort(), infos.map((i) => i.id).sort());
  } finally {
    await ks.close();
  }
});

test('one bad call among concurrent callers fails alone; the others are written, in shared commits', async () => {
  const { ks, storage } = await openDir('isolation');
  try {
    const revoked = await ks.createKey(spec(0));
    await ks.revoke(revoked.id, 'test');
    const rotated = await ks.createKey(spec(1));
    const before = dirStats(storage).commits;
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 14; i++) calls.push(ks.createKey(spec(i)));
    // A spec the keystore refuses, and a change whose build throws inside the group (a revoked key
    // cannot be rotated), among them; plus three rotations of one key, which cannot share a batch.
    calls.push(ks.createKey({ app: 'group', purpose: 'bad', algorithm: 'nope' } as unknown as CreateKeySpec));
    calls.push(ks.rotate(revoked.id));
    for (let i = 0; i < 3; i++) calls.push(ks.rotate(rotated.id));
    const settled = await Promise.allSettled(calls);
    const commits = dirStats(storage).commits - before;
    const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ i, error: s.reason }] : []));
    assert.deepEqual(
      failed.map((f) => f.i),
      [14, 15],
      failed.map((f) => String(f.error)).join('\n'),
    );
    assert.ok(failed[0]!.error instanceof CofferError && failed[0]!.error.code === 'EINVAL');
    assert.ok(failed[1]!.error instanceof CofferError && failed[1]!.error.code !== 'ECONFLICT');
    // Creations share writes; the four rotations each read state, so they go one per write.
    assert.ok(commits <= 8, `${commits} dir commits for 17 changes`);
    assert.equal((await ks.getKey(rotated.id)).primaryVersion, 4);
    assert.equal((await ks.getKey(revoked.id)).versions.length, 1);
    const keys = await ks.listKeys({ app: 'group' });
    assert.equal(keys.length, 16);
    const report = await ks.verifyAudit();
    assert.equal(report.ok, true, report.problems.join('\n'));
    const tail = await ks.auditTail(100);
    assert.equal(tail.filter((e) => e.event === 'key.create').length, 16);
    assert.equal(tail.filter((e) => e.event === 'key.rotate').length, 3);
  } finally {
    await ks.close();
  }
});
