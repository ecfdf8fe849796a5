// Public verification (SPEC §2 "Public verification"), state by state: checkSignature answers for
// compromised and destroyed keys and versions with their states, while verify keeps refusing them;
// pre-active, below minDecryptionVersion and past the grace end stay refused; ECDSA raw and DER are
// recognised. And the messages: a compromised key says "key k_… is compromised", an unseal with the
// wrong AAD names the key and version instead of the AEAD inside.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { tempKeystore } from '../testing/keystore.js';
import type { Keystore } from './keystore.js';

const te = new TextEncoder();
const data = te.encode('public verification');

describe('checkSignature: verification as a public operation', () => {
  let ks: Keystore;
  let cleanup: () => Promise<void>;
  let now = Date.UTC(2030, 0, 1);

  before(async () => {
    const fixture = await tempKeystore({ clock: () => now, cacheTtlMs: 0 });
    ks = fixture.ks;
    cleanup = fixture.cleanup;
  });
  after(() => cleanup?.());

  test('active and suspended keys: valid, with their state', async () => {
    const key = await ks.createKey({ app: 'v', purpose: 'active', algorithm: 'ed25519' });
    const { signature } = await ks.sign(key.id, data);
    assert.deepEqual(await ks.checkSignature(key.id, data, signature), {
      valid: true,
      version: 1,
      encoding: 'raw',
      keyState: 'active',
      versionState: 'active',
    });
    assert.deepEqual(await ks.checkSignature(key.id, te.encode('other'), signature), {
      valid: false,
      encoding: 'raw',
      keyState: 'active',
    });
    await ks.suspend(key.id);
    assert.equal((await ks.checkSignature(key.id, data, signature)).keyState, 'suspended');
  });

  test('a compromised key answers checkSignature (state reported) but not verify', async () => {
    const key = await ks.createKey({ app: 'v', purpose: 'leaked', algorithm: 'ed25519' });
    const { signature } = await ks.sign(key.id, data);
    await ks.revoke(key.id, 'leaked');
    const check = await ks.checkSignature(key.id, data, signature);
    assert.deepEqual([check.valid, check.keyState, check.versionState], [true, 'compromised', 'compromised']);
    await assert.rejects(ks.verify(key.id, data, signature), { code: 'EKEYREVOKED' });
    await assert.rejects(ks.sign(key.id, data), {
      code: 'EKEYREVOKED',
      message: `key ${key.id} is compromised: sign is refused`,
    });
  });

  test('one compromised version after an emergency rotation: that version reported, the key active', async () => {
    const key = await ks.createKey({ app: 'v', purpose: 'emergency', algorithm: 'ecdsa-p256' });
    const { signature } = await ks.sign(key.id, data);
    await ks.emergencyRotate(key.id, { description: 'test' });
    const check = await ks.checkSignature(key.id, data, signature);
    assert.deepEqual(
      [check.valid, check.version, check.keyState, check.versionState],
      [true, 1, 'active', 'compromised'],
    );
    await assert.rejects(ks.verify(key.id, data, signature, { version: 1 }), {
      code: 'EKEYREVOKED',
      message: `version 1 of key ${key.id} is compromised: verify is refused`,
    });
  });

  test('a destroyed key still verifies its old signatures from the public key it kept', async () => {
    const key = await ks.createKey({ app: 'v', purpose: 'gone', algorithm: 'ml-dsa-65' });
    const { signature } = await ks.sign(key.id, data);
    await ks.destroy(key.id);
    const check = await ks.checkSignature(key.id, data, signature);
    assert.deepEqual([check.valid, check.keyState, check.versionState], [true, 'destroyed', 'destroyed']);
  });

  test('refused as for every process operation: pre-active, below the minimum version, past the grace end', async () => {
    const pre = await ks.createKey({ app: 'v', purpose: 'pre', algorithm: 'ed25519', preActive: true });
    await assert.rejects(ks.checkSignature(pre.id, data, new Uint8Array(64)), { code: 'ESTATE' });

    const old = await ks.createKey({ app: 'v', purpose: 'old', algorithm: 'ed25519' });
    const v1 = (await ks.sign(old.id, data)).signature;
    await ks.rotate(old.id);
    await ks.setMinDecryptionVersion(old.id, 2);
    await assert.rejects(ks.checkSignature(old.id, data, v1, { version: 1 }), { code: 'EKEYEXPIRED' });
    assert.equal((await ks.checkSignature(old.id, data, v1)).valid, false, 'v1 is not tried');

    const graced = await ks.createKey({
      app: 'v',
      purpose: 'grace',
      algorithm: 'ed25519',
      rotation: { gracePeriodMs: 1000 },
    });
    const g1 = (await ks.sign(graced.id, data)).signature;
    await ks.rotate(graced.id);
    assert.equal((await ks.checkSignature(graced.id, data, g1)).valid, true);
    now += 2000;
    await assert.rejects(ks.checkSignature(graced.id, data, g1, { version: 1 }), { code: 'EKEYEXPIRED' });
  });

  test('ECDSA: 64 bytes read raw, DER recognised, an explicit encoding obeyed; DER only for ECDSA', async () => {
    for (const algorithm of ['ecdsa-p256', 'secp256k1'] as const) {
      const key = await ks.createKey({ app: 'v', purpose: `der-${algorithm}`, algorithm });
      const raw = (await ks.sign(key.id, data)).signature;
      const der = (await ks.sign(key.id, data, { encoding: 'der' })).signature;
      assert.deepEqual(
        [
          (await ks.checkSignature(key.id, data, raw)).encoding,
          (await ks.checkSignature(key.id, data, raw)).valid,
        ],
        ['raw', true],
      );
      assert.deepEqual(
        [
          (await ks.checkSignature(key.id, data, der)).encoding,
          (await ks.checkSignature(key.id, data, der)).valid,
        ],
        ['der', true],
      );
      assert.equal((await ks.checkSignature(key.id, data, der, { encoding: 'raw' })).valid, false);
      assert.equal((await ks.checkSignature(key.id, data, raw, { encoding: 'der' })).valid, false);
      const garbage = new Uint8Array(70).fill(0x30);
      assert.equal(
        (await ks.checkSignature(key.id, data, garbage)).valid,
        false,
        'never throws on a malformed signature',
      );
    }
    const ed = await ks.createKey({ app: 'v', purpose: 'der-ed', algorithm: 'ed25519' });
    await assert.rejects(ks.checkSignature(ed.id, data, new Uint8Array(64), { encoding: 'der' }), {
      code: 'EINVAL',
    });
    const mac = await ks.createKey({ app: 'v', purpose: 'mac', algorithm: 'hmac-sha256' });
    await assert.rejects(ks.checkSignature(mac.id, data, new Uint8Array(32)), {
      code: 'EPERM',
      message: /verify-mac/,
    });
  });

  test('a wrong AAD names the key and version, for symmetric and X-Wing keys alike', async () => {
    for (const algorithm of ['aes-256-gcm', 'xchacha20-poly1305', 'x-wing'] as const) {
      const key = await ks.createKey({ app: 'v', purpose: `aad-${algorithm}`, algorithm });
      const sealed = await ks.seal(key.id, data, { aad: 'right' });
      await assert.rejects(ks.unseal(key.id, sealed, { aad: 'wrong' }), (error: Error & { code: string }) => {
        assert.equal(error.code, 'EBADMSG');
        assert.match(error.message, new RegExp(`^cannot unseal with key ${key.id} v1: the AAD differs`));
        assert.doesNotMatch(error.message, /aes-256-gcm|chacha/);
        return true;
      });
    }
  });
});
