// The format upgrade (SPEC §4.3): a format-1 store (as earlier builds wrote it: no record tree, header
// version 1, keyslots MAC'd over that header) is refused unless `upgrade: true`, then upgraded in place
// with every key usable and every record covered by the tree; a version-1 header copied back over an
// upgraded store is refused, with or without `upgrade`, and with an anchor a store whose tree was
// removed as well is refused too.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStorage } from '../storage/open.js';
import { passphrase, tempDir } from '../testing/keystore.js';
import { rawGet, rawPut, rejectsRollback, snapshot } from '../testing/rollback-attacks.js';
import {
  encodeJson,
  HEADER_KEY,
  parseHeader,
  SLOT_PREFIX,
  type SlotRecord,
  touchedSlot,
  unlockWith,
} from './keyslots.js';
import { Keystore } from './keystore.js';
import { MasterKeys } from './master-key.js';
import { TREE_PREFIX } from './tree.js';

const message = new TextEncoder().encode('invoice 12');

/** Rewrites a store into format 1 exactly as earlier builds left it (the test needs the master key). */
async function downgrade(url: string): Promise<void> {
  const raw = await openStorage(url);
  try {
    const header = parseHeader((await raw.get(HEADER_KEY))!.value);
    const { master } = await unlockWith(raw, header, passphrase());
    const keys = new MasterKeys(master, Buffer.from(header.id, 'base64url'));
    const v1 = { ...header, version: 1 as const };
    const ops = [{ op: 'put' as const, key: HEADER_KEY, value: encodeJson(v1) }];
    for (const record of await raw.list(SLOT_PREFIX)) {
      const slot = JSON.parse(Buffer.from(record.value).toString()) as SlotRecord;
      ops.push({
        op: 'put',
        key: record.key,
        value: encodeJson(touchedSlot(keys, v1, slot, slot.lastUsedAt)),
      });
    }
    const tree = (await raw.list(TREE_PREFIX)).map((r) => ({ op: 'delete' as const, key: r.key }));
    await raw.write([...ops, ...tree]);
    keys.wipe();
  } finally {
    await raw.close();
  }
}

async function formatOneStore() {
  const dir = tempDir('coffer-upgrade-');
  const url = `sqlite:${join(dir.path, 'store.db')}`;
  const ks = await Keystore.open({ store: url, protector: passphrase(), create: true });
  const signer = await ks.createKey({ app: 'books', purpose: 'invoices', algorithm: 'ed25519' });
  const sealer = await ks.createKey({ app: 'books', purpose: 'vault', algorithm: 'aes-256-gcm' });
  await ks.sign(signer.id, message);
  const sealed = await ks.seal(sealer.id, message);
  await ks.close();
  await downgrade(url);
  return { dir, url, signer, sealer, sealed };
}

test('a format-1 store is refused without upgrade, and nothing is written', async () => {
  const { dir, url } = await formatOneStore();
  try {
    const before = await snapshot(url);
    await assert.rejects(
      Keystore.open({ store: url, protector: passphrase() }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'EUNAVAIL');
        assert.match(e.message, /format 1 .*upgrade: true/);
        return true;
      },
    );
    assert.deepEqual(await snapshot(url), before);
  } finally {
    dir.remove();
  }
});

test('upgrade: true builds the tree; keys work, the log verifies, and rollbacks are caught from then on', async () => {
  const { dir, url, signer, sealer, sealed } = await formatOneStore();
  try {
    let ks = await Keystore.open({ store: url, protector: passphrase(), upgrade: true, cacheTtlMs: 0 });
    assert.equal(parseHeader(await rawGet(url, HEADER_KEY)).version, 2);
    assert.deepEqual(await ks.unseal(sealer.id, sealed), message);
    await ks.sign(signer.id, message);
    const report = await ks.verifyAudit();
    assert.ok(report.ok, report.problems.join('; '));
    assert.ok((await ks.auditTail(3)).some((e) => e.event === 'keystore.upgrade'));
    const meta = `keystore/books/invoices/${signer.id}/meta`;
    const beforeRevoke = await rawGet(url, meta);
    await ks.revoke(signer.id, 'upgrade test');
    await ks.close();
    // A later open needs no flag; a record put back is caught.
    ks = await Keystore.open({ store: url, protector: passphrase() });
    await rawPut(url, meta, beforeRevoke);
    await rejectsRollback(ks.sign(signer.id, message), 'record', meta);
    await ks.close();
  } finally {
    dir.remove();
  }
});

test('a version-1 header and keyslots copied back over an upgraded store are refused', async () => {
  const { dir, url } = await formatOneStore();
  const anchorDir = tempDir('coffer-upgrade-anchor-');
  try {
    const oldHeader = await rawGet(url, HEADER_KEY);
    const slotKeys = (await snapshot(url)).keys();
    const oldSlots = [...slotKeys].filter((k) => k.startsWith(SLOT_PREFIX));
    const slotValues = await Promise.all(oldSlots.map((k) => rawGet(url, k)));
    const anchor = { type: 'file' as const, path: join(anchorDir.path, 'anchor.json') };
    const ks = await Keystore.open({ store: url, protector: passphrase(), upgrade: true, anchor });
    await ks.close();
    const putBack = async () => {
      await rawPut(url, HEADER_KEY, oldHeader);
      for (const [i, key] of oldSlots.entries()) await rawPut(url, key, slotValues[i]!);
    };
    await putBack();
    await assert.rejects(Keystore.open({ store: url, protector: passphrase() }), { code: 'EUNAVAIL' });
    await rejectsRollback(
      Keystore.open({ store: url, protector: passphrase(), upgrade: true }),
      'record',
      HEADER_KEY,
    );
    // The tree removed as well: only the anchor remembers that this store was upgraded and enrolled.
    const raw = await openStorage(url);
    await raw.write((await raw.list(TREE_PREFIX)).map((r) => ({ op: 'delete' as const, key: r.key })));
    await raw.close();
    await rejectsRollback(
      Keystore.open({ store: url, protector: passphrase(), upgrade: true, anchor }),
      'anchor',
    );
  } finally {
    anchorDir.remove();
    dir.remove();
  }
});
