// The Keystore API of SPEC §2 end to end on the default backend: every algorithm's operations,
// bounds and error codes, and proof that a rejected call changes nothing stored.
import assert from 'node:assert/strict';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { openStorage } from '../storage/open.js';
import { passphrase, tempKeystore } from '../testing/keystore.js';
import { Keystore, MAX_CREATE_BATCH } from './keystore.js';
import type { KeyAlgorithm } from './types.js';

const enc = new TextEncoder();
const message = enc.encode('pay 10 EUR to Alice');

async function snapshot(url: string): Promise<Map<string, string>> {
  const storage = await openStorage(url);
  try {
    const all = new Map<string, string>();
    for (const record of await storage.list(''))
      all.set(record.key, `${record.revision}:${Buffer.from(record.value).toString('hex')}`);
    return all;
  } finally {
    await storage.close();
  }
}

describe('Keystore on sqlite', () => {
  let fixture: Awaited<ReturnType<typeof tempKeystore>>;
  before(async () => {
    fixture = await tempKeystore();
  });
  after(async () => {
    await fixture.cleanup();
  });

  for (const algorithm of ['ed25519', 'ecdsa-p256', 'secp256k1', 'ml-dsa-65'] as KeyAlgorithm[]) {
    test(`${algorithm}: sign returns { signature, version } and verify accepts only the right message`, async () => {
      const { ks } = fixture;
      const key = await ks.createKey({ app: 'billing', purpose: 'invoices', algorithm });
      assert.match(key.id, /^k_[a-z2-7]{26}$/);
      const { signature, version } = await ks.sign(key.id, message);
      assert.equal(version, 1);
      assert.equal(await ks.verify(key.id, message, signature), true);
      assert.equal(await ks.verify(key.id, enc.encode('pay 1000 EUR to Mallory'), signature), false);
      const bad = Uint8Array.from(signature);
      bad[0]! ^= 1;
      assert.equal(await ks.verify(key.id, message, bad), false);
      assert.equal(await ks.verify(key.id, message, new Uint8Array(3)), false);
    });
  }

  test('ed25519 and P-256 signatures verify with node:crypto from the exported SPKI PEM', async () => {
    const { ks } = fixture;
    const ed = await ks.createKey({ app: 'billing', purpose: 'pem', algorithm: 'ed25519' });
    const p256 = await ks.createKey({ app: 'billing', purpose: 'pem', algorithm: 'ecdsa-p256' });
    const edPem = (await ks.publicKey(ed.id, 'pem')) as string;
    const pPem = (await ks.publicKey(p256.id, 'pem')) as string;
    assert.ok(nodeVerify(null, message, createPublicKey(edPem), (await ks.sign(ed.id, message)).signature));
    const der = (await ks.sign(p256.id, message, { encoding: 'der' })).signature;
    assert.ok(nodeVerify('sha256', message, createPublicKey(pPem), der));
    assert.equal(await ks.verify(p256.id, message, der, { encoding: 'der' }), true);
    const raw = (await ks.sign(p256.id, message)).signature;
    assert.equal(raw.length, 64);
    assert.ok(nodeVerify('sha256', message, { key: createPublicKey(pPem), dsaEncoding: 'ieee-p1363' }, raw));
  });

  for (const algorithm of ['aes-256-gcm', 'xchacha20-poly1305', 'x-wing'] as KeyAlgorithm[]) {
    test(`${algorithm}: seal/unseal with AAD; wrong AAD, other key, or any flipped byte → EBADMSG`, async () => {
      const { ks } = fixture;
      const key = await ks.createKey({ app: 'vault', purpose: 'secrets', algorithm });
      const other = await ks.createKey({ app: 'vault', purpose: 'secrets', algorithm });
      const plaintext = enc.encode('the launch code is 0000');
      const sealed = await ks.seal(key.id, plaintext, { aad: 'user=42' });
      assert.deepEqual(await ks.unseal(key.id, sealed, { aad: 'user=42' }), plaintext);
      await assert.rejects(ks.unseal(key.id, sealed, { aad: 'user=43' }), { code: 'EBADMSG' });
      await assert.rejects(ks.unseal(key.id, sealed), { code: 'EBADMSG' });
      await assert.rejects(ks.unseal(other.id, sealed, { aad: 'user=42' }), { code: 'EBADMSG' });
      for (const index of [0, 1, 2, 5, 19, 22, 23, 40, sealed.length - 1]) {
        const bad = Uint8Array.from(sealed);
        bad[index]! ^= 0x10;
        await assert.rejects(ks.unseal(key.id, bad, { aad: 'user=42' }), (e: { code?: string }) =>
          ['EBADMSG', 'ENOENT'].includes(e.code ?? ''),
        );
      }
      await assert.rejects(ks.unseal(key.id, sealed.subarray(0, 30), { aad: 'user=42' }), {
        code: 'EBADMSG',
      });
    });
  }

  test('x-wing: encapsulate/decapsulate agree; data keys; rewrap moves a blob to the primary version', async () => {
    const { ks } = fixture;
    const kemKey = await ks.createKey({ app: 'vault', purpose: 'kem', algorithm: 'x-wing' });
    const { ciphertext, sharedSecret, version } = await ks.encapsulate(kemKey.id);
    assert.equal(version, 1);
    assert.deepEqual(await ks.decapsulate(kemKey.id, ciphertext), sharedSecret);

    const aes = await ks.createKey({ app: 'vault', purpose: 'data', algorithm: 'aes-256-gcm' });
    const dk = await ks.generateDataKey(aes.id, { includePlaintext: true });
    assert.equal(dk.plaintext?.length, 32);
    assert.deepEqual(await ks.unseal(aes.id, dk.wrapped), dk.plaintext);
    const wrappedOnly = await ks.generateDataKey(aes.id);
    assert.equal(wrappedOnly.plaintext, undefined);

    const old = await ks.seal(aes.id, enc.encode('v1 data'));
    await ks.rotate(aes.id);
    const moved = await ks.rewrap(aes.id, old);
    assert.equal(new DataView(moved.buffer, moved.byteOffset).getUint32(19), 2);
    assert.deepEqual(await ks.unseal(aes.id, moved), enc.encode('v1 data'));
  });

  test('hmac-sha256: mac and verifyMac', async () => {
    const { ks } = fixture;
    const key = await ks.createKey({ app: 'api', purpose: 'webhooks', algorithm: 'hmac-sha256' });
    const { mac, version } = await ks.mac(key.id, message);
    assert.equal(mac.length, 32);
    assert.equal(version, 1);
    assert.equal(await ks.verifyMac(key.id, message, mac), true);
    assert.equal(await ks.verifyMac(key.id, enc.encode('x'), mac), false);
  });

  test('bad input gets the right code: names, algorithm, uses, missing key, sizes', async () => {
    const { ks } = fixture;
    await assert.rejects(ks.createKey({ app: 'Billing', purpose: 'p', algorithm: 'ed25519' }), {
      code: 'EINVAL',
    });
    await assert.rejects(ks.createKey({ app: 'a', purpose: '-p', algorithm: 'ed25519' }), { code: 'EINVAL' });
    await assert.rejects(ks.createKey({ app: 'a'.repeat(65), purpose: 'p', algorithm: 'ed25519' }), {
      code: 'EINVAL',
    });
    await assert.rejects(ks.createKey({ app: 'a', purpose: 'p', algorithm: 'rsa-2048' as KeyAlgorithm }), {
      code: 'EINVAL',
    });
    await assert.rejects(ks.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519', uses: ['seal'] }), {
      code: 'EINVAL',
    });
    const labels = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`l${i}`, 'x']));
    await assert.rejects(ks.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519', labels }), {
      code: 'E2BIG',
    });
    await assert.rejects(
      ks.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519', labels: { note: 'x'.repeat(257) } }),
      { code: 'E2BIG' },
    );

    const verifyOnly = await ks.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519', uses: ['verify'] });
    await assert.rejects(ks.sign(verifyOnly.id, message), { code: 'EPERM' });
    const signer = await ks.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519' });
    await assert.rejects(ks.seal(signer.id, message), { code: 'EPERM' });
    await assert.rejects(ks.sign('k_aaaaaaaaaaaaaaaaaaaaaaaaaa', message), { code: 'ENOENT' });
    await assert.rejects(ks.sign('not-an-id', message), { code: 'EINVAL' });
    await assert.rejects(ks.sign(signer.id, new Uint8Array((1 << 20) + 1)), { code: 'E2BIG' });
    await assert.rejects(ks.sign(signer.id, 'text' as unknown as Uint8Array), { code: 'EINVAL' });
    const aes = await ks.createKey({ app: 'a', purpose: 'p', algorithm: 'aes-256-gcm' });
    await assert.rejects(ks.seal(aes.id, new Uint8Array((16 << 20) + 1)), { code: 'E2BIG' });
    await assert.rejects(ks.publicKey(aes.id, 'pem'), { code: 'EINVAL' });
    await assert.rejects(ks.sign(signer.id, message, { encoding: 'der' }), { code: 'EINVAL' });
    const tooMany = Array.from({ length: MAX_CREATE_BATCH + 1 }, () => ({
      app: 'a',
      purpose: 'p',
      algorithm: 'ed25519' as const,
    }));
    await assert.rejects(ks.createKeys(tooMany), { code: 'E2BIG' });
    await assert.rejects(ks.createKeys([]), { code: 'EINVAL' });
  });

  test('createKeys of MAX_CREATE_BATCH keys commits on a store of any size (SPEC §9.1)', async () => {
    // From 6 000 keys on, a batch of 2 000 changes over 2 000 record tree nodes besides its 8 001 ops;
    // they are counted apart from the caller's, so every batch fits however large the store grows.
    const { ks, cleanup } = await tempKeystore();
    try {
      const spec = (i: number) => ({
        app: `app${i % 7}`,
        purpose: 'bulk',
        algorithm: 'aes-256-gcm' as const,
      });
      for (let round = 0; round < 4; round++) {
        const made = await ks.createKeys(Array.from({ length: MAX_CREATE_BATCH }, (_, i) => spec(i)));
        assert.equal(made.length, MAX_CREATE_BATCH);
      }
      assert.equal((await ks.listKeys({ app: 'app0' })).length, 4 * Math.ceil(MAX_CREATE_BATCH / 7));
    } finally {
      await cleanup();
    }
  });

  test('a rejected call changes nothing stored', async () => {
    const { ks, url } = fixture;
    const key = await ks.createKey({ app: 'a', purpose: 'frozen', algorithm: 'ed25519' });
    await ks.revoke(key.id, 'leaked in a log');
    const before = await snapshot(url);
    await assert.rejects(ks.createKey({ app: 'BAD', purpose: 'p', algorithm: 'ed25519' }), {
      code: 'EINVAL',
    });
    await assert.rejects(ks.sign(key.id, message), { code: 'EKEYREVOKED' });
    await assert.rejects(ks.rotate(key.id), { code: 'EKEYREVOKED' });
    await assert.rejects(ks.suspend(key.id), { code: 'EKEYREVOKED' });
    await assert.rejects(ks.revoke(key.id, 'again'), { code: 'EALREADY' });
    await assert.rejects(ks.revoke(key.id, ''), { code: 'EINVAL' });
    assert.deepEqual(await snapshot(url), before);
  });

  test('listKeys filters by app and purpose', async () => {
    const { ks } = fixture;
    await ks.createKeys([
      { app: 'listing', purpose: 'one', algorithm: 'ed25519' },
      { app: 'listing', purpose: 'one', algorithm: 'aes-256-gcm' },
      { app: 'listing', purpose: 'two', algorithm: 'hmac-sha256' },
    ]);
    assert.equal((await ks.listKeys({ app: 'listing' })).length, 3);
    assert.equal((await ks.listKeys({ app: 'listing', purpose: 'one' })).length, 2);
    assert.equal((await ks.listKeys({ app: 'nobody' })).length, 0);
    await assert.rejects(ks.listKeys({ purpose: 'one' }), { code: 'EINVAL' });
  });
});

describe('opening and keyslots', () => {
  test('reopen with the passphrase; a wrong one is ELOCKED and modifies nothing', async () => {
    const { ks, url, dir } = await tempKeystore();
    const key = await ks.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519' });
    const { signature } = await ks.sign(key.id, message);
    await ks.close();
    const before = await snapshot(url);
    await assert.rejects(Keystore.open({ store: url, protector: passphrase('wrong') }), { code: 'ELOCKED' });
    assert.deepEqual(await snapshot(url), before);
    const again = await Keystore.open({ store: url, protector: passphrase() });
    assert.equal(await again.verify(key.id, message, signature), true);
    await again.close();
    await assert.rejects(again.sign(key.id, message), { code: 'EUNAVAIL' });
    dir.remove();
  });

  test('a missing store without create is ENOENT; a seeded RNG without the flag is EINVAL', async () => {
    const { tempDir } = await import('../testing/keystore.js');
    const dir = tempDir();
    await assert.rejects(Keystore.open({ store: `sqlite:${dir.path}/none.db`, protector: passphrase() }), {
      code: 'ENOENT',
    });
    const { insecureSeededRng } = await import('../crypto/rng.js');
    await assert.rejects(
      Keystore.open({
        store: `sqlite:${dir.path}/x.db`,
        protector: passphrase(),
        create: true,
        rng: insecureSeededRng(new Uint8Array(32)),
      }),
      { code: 'EINVAL' },
    );
    dir.remove();
  });

  test('changing the passphrase does not re-encrypt keys; a second slot opens alone; the last slot stays', async () => {
    const { ks, url, dir } = await tempKeystore();
    const key = await ks.createKey({ app: 'a', purpose: 'p', algorithm: 'aes-256-gcm' });
    const sealed = await ks.seal(key.id, message);
    const versionRecordBefore = (await snapshot(url)).get(`keystore/a/p/${key.id}/v/1`);
    const [first] = await ks.listProtectors();
    const changed = await ks.changePassphrase('new passphrase', {
      kdf: { alg: 'argon2id', memoryKiB: 19456, iterations: 2, parallelism: 1 },
    });
    assert.notEqual(changed.id, first!.id);
    const second = await ks.addProtector(passphrase('second passphrase'));
    assert.equal((await ks.listProtectors()).length, 2);
    await ks.close();
    assert.equal((await snapshot(url)).get(`keystore/a/p/${key.id}/v/1`), versionRecordBefore);
    await assert.rejects(Keystore.open({ store: url, protector: passphrase() }), { code: 'ELOCKED' });
    for (const pass of ['new passphrase', 'second passphrase']) {
      const reopened = await Keystore.open({ store: url, protector: passphrase(pass) });
      assert.deepEqual(await reopened.unseal(key.id, sealed), message);
      await reopened.close();
    }
    const last = await Keystore.open({ store: url, protector: passphrase('second passphrase') });
    await last.removeProtector(changed.id);
    await assert.rejects(last.removeProtector(second.id), { code: 'EPERM' });
    await assert.rejects(last.removeProtector('s_nope'), { code: 'ENOENT' });
    const list = await last.listProtectors();
    assert.deepEqual(
      list.map((p) => [p.type, p.intact]),
      [['passphrase', true]],
    );
    assert.equal(typeof list[0]!.capabilities.persistent, 'boolean');
    await last.close();
    dir.remove();
  });

  test('lock wipes secrets: operations are ELOCKED until unlock', async () => {
    const { ks, cleanup } = await tempKeystore();
    const key = await ks.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519' });
    await ks.lock();
    assert.equal(ks.locked, true);
    await assert.rejects(ks.sign(key.id, message), { code: 'ELOCKED' });
    await assert.rejects(ks.unlock(passphrase('nope')), { code: 'ELOCKED' });
    await ks.unlock(passphrase());
    assert.equal((await ks.sign(key.id, message)).version, 1);
    await cleanup();
  });
});
