// Whole-store rollback against every anchor type (SPEC §4.2) on every backend: a TPM 2.0 NV counter
// (swtpm), a PKCS#11 data object (SoftHSM2), an OS keyring item (gnome-keyring on a private D-Bus) and a
// file, each started here. An older copy of the whole store put back is refused at unlock; accepting it
// is audited and makes every other copy older; an anchor that is gone is EUNAVAIL until accepted. Two
// instances sharing one PostgreSQL database each keep their own anchor and never trip each other.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AnchorConfig } from '../protect/anchor.js';
import { CKA, CKO } from '../protect/pkcs11/constants.js';
import { _loadedModules } from '../protect/pkcs11/module.js';
import { findObjects, Pkcs11Token } from '../protect/pkcs11/token.js';
import { passphrase, type TempDir, tempDir } from '../testing/keystore.js';
import { type PostgresCluster, startPostgres } from '../testing/postgres.js';
import { rejectsRollback, restore, snapshot } from '../testing/rollback-attacks.js';
import { type SecretServiceFixture, startSecretService } from '../testing/secret-service.js';
import { type SoftHsm, startSoftHsm } from '../testing/softhsm.js';
import { type Swtpm, startSwtpm } from '../testing/swtpm.js';
import { Keystore } from './keystore.js';

const TOKEN = 'coffer-anchor';
const message = new TextEncoder().encode('ship order 7');

let tpm: Swtpm;
let hsm: SoftHsm;
let ss: SecretServiceFixture;
let pg: PostgresCluster;
let dir: TempDir;
let stores = 0;
let nvIndex = 0x01800d00;

before(async () => {
  dir = tempDir('coffer-anchors-');
  tpm = await startSwtpm();
  hsm = await startSoftHsm([{ label: TOKEN }]);
  ss = await startSecretService();
  pg = await startPostgres();
});

after(async () => {
  const leaked = _loadedModules();
  await pg?.stop();
  await ss?.stop();
  await hsm?.close();
  await tpm?.stop();
  dir?.remove();
  assert.deepEqual(leaked, [], 'every token session was closed');
});

const backends: Record<string, () => Promise<string>> = {
  sqlite: async () => `sqlite:${join(dir.path, `store-${++stores}`, 'store.db')}`,
  dir: async () => `dir:${join(dir.path, `store-${++stores}`)}`,
  postgres: () => pg.createDatabase(`anchors_${++stores}`),
};

/** A fresh anchor of each type (its own NV index, object label, keyring item or file). */
const anchors: Record<AnchorConfig['type'], () => AnchorConfig> = {
  tpm2: () => ({ type: 'tpm2', tcti: tpm.tcti, nvIndex: nvIndex++ }),
  pkcs11: () => {
    const t = hsm.token(TOKEN);
    return {
      type: 'pkcs11',
      module: hsm.module,
      tokenLabel: t.label,
      pin: t.pin,
      label: `anchor-${randomUUID()}`,
    };
  },
  keyring: () => ({
    type: 'keyring',
    service: `coffer-anchor-${randomUUID().slice(0, 8)}`,
    account: 'store',
  }),
  file: () => ({ type: 'file', path: join(dir.path, `anchor-${randomUUID()}.json`) }),
};

const open = (url: string, extra: Partial<Parameters<typeof Keystore.open>[0]> = {}) =>
  Keystore.open({ store: url, protector: passphrase(), ...extra });

for (const [backend, newStore] of Object.entries(backends)) {
  describe(backend, () => {
    for (const [type, makeAnchor] of Object.entries(anchors)) {
      test(`${type} anchor: an older copy of the whole store is refused; accepting it is audited and final`, async () => {
        const url = await newStore();
        const anchor = makeAnchor();
        let ks = await open(url, { create: true, anchor });
        const key = await ks.createKey({ app: 'shop', purpose: 'orders', algorithm: 'ed25519' });
        const old = await snapshot(url);
        await ks.revoke(key.id, 'signing host compromised');
        await ks.close();
        const current = await snapshot(url);

        await restore(url, old);
        await rejectsRollback(open(url, { anchor }), 'anchor');
        // The current store still opens and the revoke holds.
        await restore(url, current);
        ks = await open(url, { anchor });
        await assert.rejects(ks.sign(key.id, message), { code: 'EKEYREVOKED' });
        await ks.close();

        // Restoring the old copy on purpose: audited, and from then on it is the current store.
        await restore(url, old);
        ks = await open(url, { anchor, acceptRollback: 'disaster recovery drill' });
        const tail = await ks.auditTail(4);
        const accepted = tail.find((e) => e.event === 'store.rollback-accepted');
        assert.equal(accepted?.details?.reason, 'disaster recovery drill');
        await ks.sign(key.id, message);
        await ks.close();
        await restore(url, current);
        await rejectsRollback(open(url, { anchor }), 'anchor');
      });
    }
  });
}

describe('anchors gone or shared', () => {
  test('a cleared TPM (counter gone) is EUNAVAIL until the operator accepts and re-enrols', async () => {
    const url = await backends.sqlite!();
    const anchor = anchors.tpm2();
    const ks = await open(url, { create: true, anchor });
    await ks.createKey({ app: 'shop', purpose: 'tpm', algorithm: 'ed25519' });
    await ks.close();
    await tpm.clear();
    await assert.rejects(open(url, { anchor }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'EUNAVAIL');
      assert.match(e.message, /is gone/);
      return true;
    });
    const again = await open(url, { anchor, acceptRollback: 'TPM cleared by firmware update' });
    await again.close();
    await (await open(url, { anchor })).close();
  });

  test('a new store adopts a TPM counter that already exists; an existing store never does', async () => {
    const anchor = anchors.tpm2();
    const first = await open(await backends.sqlite!(), { create: true, anchor });
    await first.close();
    // Creating a second store on the same (already incremented) counter: nothing to roll back to.
    const url = await backends.sqlite!();
    const second = await open(url, { create: true, anchor });
    await second.createKey({ app: 'shop', purpose: 'adopt', algorithm: 'ed25519' });
    await second.close();
    await (await open(url, { anchor })).close();
    // A store that never recorded this counter, opened with it later: refused (SPEC §4.2).
    const unanchored = await backends.sqlite!();
    await (await open(unanchored, { create: true })).close();
    await rejectsRollback(open(unanchored, { anchor }), 'anchor');
  });

  test('a deleted token object or keyring item is EUNAVAIL, never a silent fresh start', async () => {
    for (const type of ['pkcs11', 'keyring'] as const) {
      const url = await backends.sqlite!();
      const anchor = anchors[type]();
      const ks = await open(url, { create: true, anchor });
      await ks.close();
      if (anchor.type === 'pkcs11') {
        const token = await Pkcs11Token.open({
          module: anchor.module,
          tokenLabel: anchor.tokenLabel,
          pin: anchor.pin,
        });
        await token.run({ action: 'delete the anchor' }, (lib, session) => {
          for (const object of findObjects(lib, session, [
            { type: CKA.CLASS, value: CKO.DATA },
            { type: CKA.LABEL, value: anchor.label },
          ]))
            lib.C_DestroyObject(session, object);
        });
        await token.close();
      } else if (anchor.type === 'keyring') {
        await ss.run('secret-tool', ['clear', 'service', anchor.service, 'username', anchor.account]);
      }
      await assert.rejects(open(url, { anchor }), { code: 'EUNAVAIL' }, type);
    }
  });

  test('two instances sharing one database each keep their own anchor', async () => {
    const url = await backends.postgres!();
    const a: AnchorConfig = { ...anchors.file(), name: 'host-a' };
    const b: AnchorConfig = { ...anchors.file(), name: 'host-b' };
    const first = await open(url, { create: true, anchor: a });
    const second = await open(url, { anchor: b });
    const keys = await Promise.all(
      [first, second].map((ks, i) => ks.createKey({ app: 'shared', purpose: `p${i}`, algorithm: 'ed25519' })),
    );
    const old = await snapshot(url);
    // Both write and seal at once, each its own anchor (each on another key: a revoke racing a rotation
    // of the same key would make the rotation's outcome depend on which lands first).
    await Promise.all([first.rotate(keys[1]!.id), second.rotate(keys[0]!.id)]);
    await first.revoke(keys[0]!.id, 'x');
    await Promise.all([first.close(), second.close()]);
    for (const anchor of [a, b]) await (await open(url, { anchor })).close();
    await restore(url, old);
    for (const anchor of [a, b]) await rejectsRollback(open(url, { anchor }), 'anchor', anchor.name);
  });
});
