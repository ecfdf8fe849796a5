// Restoring a backup is the explicit, audited way to put keys back as they were (SPEC §11.5, §4.2): it
// writes into the current store, ends with a `backup.restore` audit entry and moves the rollback anchor
// forward, so the store as it was before the restore is refused afterwards like any older copy.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Keystore } from '../core/keystore.js';
import { FAST_KDF, passphrase, tempDir } from '../testing/keystore.js';
import { rejectsRollback, restore, snapshot } from '../testing/rollback-attacks.js';
import { createBackup, restoreBackup } from './index.js';

test('a restore is audited and sealed past the anchor; the store from before it is refused', async () => {
  const dir = tempDir('coffer-restore-anchor-');
  try {
    const url = `sqlite:${join(dir.path, 'store.db')}`;
    const anchor = { type: 'file' as const, path: join(dir.path, 'anchor.json') };
    const anchorValue = () => JSON.parse(readFileSync(anchor.path, 'utf8')).value as number;
    let ks = await Keystore.open({ store: url, protector: passphrase(), create: true, anchor });
    const key = await ks.createKey({ app: 'pay', purpose: 'sign', algorithm: 'ed25519' });
    const out = join(dir.path, 'full.cbk');
    await createBackup(ks, { out, passphrase: 'backup pass', kdf: FAST_KDF });
    await ks.suspend(key.id, { reason: 'maintenance' });
    await ks.close();
    const beforeRestore = await snapshot(url);

    ks = await Keystore.open({ store: url, protector: passphrase(), anchor });
    const sealed = anchorValue();
    const report = await restoreBackup(ks, out, { passphrase: 'backup pass', mode: 'overwrite' });
    assert.deepEqual(report.restored, [key.id]);
    assert.equal((await ks.getKey(key.id)).state, 'active');
    const entry = (await ks.auditTail(2)).find((e) => e.event === 'backup.restore');
    assert.equal(entry?.details?.backupId, report.backupId);
    assert.equal(entry?.details?.restored, 1);
    assert.ok(anchorValue() > sealed, 'the restore moved the anchor forward');
    await ks.close();

    await restore(url, beforeRestore);
    await rejectsRollback(Keystore.open({ store: url, protector: passphrase(), anchor }), 'anchor');
  } finally {
    dir.remove();
  }
});
