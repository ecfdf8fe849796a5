// Keyslots end to end (protectors issue, SPEC §5): one keystore held by passphrase, OS keyring,
// TPM 2.0 and PKCS#11 slots at once, against a real gnome-keyring (private D-Bus), swtpm and SoftHSM2
// started here. Each slot alone reopens it and every key (software and HSM-resident) signs; then the
// TPM is cleared and the keyring entry deleted: those slots fail with EUNAVAIL / ENOENT and change
// nothing, while the passphrase and token slots still open it and every key still signs. Then
// capabilities as listed, a changed passphrase, removals that delete the platform keys, and the last
// slot refused.
import assert from 'node:assert/strict';
import { createPublicKey, verify as nodeVerify, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type {
  KeyringProtectorConfig,
  PassphraseProtectorConfig,
  Pkcs11ProtectorConfig,
  ProtectorConfig,
  Tpm2ProtectorConfig,
} from '../protect/configs.js';
import { CKA } from '../protect/pkcs11/constants.js';
import { _loadedModules } from '../protect/pkcs11/module.js';
import { findObjects, Pkcs11Token } from '../protect/pkcs11/token.js';
import { openStorage } from '../storage/open.js';
import { FAST_KDF, type TempDir, tempDir } from '../testing/keystore.js';
import { type SecretServiceFixture, startSecretService } from '../testing/secret-service.js';
import { type SoftHsm, startSoftHsm } from '../testing/softhsm.js';
import { type Swtpm, startSwtpm } from '../testing/swtpm.js';
import { Keystore, type OpenOptions } from './keystore.js';
import type { Pkcs11TokenConfig } from './resident.js';
import type { KeyAlgorithm, KeyInfo } from './types.js';

const TOKEN = 'coffer-e2e';
const KEK_LABEL = 'coffer-e2e-kek';
const message = new TextEncoder().encode('transfer 10 EUR to Alice');

let ss: SecretServiceFixture;
let tpm: Swtpm;
let hsm: SoftHsm;
let dir: TempDir;
let url: string;

// Filled in by the first test and used by the later ones (node:test runs them in order).
let pass: PassphraseProtectorConfig;
let keyring: KeyringProtectorConfig;
let tpm2: Tpm2ProtectorConfig;
let pkcs11: Pkcs11ProtectorConfig;
let token: Pkcs11TokenConfig;
const keys: KeyInfo[] = [];
let sealed: { id: string; blob: Uint8Array };

before(async () => {
  // Started one after the other so a failure leaves only what after() can stop.
  dir = tempDir('coffer-e2e-');
  ss = await startSecretService();
  tpm = await startSwtpm();
  hsm = await startSoftHsm([{ label: TOKEN }]);
  url = `sqlite:${join(dir.path, 'store.db')}`;
  const t = hsm.token(TOKEN);
  pass = { type: 'passphrase', passphrase: 'e2e correct horse battery', kdf: { ...FAST_KDF } };
  keyring = { type: 'keyring', service: `coffer-e2e-${randomUUID().slice(0, 8)}`, account: 'store-1' };
  tpm2 = { type: 'tpm2', tcti: tpm.tcti };
  token = { module: hsm.module, tokenLabel: t.label, pin: t.pin };
  pkcs11 = { type: 'pkcs11', ...token, keyLabel: KEK_LABEL };
});

after(async () => {
  const leaked = _loadedModules();
  await hsm?.close();
  await tpm?.stop();
  await ss?.stop();
  dir?.remove();
  assert.deepEqual(leaked, [], 'every token session was closed');
});

async function expectCode(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error & { code?: string }) => {
    assert.equal(error.code, code, String(error));
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

/** Every record of the store, revision and bytes: equal snapshots mean nothing was written. */
async function snapshot(): Promise<Map<string, string>> {
  const storage = await openStorage(url);
  try {
    const all = new Map<string, string>();
    for (const record of await storage.list('')) {
      all.set(record.key, `${record.revision}:${Buffer.from(record.value).toString('hex')}`);
    }
    return all;
  } finally {
    await storage.close();
  }
}

async function withKeystore<T>(
  protector: ProtectorConfig,
  run: (ks: Keystore) => Promise<T>,
  extra: Partial<OpenOptions> = {},
): Promise<T> {
  const ks = await Keystore.open({ store: url, protector, ...extra });
  try {
    return await run(ks);
  } finally {
    await ks.close();
  }
}

/** Signs with every key, checks each signature with node:crypto and unseals the sealed blob. */
async function everyKeySigns(ks: Keystore): Promise<void> {
  for (const key of keys) {
    if (key.algorithm === 'aes-256-gcm') continue;
    const { signature, version } = await ks.sign(key.id, message);
    assert.equal(version, 1, key.id);
    assert.equal(await ks.verify(key.id, message, signature), true, `${key.algorithm} ${key.id}`);
    if (key.algorithm === 'ed25519' || key.algorithm === 'ecdsa-p256') {
      const publicKey = createPublicKey((await ks.publicKey(key.id, 'pem')) as string);
      const ok =
        key.algorithm === 'ed25519'
          ? nodeVerify(null, message, publicKey, signature)
          : nodeVerify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
      assert.equal(ok, true, `node:crypto accepts the ${key.algorithm} signature of ${key.id}`);
    }
  }
  assert.deepEqual(await ks.unseal(sealed.id, sealed.blob), message);
}

/** The keyring entry's bytes as secret-tool sees them, or null. */
async function keyringEntry(config: KeyringProtectorConfig): Promise<Buffer | null> {
  try {
    const { stdout } = await ss.run('secret-tool', [
      'lookup',
      'service',
      config.service,
      'username',
      config.account,
    ]);
    return stdout;
  } catch (error) {
    if ((error as { code?: number }).code === 1) return null;
    throw error;
  }
}

async function tokenObjectsLabelled(label: string): Promise<number> {
  const t = await Pkcs11Token.open(token);
  try {
    return await t.run(
      { action: 'inspect' },
      (lib, session) => findObjects(lib, session, [{ type: CKA.LABEL, value: label }], 10).length,
    );
  } finally {
    await t.close();
  }
}

const SOFTWARE = { hardwareBacked: false, nonExportable: false, persistent: true, userPresence: false };

describe('keyslots end to end: passphrase + keyring + tpm2 + pkcs11', () => {
  test('one keystore gets all four slots; listProtectors reports each truthfully and stores no secret', async () => {
    const started = Date.now();
    await withKeystore(
      pass,
      async (ks) => {
        await ks.addProtector(keyring);
        await ks.addProtector(tpm2);
        await ks.addProtector(pkcs11);
        const software: KeyAlgorithm[] = ['ed25519', 'ecdsa-p256', 'ml-dsa-65'];
        for (const algorithm of software)
          keys.push(await ks.createKey({ app: 'pay', purpose: 'sign', algorithm }));
        for (const algorithm of ['ed25519', 'ecdsa-p256'] as const) {
          keys.push(await ks.createKey({ app: 'pay', purpose: 'hsm', algorithm, residency: 'pkcs11' }));
        }
        const aes = await ks.createKey({ app: 'pay', purpose: 'seal', algorithm: 'aes-256-gcm' });
        keys.push(aes);
        sealed = { id: aes.id, blob: await ks.seal(aes.id, message) };
        await everyKeySigns(ks);

        const list = await ks.listProtectors();
        assert.deepEqual(
          list.map((p) => p.type).sort(),
          ['keyring', 'passphrase', 'pkcs11', 'tpm2'],
          'four slots',
        );
        const byType = new Map(list.map((p) => [p.type, p]));
        // What each protector can truthfully claim here: swtpm is a software TPM, SoftHSM2 a software
        // token (whose key is still non-extractable), the keyring and the passphrase key live in memory.
        assert.deepEqual(byType.get('passphrase')?.capabilities, SOFTWARE);
        assert.deepEqual(byType.get('keyring')?.capabilities, SOFTWARE);
        assert.deepEqual(byType.get('tpm2')?.capabilities, SOFTWARE);
        assert.deepEqual(byType.get('pkcs11')?.capabilities, { ...SOFTWARE, nonExportable: true });
        for (const p of list) {
          assert.match(p.id, /^s_[a-z2-7]{16}$/);
          assert.equal(p.intact, true);
          assert.ok(p.createdAt >= started && p.createdAt <= Date.now());
          assert.ok(p.lastUsedAt >= p.createdAt);
          const text = JSON.stringify(p);
          assert.equal(text.includes(pass.passphrase), false, 'no passphrase in the listing');
          assert.equal(text.includes(`"pin"`), false, 'no PIN in the listing');
        }
        assert.deepEqual(byType.get('keyring')?.config, keyring);
        assert.deepEqual(byType.get('tpm2')?.config, tpm2);
        assert.deepEqual(byType.get('pkcs11')?.config, {
          type: 'pkcs11',
          module: hsm.module,
          tokenLabel: TOKEN,
          keyLabel: KEK_LABEL,
        });
      },
      { create: true, pkcs11: token },
    );
    // The platform keys exist where the contracts say: the keyring entry by service/account, the
    // token key by its label; the store holds neither passphrase nor PIN.
    assert.equal((await keyringEntry(keyring))?.length, 32);
    assert.equal(await tokenObjectsLabelled(KEK_LABEL), 1);
    const stored = [...(await snapshot()).values()].join();
    for (const secret of [pass.passphrase, token.pin]) {
      assert.equal(stored.includes(Buffer.from(secret).toString('hex')), false);
    }
  });

  test('each slot alone reopens the keystore and every key signs, resident keys included', async () => {
    for (const protector of [pass, keyring, tpm2, pkcs11]) {
      const opened = Date.now();
      // The pkcs11 slot lends its token to the resident keys; the others are given it explicitly.
      const extra = protector.type === 'pkcs11' ? {} : { pkcs11: token };
      await withKeystore(
        protector,
        async (ks) => {
          await everyKeySigns(ks);
          const used = (await ks.listProtectors()).find((p) => p.type === protector.type);
          assert.ok(used && used.lastUsedAt >= opened, `${protector.type} slot records its use`);
        },
        extra,
      );
    }
    // A PCR-bound TPM slot opens with a config that names no pcrs: the slot's own selection is used
    // (the TPM enforces it either way). Its TCTI is never read from the record: the caller's is used.
    const bound = await withKeystore(pass, (ks) => ks.addProtector({ ...tpm2, pcrs: [7, 0] }));
    assert.deepEqual(bound.config, { type: 'tpm2', tcti: tpm.tcti, pcrs: 'sha256:0,7' });
    await withKeystore(tpm2, async (ks) => assert.equal(ks.locked, false), { slotId: bound.id });
    await withKeystore({ ...tpm2, pcrs: 'sha256:0,7' }, async (ks) => {
      assert.equal((await ks.removeProtector(bound.id)).platformKey, 'none');
    });
    await expectCode(Keystore.open({ store: url, protector: { ...tpm2, pcrs: [0, 7] } }), 'ENOENT');
  });

  test('TPM cleared and keyring entry deleted: those slots fail (EUNAVAIL / ENOENT), write nothing, never re-initialise; the others still open and every key signs', async () => {
    await tpm.clear();
    await ss.run('secret-tool', ['clear', 'service', keyring.service, 'username', keyring.account]);
    assert.equal(await keyringEntry(keyring), null);

    const before = await snapshot();
    await expectCode(Keystore.open({ store: url, protector: tpm2 }), 'EUNAVAIL', /TPM was cleared/);
    await expectCode(Keystore.open({ store: url, protector: keyring }), 'ENOENT', /another keyslot/);
    // create: true on an existing store never makes a new keystore, whatever the slot does.
    await expectCode(Keystore.open({ store: url, protector: keyring, create: true }), 'ENOENT');
    await expectCode(Keystore.open({ store: url, protector: tpm2, create: true }), 'EUNAVAIL');
    // A token whose module is gone (uninstalled, moved) is unavailable too, not a reason to start over.
    await expectCode(
      Keystore.open({ store: url, protector: { ...pkcs11, module: join(dir.path, 'gone', 'libvendor.so') } }),
      'EUNAVAIL',
      /module not found/,
    );
    assert.deepEqual(await snapshot(), before, 'failed unlocks changed nothing');
    assert.equal(await keyringEntry(keyring), null, 'no new keyring entry was made');

    await withKeystore(pass, everyKeySigns, { pkcs11: token });
    await withKeystore(pkcs11, everyKeySigns);
  });

  test('a changed passphrase; removing slots deletes their platform keys; the last slot is refused', async () => {
    const newPass: PassphraseProtectorConfig = { ...pass, passphrase: 'e2e new passphrase 2' };
    await withKeystore(pkcs11, async (ks) => {
      const lost = await ks.listProtectors();
      assert.equal(lost.length, 4, 'lost slots are still listed until removed');
      const changed = await ks.changePassphrase(newPass.passphrase, { kdf: { ...FAST_KDF } });
      assert.equal(changed.type, 'passphrase');
      assert.equal((await ks.listProtectors()).length, 4);
    });
    await expectCode(Keystore.open({ store: url, protector: pass }), 'ELOCKED', /wrong passphrase/);

    // Opened by passphrase without the token: removing the pkcs11 slot would need the PIN.
    await withKeystore(newPass, async (ks) => {
      const slots = await ks.listProtectors();
      const id = (type: string) => slots.find((p) => p.type === type)?.id ?? '';
      await expectCode(ks.removeProtector(id('pkcs11')), 'EINVAL', /needs the token PIN/);
      assert.equal((await ks.listProtectors()).length, 4, 'nothing was removed');

      // The lost slots go: the TPM slot kept nothing outside its record; the keyring entry is already gone.
      assert.deepEqual(await ks.removeProtector(id('tpm2')), {
        id: id('tpm2'),
        type: 'tpm2',
        platformKey: 'none',
      });
      assert.deepEqual(await ks.removeProtector(id('keyring')), {
        id: id('keyring'),
        type: 'keyring',
        platformKey: 'destroyed',
      });

      // A live keyring slot: removing it deletes the entry (found through the slot's own record).
      const fresh: KeyringProtectorConfig = { ...keyring, account: 'store-1-again' };
      const added = await ks.addProtector(fresh);
      assert.equal((await keyringEntry(fresh))?.length, 32);
      assert.equal((await ks.removeProtector(added.id)).platformKey, 'destroyed');
      assert.equal(await keyringEntry(fresh), null, 'the keyring entry was deleted');

      // keepPlatformKey leaves the entry to its owner.
      const kept = await ks.addProtector(fresh);
      assert.equal((await ks.removeProtector(kept.id, { keepPlatformKey: true })).platformKey, 'kept');
      assert.equal((await keyringEntry(fresh))?.length, 32);
      await ss.run('secret-tool', ['clear', 'service', fresh.service, 'username', fresh.account]);
    });

    // Opened with the token config: the pkcs11 slot's token key is deleted with it.
    await withKeystore(
      newPass,
      async (ks) => {
        const slots = await ks.listProtectors();
        assert.deepEqual(slots.map((p) => p.type).sort(), ['passphrase', 'pkcs11']);
        const p11 = slots.find((p) => p.type === 'pkcs11')?.id ?? '';
        const passphraseSlot = slots.find((p) => p.type === 'passphrase')?.id ?? '';
        assert.equal((await ks.removeProtector(p11)).platformKey, 'destroyed');
        assert.equal(await tokenObjectsLabelled(KEK_LABEL), 0, 'the token key is gone');
        await expectCode(ks.removeProtector(passphraseSlot), 'EPERM', /last keyslot/);
        await expectCode(ks.removeProtector('s_aaaaaaaaaaaaaaaa'), 'ENOENT');
        assert.equal((await ks.listProtectors()).length, 1);
        // Resident keys live on in the token whatever happens to the pkcs11 keyslot.
        await everyKeySigns(ks);
        assert.equal((await ks.verifyAudit()).ok, true);
      },
      { pkcs11: token },
    );
    await expectCode(Keystore.open({ store: url, protector: pkcs11 }), 'ENOENT', /no pkcs11 keyslot/);
  });

  test('two handles removing the last two slots at once: one wins, the other is EPERM, one slot stays', async () => {
    const store = `sqlite:${join(dir.path, 'race.db')}`;
    const config = (n: number): PassphraseProtectorConfig => ({
      type: 'passphrase',
      passphrase: `race passphrase ${n}`,
      kdf: { ...FAST_KDF },
    });
    const first = await Keystore.open({ store, protector: config(0), create: true });
    await first.addProtector(config(1));
    const second = await Keystore.open({ store, protector: config(1) });
    try {
      for (let round = 2; round < 6; round++) {
        const [x, y] = (await first.listProtectors()).map((p) => p.id);
        const results = await Promise.allSettled([
          first.removeProtector(x ?? ''),
          second.removeProtector(y ?? ''),
        ]);
        const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
        assert.equal(refused.length, 1, `round ${round}: exactly one removal is refused`);
        assert.equal(refused[0].code, 'EPERM');
        assert.equal((await first.listProtectors()).length, 1);
        await first.addProtector(config(round));
      }
    } finally {
      await first.close();
      await second.close();
    }
  });

  test('bad protector configs are EINVAL before the store is opened or a platform touched', async () => {
    const missing = `sqlite:${join(dir.path, 'absent', 'x.db')}`;
    const bad: unknown[] = [
      { type: 'keyring', service: 'x', account: 'a\u0000b' },
      { type: 'keyring', service: 'x', account: 'y', extra: 1 },
      { type: 'tpm2', tcti: '--help' },
      { type: 'tpm2', pcrs: 'sha256:24' },
      { type: 'pkcs11', ...token, keyLabel: '' },
      { type: 'pkcs11', ...token, keyLabel: 'k', keylabel: 'typo' },
      { type: 'passphrase', passphrase: '' },
      {
        type: 'passphrase',
        passphrase: 'long enough passphrase',
        kdf: { alg: 'argon2id', memoryKiB: 1024, iterations: 1, parallelism: 1 },
      },
      { type: 'hsm' },
    ];
    for (const protector of bad) {
      // Reaching the store would be ENOENT (it does not exist): EINVAL proves nothing ran first.
      await expectCode(Keystore.open({ store: missing, protector: protector as ProtectorConfig }), 'EINVAL');
    }
    await withKeystore(
      { type: 'passphrase', passphrase: 'e2e new passphrase 2', kdf: { ...FAST_KDF } },
      async (ks) => {
        const before = await ks.listProtectors();
        for (const protector of bad)
          await expectCode(ks.addProtector(protector as ProtectorConfig), 'EINVAL');
        await expectCode(
          ks.removeProtector(before[0]?.id ?? '', { config: keyring }),
          'EINVAL',
          /does not name/,
        );
        assert.deepEqual(await ks.listProtectors(), before);
      },
    );
  });
});
