// Auto-unlock at start through a platform protector (here PKCS#11 on a real SoftHSM2 token): the daemon
// opens unlocked with no passphrase; a passphrase protector given to startServer does not auto-unlock;
// a failing platform protector leaves the daemon up and locked (a passphrase slot can still open it).
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createToken } from '../access/tokens.js';
import { CofferClient } from '../client/index.js';
import { Keystore } from '../core/keystore.js';
import type { ProtectorConfig } from '../protect/configs.js';
import { PASSPHRASE } from '../testing/daemon.js';
import { passphrase, type TempDir, tempDir } from '../testing/keystore.js';
import { type SoftHsm, startSoftHsm } from '../testing/softhsm.js';
import { startServer } from './index.js';

describe('auto-unlock', () => {
  let hsm: SoftHsm;
  let dir: TempDir;
  let store: string;
  let token: string;
  let pkcs11: ProtectorConfig;
  before(async () => {
    hsm = await startSoftHsm([{ label: 'coffer-daemon' }]);
    dir = tempDir('coffer-auto-');
    chmodSync(dir.path, 0o700);
    store = `sqlite:${join(dir.path, 'store.db')}`;
    pkcs11 = {
      type: 'pkcs11',
      module: hsm.module,
      tokenLabel: 'coffer-daemon',
      pin: hsm.token('coffer-daemon').pin,
      keyLabel: 'coffer-kek',
    };
    const ks = await Keystore.open({ store, protector: passphrase(PASSPHRASE), create: true });
    try {
      await ks.addProtector(pkcs11);
      token = (await createToken(ks, { apps: ['*'], ops: ['*'], admin: true })).token;
    } finally {
      await ks.close();
    }
  });
  after(async () => {
    dir?.remove();
    await hsm?.close();
  });

  test('a pkcs11 protector unlocks at start; a passphrase protector does not', async () => {
    const socket = join(dir.path, 'a.sock');
    const server = await startServer({
      store,
      socket,
      protector: pkcs11,
      logger: false,
      handleSignals: false,
    });
    const client = new CofferClient({ socket, token });
    try {
      assert.equal((await client.status()).locked, false);
      const key = await client.createKey({ app: 'auto', purpose: 'p', algorithm: 'ed25519' });
      assert.equal((await client.sign(key.id, new Uint8Array([1]))).version, 1);
    } finally {
      client.close();
      await server.close();
    }
    const locked = await startServer({
      store,
      socket,
      protector: passphrase(PASSPHRASE),
      logger: false,
      handleSignals: false,
    });
    const c2 = new CofferClient({ socket, token });
    try {
      assert.equal((await c2.status()).locked, true);
      await assert.rejects(c2.listKeys(), { code: 'ELOCKED' });
    } finally {
      c2.close();
      await locked.close();
    }
  });

  test('a failing platform protector leaves the daemon locked, and the passphrase opens it', async () => {
    const socket = join(dir.path, 'b.sock');
    const wrongPin = { ...pkcs11, pin: '000000' } as ProtectorConfig;
    const server = await startServer({
      store,
      socket,
      protector: wrongPin,
      logger: false,
      handleSignals: false,
    });
    const client = new CofferClient({ socket, token });
    try {
      assert.equal((await client.status()).locked, true);
      assert.equal((await client.unlock(PASSPHRASE)).locked, false);
    } finally {
      client.close();
      await server.close();
    }
  });
});
