// Backup and restore through the keystore (SPEC §11): round trips for every algorithm with both
// recipient types, proven by the restored keys' public keys and by opening what the originals made;
// tampering and wrong secrets leave the target untouched; incremental chains equal one full backup;
// selections, backupAllowed and the three restore modes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Keystore } from '../core/keystore.js';
import { encodePublicKeyString } from '../core/public-key-string.js';
import { KEY_ALGORITHMS, type KeyAlgorithm, type KeyInfo } from '../core/types.js';
import { CofferError, type ErrorCode } from '../errors.js';
import { FAST_KDF, tempDir, tempKeystore } from '../testing/keystore.js';
import { createBackup, inspectBackup, restoreBackup } from './index.js';

type Temp = Awaited<ReturnType<typeof tempKeystore>>;
const PASS = 'backup passphrase';
const open: Temp[] = [];
const dir = tempDir('coffer-backup-test-');

async function store(): Promise<Keystore> {
  const t = await tempKeystore();
  open.push(t);
  return t.ks;
}

after(async () => {
  for (const t of open) await t.cleanup().catch(() => {});
  dir.remove();
});

let n = 0;
const file = (name: string) => join(dir.path, `${name}-${++n}.cbk`);
const code = (expected: ErrorCode) => (error: unknown) =>
  error instanceof CofferError && error.code === expected;
const bytes = (text: string) => new TextEncoder().encode(text);

/** What the original key produced, to be opened or checked by the restored copy. */
interface Sample {
  id: string;
  algorithm: KeyAlgorithm;
  signature?: { signature: Uint8Array; version: number };
  sealed?: Uint8Array;
  mac?: Uint8Array;
  kem?: { ciphertext: Uint8Array; sharedSecret: Uint8Array };
}

async function sampleOf(ks: Keystore, info: KeyInfo): Promise<Sample> {
  const s: Sample = { id: info.id, algorithm: info.algorithm };
  if (info.state !== 'active') return s;
  if (info.uses.includes('sign')) s.signature = await ks.sign(info.id, bytes(`msg ${info.id}`));
  if (info.uses.includes('seal'))
    s.sealed = await ks.seal(info.id, bytes(`secret ${info.id}`), { aad: 'ctx' });
  if (info.uses.includes('mac')) s.mac = (await ks.mac(info.id, bytes(`mac ${info.id}`))).mac;
  if (info.algorithm === 'x-wing') s.kem = await ks.encapsulate(info.id);
  return s;
}

/** The restored key is the same key: metadata, every public key, and it opens the samples. */
async function assertSameKey(src: Keystore, dst: Keystore, sample: Sample): Promise<void> {
  const [a, b] = [await src.getKey(sample.id), await dst.getKey(sample.id)];
  assert.deepEqual(b, a, `metadata of ${sample.id}`);
  if (!['aes-256-gcm', 'xchacha20-poly1305', 'hmac-sha256'].includes(a.algorithm)) {
    // Destroyed versions keep no public key in the source either (keystore.destroy drops the record).
    for (const v of a.versions.filter((x) => x.state !== 'destroyed')) {
      assert.deepEqual(
        await dst.publicKey(sample.id, 'raw', { version: v.version }),
        await src.publicKey(sample.id, 'raw', { version: v.version }),
      );
    }
  }
  if (sample.signature) {
    const message = bytes(`msg ${sample.id}`);
    assert.equal(
      await dst.verify(sample.id, message, sample.signature.signature, { version: sample.signature.version }),
      true,
    );
    if (a.state === 'active') {
      const fresh = await dst.sign(sample.id, message);
      assert.equal(await src.verify(sample.id, message, fresh.signature, { version: fresh.version }), true);
    }
  }
  if (sample.sealed) {
    assert.deepEqual(
      await dst.unseal(sample.id, sample.sealed, { aad: 'ctx' }),
      bytes(`secret ${sample.id}`),
    );
  }
  if (sample.mac) assert.equal(await dst.verifyMac(sample.id, bytes(`mac ${sample.id}`), sample.mac), true);
  if (sample.kem)
    assert.deepEqual(await dst.decapsulate(sample.id, sample.kem.ciphertext), sample.kem.sharedSecret);
}

/** A store with one key of every algorithm, one rotated, one with a destroyed version, one suspended. */
async function populated(): Promise<{ ks: Keystore; samples: Sample[] }> {
  const ks = await store();
  const infos = await ks.createKeys(
    KEY_ALGORITHMS.map((algorithm) => ({ app: 'shop', purpose: 'main', algorithm })),
  );
  const byAlg = new Map(infos.map((k) => [k.algorithm, k.id]));
  const samples: Sample[] = [];
  // Samples from version 1 of two keys, taken before they rotate: restored copies must still open them.
  for (const alg of ['ed25519', 'aes-256-gcm'] as const)
    samples.push(await sampleOf(ks, await ks.getKey(byAlg.get(alg)!)));
  await ks.rotate(byAlg.get('ed25519')!);
  await ks.rotate(byAlg.get('aes-256-gcm')!);
  await ks.rotate(byAlg.get('ml-dsa-65')!);
  await ks.destroy(byAlg.get('ml-dsa-65')!, { version: 1 });
  for (const info of await ks.listKeys()) samples.push(await sampleOf(ks, info));
  await ks.suspend(byAlg.get('secp256k1')!);
  return { ks, samples };
}

async function stateOf(ks: Keystore): Promise<string> {
  const keys = (await ks.listKeys()).sort((a, b) => a.id.localeCompare(b.id));
  return JSON.stringify({ keys, generation: await ks.generation() });
}

describe('round trips (SPEC §11)', () => {
  let src: { ks: Keystore; samples: Sample[] };
  before(async () => {
    src = await populated();
  });

  test('passphrase: every algorithm, versions, states and old outputs survive', async () => {
    const out = file('full');
    const result = await createBackup(src.ks, { out, passphrase: PASS, kdf: FAST_KDF });
    assert.equal(result.kind, 'full');
    assert.equal(result.keyCount, KEY_ALGORITHMS.length);
    assert.equal(result.bytes, readFileSync(out).length);
    const info = await inspectBackup(out);
    assert.equal(info.kind, 'full');
    assert.equal(info.keyCount, KEY_ALGORITHMS.length);
    assert.equal(info.storeId, src.ks.id);
    assert.equal(info.generation, result.generation);
    assert.deepEqual(info.recipient, { type: 'passphrase', kdf: FAST_KDF });
    const dst = await store();
    const report = await restoreBackup(dst, out, { passphrase: PASS });
    assert.equal(report.restored.length, KEY_ALGORITHMS.length);
    assert.deepEqual(report.failed, []);
    for (const sample of src.samples) await assertSameKey(src.ks, dst, sample);
    assert.equal((await dst.getKey(src.samples[0]!.id)).versions.length, 2);
  });

  test('X-Wing recipient held in another keystore (object and coffer1 string forms)', async () => {
    const escrow = await store();
    const xw = await escrow.createKey({ app: 'escrow', purpose: 'backups', algorithm: 'x-wing' });
    const publicKey = (await escrow.publicKey(xw.id, 'raw')) as Uint8Array;
    const asString = `coffer1:xwing:${xw.id}:1:${Buffer.from(publicKey).toString('base64url')}`;
    // The string `coffer key public --format coffer` prints (SPEC §6, with its checksum) works too.
    const printed = encodePublicKeyString({ keyId: xw.id, version: 1, publicKey });
    const mistyped = `${printed.slice(0, -1)}${printed.endsWith('0') ? '1' : '0'}`;
    await assert.rejects(
      createBackup(src.ks, { out: file('xwing-bad'), recipient: mistyped }),
      code('EINVAL'),
    );
    for (const recipient of [{ keyId: xw.id, version: 1, publicKey }, asString, printed]) {
      const out = file('xwing');
      await createBackup(src.ks, { out, recipient });
      assert.deepEqual((await inspectBackup(out)).recipient, { type: 'x-wing', keyId: xw.id, version: 1 });
      const dst = await store();
      // The target does not hold the recipient key: say so, restore nothing.
      await assert.rejects(restoreBackup(dst, out), code('ENOENT'));
      await assert.rejects(restoreBackup(dst, out, { passphrase: PASS }), code('EINVAL'));
      assert.deepEqual(await dst.listKeys(), []);
      const report = await restoreBackup(dst, out, { identity: { keystore: escrow } });
      assert.equal(report.restored.length, KEY_ALGORITHMS.length);
      for (const sample of src.samples) await assertSameKey(src.ks, dst, sample);
    }
    // A PEM public key works too; a different X-Wing key of the same keystore cannot open it.
    const other = await escrow.createKey({ app: 'escrow', purpose: 'other', algorithm: 'x-wing' });
    const out = file('xwing-pem');
    await createBackup(src.ks, {
      out,
      recipient: { keyId: xw.id, version: 1, publicKey: (await escrow.publicKey(xw.id, 'pem')) as string },
    });
    await assert.rejects(
      restoreBackup(await store(), out, { identity: { keystore: escrow, keyId: other.id } }),
      code('EINVAL'),
    );
  });

  test('X-Wing recipient in the same keystore, named by id only; the restore needs nothing else', async () => {
    const ks = await store();
    const xw = await ks.createKey({ app: 'ops', purpose: 'backup', algorithm: 'x-wing' });
    const k = await ks.createKey({ app: 'ops', purpose: 'sign', algorithm: 'ed25519' });
    const out = file('self');
    await createBackup(ks, { out, recipient: { keyId: xw.id } });
    const report = await restoreBackup(ks, out, { mode: 'skip-existing' });
    assert.deepEqual(report.skipped.sort(), [xw.id, k.id].sort());
    await assert.rejects(createBackup(ks, { out: file('bad'), recipient: { keyId: k.id } }), code('EINVAL'));
  });

  test('a Writable output gives a restorable backup and is not ended', async () => {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    const result = await createBackup(src.ks, {
      out: stream,
      passphrase: PASS,
      kdf: FAST_KDF,
      chunkSize: 1024,
    });
    assert.equal(stream.writableEnded, false);
    const out = file('stream');
    writeFileSync(out, Buffer.concat(chunks));
    assert.equal(readFileSync(out).length, result.bytes);
    assert.ok((await inspectBackup(out)).chunks > 3);
    const dst = await store();
    await restoreBackup(dst, out, { passphrase: PASS });
    for (const sample of src.samples) await assertSameKey(src.ks, dst, sample);
  });
});

describe('damaged backups and wrong secrets restore nothing (EBADMSG)', () => {
  let out: string;
  let src: Keystore;
  before(async () => {
    src = (await populated()).ks;
    out = file('victim');
    await createBackup(src, { out, passphrase: PASS, kdf: FAST_KDF, chunkSize: 1024 });
  });

  async function assertRefused(damaged: Uint8Array, expected: ErrorCode = 'EBADMSG', passphrase = PASS) {
    const path = file('damaged');
    writeFileSync(path, damaged);
    const dst = await store();
    await dst.createKey({ app: 'keep', purpose: 'me', algorithm: 'ed25519' });
    const before = await stateOf(dst);
    await assert.rejects(restoreBackup(dst, path, { passphrase, mode: 'overwrite' }), code(expected));
    assert.equal(await stateOf(dst), before);
  }

  const rechecksum = (data: Uint8Array) => {
    const body = data.subarray(0, data.length - 32);
    return Buffer.concat([body, createHash('sha256').update(body).digest()]);
  };

  test('a flipped byte in header, wrapped key, any chunk or checksum', async () => {
    const original = readFileSync(out);
    const headerEnd = 13 + original.readUInt32BE(9);
    const positions = [
      3,
      20,
      headerEnd - 5,
      headerEnd,
      headerEnd + 1500,
      original.length - 40,
      original.length - 1,
    ];
    for (const i of positions) {
      const copy = Uint8Array.from(original);
      copy[i]! ^= 0x55;
      await assertRefused(copy);
      if (i < original.length - 32) await assertRefused(rechecksum(copy));
    }
  });

  test('truncated, reordered chunks, wrong passphrase', async () => {
    const original = readFileSync(out);
    await assertRefused(original.subarray(0, original.length - 1));
    await assertRefused(
      rechecksum(Buffer.concat([original.subarray(0, original.length - 500), Buffer.alloc(32)])),
    );
    const headerEnd = 13 + original.readUInt32BE(9);
    const c0 = original.subarray(headerEnd, headerEnd + 1040);
    const c1 = original.subarray(headerEnd + 1040, headerEnd + 2080);
    const swapped = Buffer.concat([
      original.subarray(0, headerEnd),
      c1,
      c0,
      original.subarray(headerEnd + 2080),
    ]);
    await assertRefused(rechecksum(swapped));
    await assertRefused(original, 'EBADMSG', 'not the passphrase');
  });
});

describe('incremental backups (SPEC §11.5)', () => {
  test('full + two incrementals restore to the same state as one full backup', async () => {
    const src = await store();
    const a = await src.createKeys([
      { app: 'a', purpose: 'p', algorithm: 'ed25519' },
      { app: 'a', purpose: 'p', algorithm: 'aes-256-gcm' },
      { app: 'a', purpose: 'q', algorithm: 'x-wing' },
    ]);
    const full = file('base');
    const r0 = await createBackup(src, { out: full, passphrase: PASS, kdf: FAST_KDF });
    const b = await src.createKey({ app: 'b', purpose: 'p', algorithm: 'ml-dsa-65' });
    await src.rotate(a[1]!.id);
    const inc1 = file('inc1');
    const r1 = await createBackup(src, { out: inc1, passphrase: PASS, kdf: FAST_KDF, since: full });
    assert.equal(r1.kind, 'incremental');
    assert.equal(r1.baseGeneration, r0.generation);
    assert.deepEqual((await inspectBackup(inc1)).baseBackupId, r0.backupId);
    assert.equal(r1.keyCount, 2);
    await src.revoke(a[0]!.id, 'lost laptop');
    const c = await src.createKey({ app: 'c', purpose: 'p', algorithm: 'hmac-sha256' });
    await src.destroy(b.id, { reason: 'retired' });
    const inc2 = file('inc2');
    const r2 = await createBackup(src, { out: inc2, passphrase: PASS, kdf: FAST_KDF, since: r1.generation });
    assert.equal(r2.keyCount, 3);
    const whole = file('whole');
    await createBackup(src, { out: whole, passphrase: PASS, kdf: FAST_KDF });

    const chained = await store();
    const oneShot = await store();
    await restoreBackup(chained, full, { passphrase: PASS });
    await restoreBackup(chained, inc1, { passphrase: PASS });
    const last = await restoreBackup(chained, inc2, { passphrase: PASS });
    assert.equal(last.mode, 'overwrite');
    await restoreBackup(oneShot, whole, { passphrase: PASS });
    const list = async (ks: Keystore) => (await ks.listKeys()).sort((x, y) => x.id.localeCompare(y.id));
    assert.deepEqual(await list(chained), await list(oneShot));
    assert.deepEqual(await list(chained), await list(src));
    const sealed = await src.seal(a[1]!.id, bytes('v2 data'));
    const mac = await src.mac(c.id, bytes('m'));
    const kemOut = await src.encapsulate(a[2]!.id);
    for (const ks of [chained, oneShot]) {
      assert.deepEqual(await ks.unseal(a[1]!.id, sealed), bytes('v2 data'));
      assert.equal(await ks.verifyMac(c.id, bytes('m'), mac.mac), true);
      assert.deepEqual(await ks.decapsulate(a[2]!.id, kemOut.ciphertext), kemOut.sharedSecret);
      assert.deepEqual(await ks.publicKey(a[0]!.id, 'pem'), await src.publicKey(a[0]!.id, 'pem'));
      await assert.rejects(ks.sign(a[0]!.id, bytes('x')), code('EKEYREVOKED'));
    }
  });

  test('an incremental without its base is refused (ENOENT), naming what is missing; nothing restored', async () => {
    const src = await store();
    const k1 = await src.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519' });
    const g = await src.generation();
    await src.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519' });
    const inc = file('orphan');
    await createBackup(src, { out: inc, passphrase: PASS, kdf: FAST_KDF, since: g });
    const dst = await store();
    await assert.rejects(restoreBackup(dst, inc, { passphrase: PASS }), (error: unknown) => {
      assert.ok(error instanceof CofferError && error.code === 'ENOENT');
      assert.match(error.message, new RegExp(`needs from its base.*${k1.id}.*restore the base backup first`));
      return true;
    });
    assert.deepEqual(await dst.listKeys(), []);
    await assert.rejects(
      createBackup(src, { out: file('x'), passphrase: PASS, since: g + 100 }),
      code('EINVAL'),
    );
    const foreign = await store();
    await assert.rejects(
      createBackup(foreign, { out: file('x'), passphrase: PASS, since: inc }),
      code('EINVAL'),
    );
  });
});

describe('selection and policy', () => {
  test('selective by app, by app and purpose, by key ids; backupAllowed: false stays out', async () => {
    const src = await store();
    const keys = await src.createKeys([
      { app: 'a', purpose: 'p', algorithm: 'ed25519' },
      { app: 'a', purpose: 'q', algorithm: 'ed25519' },
      { app: 'b', purpose: 'p', algorithm: 'aes-256-gcm' },
      { app: 'a', purpose: 'p', algorithm: 'ed25519', backupAllowed: false },
    ]);
    const restoredIds = async (options: Parameters<typeof createBackup>[1]) => {
      const out = file('sel');
      const result = await createBackup(src, { ...options, out });
      const dst = await store();
      const report = await restoreBackup(dst, out, { passphrase: PASS });
      assert.equal(report.restored.length, result.keyCount);
      return {
        kind: result.kind,
        ids: (await dst.listKeys()).map((k) => k.id).sort(),
        info: await inspectBackup(out),
      };
    };
    const base = { passphrase: PASS, kdf: FAST_KDF, out: '' };
    const all = await restoredIds(base);
    assert.equal(all.kind, 'full');
    assert.deepEqual(
      all.ids,
      keys
        .slice(0, 3)
        .map((k) => k.id)
        .sort(),
    );
    const byApp = await restoredIds({ ...base, app: 'a' });
    assert.equal(byApp.kind, 'selective');
    assert.deepEqual(byApp.info.selection, { app: 'a' });
    assert.deepEqual(byApp.ids, [keys[0]!.id, keys[1]!.id].sort());
    assert.deepEqual((await restoredIds({ ...base, app: 'a', purpose: 'p' })).ids, [keys[0]!.id]);
    const byIds = await restoredIds({ ...base, keyIds: [keys[2]!.id, keys[3]!.id] });
    assert.deepEqual(byIds.ids, [keys[2]!.id]);
    assert.deepEqual(byIds.info.selection, { keys: 2 });
    // An incremental does not depend on the excluded key, so it restores onto the selective base.
    const g = await src.generation();
    await src.rotate(keys[0]!.id);
    const inc = file('inc');
    await createBackup(src, { ...base, out: inc, since: g, app: 'a' });
    const dst = await store();
    const baseFile = file('base');
    await createBackup(src, { ...base, out: baseFile, app: 'a' });
    await restoreBackup(dst, baseFile, { passphrase: PASS });
    await restoreBackup(dst, inc, { passphrase: PASS });
    assert.equal((await dst.getKey(keys[0]!.id)).versions.length, 2);
  });

  test('restore modes: fail (nothing written), skip-existing, overwrite', async () => {
    const src = await store();
    const [k1, k2] = await src.createKeys([
      { app: 'm', purpose: 'p', algorithm: 'ed25519' },
      { app: 'm', purpose: 'p', algorithm: 'ecdsa-p256' },
    ]);
    const first = file('one');
    await createBackup(src, { out: first, passphrase: PASS, kdf: FAST_KDF, keyIds: [k1!.id] });
    const out = file('both');
    await createBackup(src, { out, passphrase: PASS, kdf: FAST_KDF });
    const dst = await store();
    await restoreBackup(dst, first, { passphrase: PASS });
    await dst.revoke(k1!.id, 'test: diverged in the target');
    const before = await stateOf(dst);
    await assert.rejects(restoreBackup(dst, out, { passphrase: PASS }), code('EALREADY'));
    assert.equal(await stateOf(dst), before);
    const skip = await restoreBackup(dst, out, { passphrase: PASS, mode: 'skip-existing' });
    assert.deepEqual(skip.skipped, [k1!.id]);
    assert.deepEqual(skip.restored, [k2!.id]);
    assert.equal((await dst.getKey(k1!.id)).state, 'compromised');
    const over = await restoreBackup(dst, out, { passphrase: PASS, mode: 'overwrite' });
    assert.deepEqual(over.restored.sort(), [k1!.id, k2!.id].sort());
    assert.equal((await dst.getKey(k1!.id)).state, 'active');
    assert.deepEqual(await dst.getKey(k1!.id), await src.getKey(k1!.id));
  });
});

describe('argument validation happens before any work', () => {
  test('createBackup', async () => {
    const ks = await store();
    const out = file('never');
    const bad: Array<Record<string, unknown>> = [
      { out },
      { out, passphrase: PASS, recipient: 'coffer1:xwing:k_aaaaaaaaaaaaaaaaaaaaaaaaaa:1:AA' },
      { out: '', passphrase: PASS },
      { out, passphrase: '' },
      { out, passphrase: PASS, app: 'Bad App' },
      { out, passphrase: PASS, keyIds: [] },
      { out, passphrase: PASS, keyIds: ['nope'] },
      { out, passphrase: PASS, since: -1 },
      { out, passphrase: PASS, chunkSize: 1000 },
      { out, passphrase: PASS, kdf: { alg: 'argon2id', memoryKiB: 1024, iterations: 1, parallelism: 1 } },
      { out, recipient: 'not a key' },
      { out, recipient: { keyId: 'k_aaaaaaaaaaaaaaaaaaaaaaaaaa', publicKey: new Uint8Array(1216) } },
      { out, passphrase: PASS, onProgress: 5 },
    ];
    for (const options of bad) {
      await assert.rejects(createBackup(ks, options as never), code('EINVAL'), JSON.stringify(options));
    }
    assert.equal(existsSync(out), false);
  });

  test('restoreBackup', async () => {
    const ks = await store();
    const out = file('ok');
    await createBackup(ks, { out, passphrase: PASS, kdf: FAST_KDF });
    await assert.rejects(
      restoreBackup(ks, join(dir.path, 'missing.cbk'), { passphrase: PASS }),
      code('ENOENT'),
    );
    await assert.rejects(restoreBackup(ks, out), code('EINVAL'));
    await assert.rejects(
      restoreBackup(ks, out, { passphrase: PASS, mode: 'merge' as never }),
      code('EINVAL'),
    );
    await assert.rejects(restoreBackup(ks, dir.path, { passphrase: PASS }), code('EINVAL'));
    await assert.rejects(restoreBackup({} as never, out, { passphrase: PASS }), code('EINVAL'));
    const junk = file('junk');
    writeFileSync(junk, 'hello, not a backup');
    await assert.rejects(inspectBackup(junk), code('EBADMSG'));
  });
});
