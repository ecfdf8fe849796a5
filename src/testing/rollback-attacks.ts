// The attacks of someone who can write the store's files or rows (SPEC §15), registered per backend by
// `exerciseRollbackAttacks(name, newStore)` from src/core/rollback-{sqlite,dir,postgres}.test.ts;
// `newStore()` returns the URL of a fresh, empty store location. The attacker works on the raw records
// through the storage API (exactly what writing the files or rows can do): put an older value of a
// record back, resurrect a removed one, delete one, truncate the audit log under an older head, flip a
// usage record, replace the whole store with an older copy. Each must be refused with EBADMSG and a
// message that says "rolled back" and names the record (SPEC §4.1, §4.2, §4.5, §8).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { authenticate, createToken, revokeToken } from '../access/tokens.js';
import { Keystore, type OpenOptions } from '../core/keystore.js';
import { RollbackError, type RollbackKind } from '../core/rollback.js';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';
import { passphrase, tempDir } from './keystore.js';

const enc = new TextEncoder();
const message = enc.encode('pay 10 EUR to Alice');

type Snapshot = Map<string, Uint8Array>;

/** Runs `fn` on a raw storage handle of `url` (the attacker's view: bytes, no keys). */
async function withRaw<T>(url: string, fn: (raw: Storage) => Promise<T>): Promise<T> {
  const raw = await openStorage(url);
  try {
    return await fn(raw);
  } finally {
    await raw.close();
  }
}

export function rawGet(url: string, key: string): Promise<Uint8Array> {
  return withRaw(url, async (raw) => {
    const record = await raw.get(key);
    assert.ok(record, `no record ${key}`);
    return Uint8Array.from(record.value);
  });
}

export function rawPut(url: string, key: string, value: Uint8Array): Promise<void> {
  return withRaw(url, async (raw) => {
    await raw.write([{ op: 'put', key, value }]);
  });
}

export function rawDelete(url: string, keys: string[]): Promise<void> {
  return withRaw(url, async (raw) => {
    await raw.write(keys.map((key) => ({ op: 'delete' as const, key })));
  });
}

/** Every record of the store: what a disk image or a database dump holds. */
export function snapshot(url: string): Promise<Snapshot> {
  return withRaw(
    url,
    async (raw) => new Map((await raw.list('')).map((r) => [r.key, Uint8Array.from(r.value)])),
  );
}

/** Makes the store hold exactly `snap` again (an older copy of everything put back). */
export function restore(url: string, snap: Snapshot): Promise<void> {
  return withRaw(url, async (raw) => {
    const ops = [
      ...(await raw.list(''))
        .filter((r) => !snap.has(r.key))
        .map((r) => ({ op: 'delete' as const, key: r.key })),
      ...[...snap].map(([key, value]) => ({ op: 'put' as const, key, value })),
    ];
    for (let i = 0; i < ops.length; i += 5000) await raw.write(ops.slice(i, i + 5000));
  });
}

/** Asserts a rollback refusal: EBADMSG, a RollbackError of `kind`, "rolled back" and the record named. */
export async function rejectsRollback(
  promise: Promise<unknown>,
  kind: RollbackKind,
  record?: string | RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    const e =
      (error as { cause?: unknown }).cause instanceof RollbackError
        ? (error as { cause: RollbackError }).cause
        : error;
    assert.ok(e instanceof RollbackError, `expected a RollbackError, got ${String(error)}`);
    assert.equal((error as { code?: string }).code, 'EBADMSG');
    assert.equal(e.rollback.kind, kind, String(error));
    assert.match((error as Error).message, /rolled back/);
    if (typeof record === 'string') {
      assert.equal(kind === 'anchor' ? e.rollback.anchor : e.rollback.record, record);
      assert.ok((error as Error).message.includes(record), `the message names ${record}`);
    } else if (record) assert.match(e.rollback.record ?? e.rollback.anchor ?? '', record);
    return true;
  });
}

const metaOf = (k: { app: string; purpose: string; id: string }) =>
  `keystore/${k.app}/${k.purpose}/${k.id}/meta`;

export function exerciseRollbackAttacks(name: string, newStore: () => Promise<string>): void {
  const open = async (url: string, extra: Partial<OpenOptions> = {}) =>
    Keystore.open({ store: url, protector: passphrase(), cacheTtlMs: 0, ...extra });

  test(`${name}: a key's metadata put back from before its revoke is refused (rolled back, named)`, async () => {
    const url = await newStore();
    let ks = await open(url, { create: true });
    const key = await ks.createKey({ app: 'pay', purpose: 'sign', algorithm: 'ed25519' });
    await ks.sign(key.id, message);
    const before = await rawGet(url, metaOf(key));
    await ks.revoke(key.id, 'leaked');
    // While the keystore is open: the next read of the metadata sees the replayed record.
    await rawPut(url, metaOf(key), before);
    await rejectsRollback(ks.getKey(key.id), 'record', metaOf(key));
    await rejectsRollback(ks.sign(key.id, message), 'record', metaOf(key));
    await ks.close();
    // And after a restart: the revoked key never signs again.
    ks = await open(url);
    await rejectsRollback(ks.sign(key.id, message), 'record', metaOf(key));
    await rejectsRollback(ks.getKey(key.id), 'record', metaOf(key));
    // Deleting the metadata instead is caught the same way (the tree still holds it).
    await rawDelete(url, [metaOf(key)]);
    await rejectsRollback(ks.getKey(key.id), 'record', metaOf(key));
    await ks.close();
  });

  test(`${name}: a revoked daemon token whose record is put back stays revoked`, async () => {
    const url = await newStore();
    const ks = await open(url, { create: true });
    const { id, token } = await createToken(ks, { apps: ['*'], ops: ['*'] });
    const record = `ext/daemon/tokens/${id}`;
    const saved = await rawGet(url, record);
    await authenticate(ks, token);
    await revokeToken(ks, id);
    await assert.rejects(authenticate(ks, token), { code: 'EPERM' });
    await rawPut(url, record, saved);
    await rejectsRollback(authenticate(ks, token), 'record', record);
    await ks.close();
  });

  test(`${name}: a removed keyslot copied back opens nothing`, async () => {
    const url = await newStore();
    const ks = await open(url, { create: true });
    const second = passphrase('a second passphrase, later removed');
    const slot = await ks.addProtector(second);
    const saved = await rawGet(url, `coffer/slots/${slot.id}`);
    await ks.removeProtector(slot.id);
    await ks.close();
    await rawPut(url, `coffer/slots/${slot.id}`, saved);
    await rejectsRollback(open(url, { protector: second }), 'record', `coffer/slots/${slot.id}`);
    // The remaining passphrase still opens the store; listing the slots reports the resurrected one.
    const still = await open(url);
    await rejectsRollback(still.listProtectors(), 'record', `coffer/slots/${slot.id}`);
    await still.close();
    // Same for the slot a passphrase change replaced.
    await rawDelete(url, [`coffer/slots/${slot.id}`]);
    const again = await open(url);
    const [first] = await again.listProtectors();
    const old = await rawGet(url, `coffer/slots/${first!.id}`);
    await again.changePassphrase('the new passphrase of this store', { kdf: passphrase().kdf! });
    await again.close();
    await rawPut(url, `coffer/slots/${first!.id}`, old);
    await rejectsRollback(open(url), 'record', `coffer/slots/${first!.id}`);
  });

  test(`${name}: audit log truncated under an older audit/head is reported`, async () => {
    const url = await newStore();
    const ks = await open(url, { create: true });
    await ks.createKey({ app: 'pay', purpose: 'log', algorithm: 'ed25519' });
    const { entries } = await ks.verifyAudit();
    const oldHead = await rawGet(url, 'audit/head');
    const key = await ks.createKey({ app: 'pay', purpose: 'log', algorithm: 'ed25519' });
    const beforeRevoke = await rawGet(url, metaOf(key));
    await ks.revoke(key.id, 'stolen laptop');
    const entry = (seq: number) => `audit/e/${String(seq).padStart(16, '0')}`;
    // Erase the revoke from history: its entries gone, the head and the key as they were before.
    await rawDelete(url, [entry(entries + 1), entry(entries + 2)]);
    await rawPut(url, 'audit/head', oldHead);
    await rawPut(url, metaOf(key), beforeRevoke);
    const report = await ks.verifyAudit();
    assert.equal(report.ok, false);
    assert.match(report.problems.join('\n'), /audit\/head was rolled back/);
    await rejectsRollback(ks.auditTail(5), 'record', 'audit/head');
    await rejectsRollback(ks.sign(key.id, message), 'record', metaOf(key));
    // The next change cannot append to the falsified log either.
    await rejectsRollback(
      ks.createKey({ app: 'pay', purpose: 'log', algorithm: 'ed25519' }),
      'record',
      'audit/head',
    );
    await ks.close();
  });

  test(`${name}: a damaged, older or deleted usage record makes the key's use count unknown, never zero`, async () => {
    const url = await newStore();
    let ks = await open(url, { create: true });
    const key = await ks.createKey({ app: 'pay', purpose: 'count', algorithm: 'ed25519' });
    await ks.sign(key.id, message);
    await ks.close(); // flushes the count
    const usage = `usage/${key.id}`;
    const once = await rawGet(url, usage);
    const flipped = Uint8Array.from(once);
    flipped[flipped.length - 3]! ^= 0x20;
    await rawPut(url, usage, flipped);
    ks = await open(url);
    // The operation is refused before it happens; verify (which counts nothing) still works.
    await assert.rejects(ks.sign(key.id, message), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'EBADMSG');
      assert.match(e.message, new RegExp(`use count of key ${key.id} is unknown`));
      assert.ok(e.message.includes(usage));
      return true;
    });
    await assert.rejects(ks.usage(key.id), { code: 'EBADMSG' });
    const { signature } = await (async () => {
      await ks.repairUsage(key.id, { 1: 7 }, 'counted from the operation audit');
      return ks.sign(key.id, message);
    })();
    assert.equal(await ks.verify(key.id, message, signature), true);
    assert.deepEqual(await ks.usage(key.id), { 1: 8 });
    assert.ok((await ks.auditTail(5)).some((e) => e.event === 'key.usage-repair'));
    await ks.close();
    // An older count put back (uses erased) is refused the same way.
    const eight = await rawGet(url, usage);
    ks = await open(url);
    await ks.sign(key.id, message);
    await ks.close();
    await rawPut(url, usage, eight);
    ks = await open(url);
    await rejectsRollback(ks.usage(key.id), 'record', usage);
    await assert.rejects(ks.sign(key.id, message), /use count of key .* is unknown/);
    await ks.close();
    // Damaged while a process is counting: its uses are kept and close() says how many could not be
    // recorded instead of dropping them.
    await rawPut(url, usage, eight);
    ks = await open(url);
    await ks.repairUsage(key.id, { 1: 9 }, 'after the replay');
    await ks.sign(key.id, message);
    await ks.sign(key.id, message);
    await rawPut(url, usage, flipped);
    await assert.rejects(ks.close(), /uses could not be recorded .* 2 of key/);
  });

  test(`${name}: a running keystore refuses an older copy of the whole store`, async () => {
    const url = await newStore();
    const ks = await open(url, { create: true });
    const key = await ks.createKey({ app: 'pay', purpose: 'image', algorithm: 'ed25519' });
    const before = await snapshot(url);
    await ks.revoke(key.id, 'compromised');
    await restore(url, before);
    await rejectsRollback(ks.getKey(key.id), 'store');
    await rejectsRollback(ks.sign(key.id, message), 'store');
    await ks.close().catch(() => {});
  });

  test(`${name}: whole-store copy put back is refused at unlock with a file anchor; acceptRollback is audited`, async () => {
    const url = await newStore();
    const dir = tempDir('coffer-anchor-');
    try {
      const anchor = { type: 'file' as const, path: join(dir.path, 'anchor.json') };
      let ks = await open(url, { create: true, anchor });
      const key = await ks.createKey({ app: 'pay', purpose: 'image', algorithm: 'ed25519' });
      const old = await snapshot(url);
      await ks.revoke(key.id, 'compromised');
      await ks.close();
      const current = await snapshot(url);
      await restore(url, old);
      await rejectsRollback(open(url, { anchor }), 'anchor', `file:${anchor.path}`);
      // Without the anchor nothing outside the store remembers (SPEC §4.2): it opens, and signs.
      ks = await open(url);
      await ks.sign(key.id, message);
      await ks.close();
      await restore(url, old);
      // The operator restores this copy on purpose: audited, and the anchor moves past every copy.
      ks = await open(url, { anchor, acceptRollback: 'restored the 02:00 image after the disk failed' });
      const accepted = (await ks.auditTail(3)).find((e) => e.event === 'store.rollback-accepted');
      assert.equal(accepted?.details?.reason, 'restored the 02:00 image after the disk failed');
      await ks.sign(key.id, message);
      await ks.close();
      await restore(url, current);
      await rejectsRollback(open(url, { anchor }), 'anchor');
    } finally {
      dir.remove();
    }
  });

  test(`${name}: a crash between the store write and the anchor advance raises no alarm`, async () => {
    const url = await newStore();
    const dir = tempDir('coffer-anchor-');
    try {
      const path = join(dir.path, 'anchor.json');
      const anchor = { type: 'file' as const, path };
      let ks = await open(url, { create: true, anchor });
      const key = await ks.createKey({ app: 'pay', purpose: 'crash', algorithm: 'ed25519' });
      const sealed = JSON.parse(readFileSync(path, 'utf8')).value as number;
      // The anchor cannot be written now (a directory stands where the file was): the revoke is
      // committed, its seal stops after step 1 of SPEC §4.2.
      renameSync(path, `${path}.away`);
      mkdirSync(path);
      const warned = new Promise<string>((resolve) => process.once('warning', (w) => resolve(w.message)));
      await ks.revoke(key.id, 'compromised');
      assert.match(await warned, /could not be advanced/);
      await ks.close();
      rmSync(path, { recursive: true });
      renameSync(`${path}.away`, path);
      // The store is one step ahead of its anchor: accepted, and the seal is completed here.
      ks = await open(url, { anchor });
      assert.equal(JSON.parse(readFileSync(path, 'utf8')).value, sealed + 1);
      await assert.rejects(ks.sign(key.id, message), { code: 'EKEYREVOKED' });
      await ks.close();
    } finally {
      dir.remove();
    }
  });
}
