// Reliability (keystore issue, proofs 2 and 3): flipping any single byte of any stored record makes
// the read that uses it fail with EBADMSG — never a wrong result — over every byte of a small store,
// the record tree's root and nodes included (SPEC §4.1); and a wrapped key record copied onto another
// key id, app or version fails to decrypt.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';
import { passphrase, tempKeystore } from '../testing/keystore.js';
import { Keystore } from './keystore.js';
import { unwrapSecret, wrapSecret } from './material.js';

const enc = new TextEncoder();

async function smallStore() {
  const fixture = await tempKeystore({ cacheTtlMs: 0 });
  const { ks } = fixture;
  const signer = await ks.createKey({ app: 'shop', purpose: 'orders', algorithm: 'ed25519' });
  const sealer = await ks.createKey({ app: 'shop', purpose: 'vault', algorithm: 'aes-256-gcm' });
  const { signature } = await ks.sign(signer.id, enc.encode('order 1'));
  const sealed = await ks.seal(sealer.id, enc.encode('card 4111'));
  await ks.lock(); // flushes usage counts so that record exists too
  await ks.unlock(passphrase());
  return { ...fixture, signer, sealer, signature, sealed };
}

type Fixture = Awaited<ReturnType<typeof smallStore>>;

/** Reads everything through the keystore; returns normally only if every result is right. */
async function probe(ks: Keystore, f: Fixture): Promise<void> {
  ks.dropCaches();
  for (const id of [f.signer.id, f.sealer.id]) {
    const info = await ks.getKey(id);
    assert.equal(info.id, id);
    await ks.usage(id);
  }
  assert.equal(await ks.verify(f.signer.id, enc.encode('order 1'), f.signature), true);
  assert.equal((await ks.sign(f.signer.id, enc.encode('x'))).version, 1);
  assert.deepEqual(await ks.unseal(f.sealer.id, f.sealed), enc.encode('card 4111'));
  assert.equal((await ks.listKeys({ app: 'shop' })).length, 2);
  const report = await ks.verifyAudit();
  if (!report.ok) throw new CofferError('EBADMSG', report.problems.join('; '));
}

async function flipEach(
  storage: Storage,
  key: string,
  check: () => Promise<void>,
  every = 1,
): Promise<number> {
  const original = (await storage.get(key))!.value;
  let flips = 0;
  for (let i = 0; i < original.length; i += i < 2 ? 1 : every) {
    const bad = Uint8Array.from(original);
    bad[i]! ^= 0x01;
    await storage.write([{ op: 'put', key, value: bad }]);
    await check();
    flips++;
  }
  await storage.write([{ op: 'put', key, value: original }]);
  return flips;
}

test('every byte of every barrier record: a flip gives EBADMSG, never a wrong result', async () => {
  const f = await smallStore();
  const storage = await openStorage(f.url);
  let flips = 0;
  const keys = (await storage.list('')).map((r) => r.key).filter((k) => !k.startsWith('coffer/'));
  assert.ok(keys.length >= 10, `small store has ${keys.length} records`);
  for (const key of keys) {
    flips += await flipEach(storage, key, async () => {
      await assert.rejects(probe(f.ks, f), (error: unknown) => {
        assert.ok(error instanceof CofferError && error.code === 'EBADMSG', `${key}: ${String(error)}`);
        return true;
      });
    });
  }
  // The tree: every byte of the MAC'd root; of the nodes (positions and hashes, all checked the same
  // way) the type and size bytes and every 7th byte after them.
  const treeKeys = (await storage.list('coffer/tree/')).map((r) => r.key);
  assert.ok(treeKeys.includes('coffer/tree/root') && treeKeys.length >= 2, treeKeys.join(', '));
  for (const key of treeKeys) {
    flips += await flipEach(
      storage,
      key,
      async () => {
        await assert.rejects(probe(f.ks, f), (error: unknown) => {
          assert.ok(error instanceof CofferError && error.code === 'EBADMSG', `${key}: ${String(error)}`);
          return true;
        });
      },
      key === 'coffer/tree/root' ? 1 : 7,
    );
  }
  await probe(f.ks, f); // restored store is whole again
  assert.ok(flips > 3000, `${flips} flips`);
  await storage.close();
  await f.cleanup();
});

test('every byte of the header and the keyslot: opening fails (EBADMSG, or ELOCKED where AEAD cannot tell a bad salt from a bad passphrase)', async () => {
  const f = await smallStore();
  await f.ks.close();
  const storage = await openStorage(f.url);
  const slotKeys = (await storage.list('coffer/'))
    .map((r) => r.key)
    .filter((k) => k === 'coffer/header' || k.startsWith('coffer/slots/'));
  assert.equal(slotKeys.length, 2);
  const seen = new Set<string>();
  for (const key of slotKeys) {
    await flipEach(storage, key, async () => {
      const result = await Keystore.open({ store: f.url, protector: passphrase() }).then(
        async (ks) => {
          await ks.close();
          return 'opened';
        },
        (error: unknown) => (error instanceof CofferError ? error.code : String(error)),
      );
      seen.add(result);
      assert.ok(['EBADMSG', 'ELOCKED'].includes(result), `${key}: ${result}`);
    });
  }
  assert.ok(seen.has('EBADMSG') && seen.has('ELOCKED'));
  await storage.close();
  const whole = await Keystore.open({ store: f.url, protector: passphrase() });
  await probe(whole, f);
  await whole.close();
  f.dir.remove();
});

test('records moved between keys, apps or versions fail to decrypt', async () => {
  const fixture = await tempKeystore({ cacheTtlMs: 0 });
  const { ks, url } = fixture;
  const a = await ks.createKey({ app: 'one', purpose: 'p', algorithm: 'ed25519' });
  const b = await ks.createKey({ app: 'one', purpose: 'p', algorithm: 'ed25519' });
  const c = await ks.createKey({ app: 'two', purpose: 'p', algorithm: 'ed25519' });
  await ks.rotate(a.id);
  const storage = await openStorage(url);
  const path = (k: { app: string; purpose: string; id: string }, v: number) =>
    `keystore/${k.app}/${k.purpose}/${k.id}/v/${v}`;
  const moves: [string, string, string][] = [
    [path(a, 1), path(b, 1), b.id],
    [path(a, 1), path(c, 1), c.id],
    [path(a, 1), path(a, 2), a.id],
    [`keystore/one/p/${a.id}/meta`, `keystore/one/p/${b.id}/meta`, b.id],
  ];
  for (const [from, to, victim] of moves) {
    const original = (await storage.get(to))!.value;
    await storage.write([{ op: 'put', key: to, value: (await storage.get(from))!.value }]);
    ks.dropCaches();
    await assert.rejects(
      (async () => {
        await ks.getKey(victim);
        await ks.sign(victim, enc.encode('m'));
      })(),
      { code: 'EBADMSG' },
      `${from} → ${to}`,
    );
    await storage.write([{ op: 'put', key: to, value: original }]);
  }
  await storage.close();
  await fixture.cleanup();
});

test('the key-wrap AAD binds app, purpose, key id, version and algorithm (inner layer alone)', () => {
  const kek = systemRng.randomBytes(32);
  const ctx = {
    app: 'a',
    purpose: 'p',
    keyId: 'k_aaaaaaaaaaaaaaaaaaaaaaaaaa',
    version: 1,
    algorithm: 'ed25519' as const,
  };
  const wrapped = wrapSecret(kek, enc.encode('secret seed bytes 32 long.......'), ctx, systemRng);
  assert.deepEqual(unwrapSecret(kek, wrapped, ctx), enc.encode('secret seed bytes 32 long.......'));
  for (const change of [
    { app: 'b' },
    { purpose: 'q' },
    { keyId: 'k_baaaaaaaaaaaaaaaaaaaaaaaaa' },
    { version: 2 },
    { algorithm: 'ecdsa-p256' as const },
  ]) {
    assert.throws(() => unwrapSecret(kek, wrapped, { ...ctx, ...change }), { code: 'EBADMSG' });
  }
});
