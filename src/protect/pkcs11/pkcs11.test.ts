// The PKCS#11 protector against a real SoftHSM2 token: the shared conformance suite on both ciphertext
// paths (CKM_AES_GCM in the token, and the forced CKM_AES_KEY_WRAP_PAD envelope), the SPEC vectors of
// both layouts, the wrapping key's attributes as the token reports them, and the error mapping
// (wrong PIN, key deleted, label taken, token or module missing).
import assert from 'node:assert/strict';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CofferError } from '../../errors.js';
import { exerciseProtector } from '../../testing/protector-conformance.js';
import { type SoftHsm, startSoftHsm } from '../../testing/softhsm.js';
import type { DeviceKeystore } from '../types.js';
import { ckrName } from './ckr.js';
import { CKA, CKK, CKO } from './constants.js';
import { Pkcs11Device } from './device.js';
import {
  createPkcs11Driver,
  type Pkcs11ProtectorConfig,
  type Pkcs11ProtectorState,
  pkcs11Driver,
} from './driver.js';
import { _loadedModules } from './module.js';
import { findObjects, Pkcs11Token, readBool } from './token.js';

const MAIN = 'coffer-main';
const PIN_TOKEN = 'coffer-pin';
const EXPECTED_CAPS = { hardwareBacked: false, nonExportable: true, persistent: true, userPresence: false };
const aad = new TextEncoder().encode('coffer:keyslot:v1|slot=pkcs11-test');

let hsm: SoftHsm;
let counter = 0;

before(async () => {
  hsm = await startSoftHsm([{ label: MAIN }, { label: PIN_TOKEN }]);
});

after(async () => {
  // Every test closed what it opened, so the last user has C_Finalize'd the module. Checked after
  // the cleanup so a failure here still leaves no temporary token directory behind.
  const leaked = _loadedModules();
  await hsm.close();
  assert.deepEqual(leaked, []);
});

function config(label = MAIN, keyLabel = `coffer-kek-${++counter}`): Pkcs11ProtectorConfig {
  const token = hsm.token(label);
  return { type: 'pkcs11', module: hsm.module, tokenLabel: token.label, pin: token.pin, keyLabel };
}

async function expectCode(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<CofferError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    assert.ok(error instanceof CofferError, String(error));
    assert.equal(error.code, code, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  });
  return caught as CofferError;
}

/** Opens an inspection session on the same token (shares the process's login). */
async function inspector(label = MAIN): Promise<Pkcs11Token> {
  const token = hsm.token(label);
  return Pkcs11Token.open({ module: hsm.module, tokenLabel: token.label, pin: token.pin });
}

exerciseProtector('pkcs11 CKM_AES_GCM (SoftHSM2)', () => ({
  driver: pkcs11Driver,
  config: config(),
  expectedCapabilities: EXPECTED_CAPS,
}));

const keyWrapDriver = createPkcs11Driver({ mechanism: 'CKM_AES_KEY_WRAP_PAD' });
exerciseProtector('pkcs11 CKM_AES_KEY_WRAP_PAD forced (SoftHSM2)', () => ({
  driver: keyWrapDriver,
  config: config(),
  expectedCapabilities: EXPECTED_CAPS,
}));

describe('pkcs11 protector: paths and layouts', () => {
  test('auto picks CKM_AES_GCM on SoftHSM2: iv(12) ‖ ct ‖ tag(16)', async () => {
    const c = config();
    const { device, state } = await pkcs11Driver.create(c, { slotId: 'auto' });
    try {
      const s = state as unknown as Pkcs11ProtectorState;
      assert.equal(s.mechanism, 'CKM_AES_GCM');
      assert.equal(s.keyLabel, c.keyLabel);
      assert.match(s.keyId, /^[0-9a-f]{32}$/);
      assert.match(s.tokenSerial, /^[0-9a-f]{16}$/);
      assert.equal((await device.encrypt(randomBytes(32), aad)).length, 12 + 32 + 16);
    } finally {
      await device.close?.();
      await pkcs11Driver.destroy?.(c, state, { slotId: 'auto' });
    }
  });

  test('forced key wrap: wdek(40) ‖ nonce(12) ‖ ct ‖ tag(16)', async () => {
    const c = config();
    const { device, state } = await keyWrapDriver.create(c, { slotId: 'kwp' });
    try {
      assert.equal((state as unknown as Pkcs11ProtectorState).mechanism, 'CKM_AES_KEY_WRAP_PAD');
      assert.equal((await device.encrypt(randomBytes(32), aad)).length, 40 + 12 + 32 + 16);
      assert.equal((await device.encrypt(new Uint8Array(0), aad)).length, 40 + 12 + 16);
    } finally {
      await device.close?.();
      await keyWrapDriver.destroy?.(c, state, { slotId: 'kwp' });
    }
  });

  // SPEC vectors: KEK = 00 01 … 1f imported into the token as a session key, so the layouts can be
  // checked against OpenSSL in both directions (the real protector's key is never readable).
  const KEK = Buffer.from([...Array(32).keys()]);
  const VECTOR_AAD = Buffer.from('coffer:keyslot:v1|slot=vector');
  const VECTOR_PLAIN = Buffer.from('a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf', 'hex');
  const GCM_VECTOR = Buffer.from(
    '000102030405060708090a0be7a374b8614064bc25e83d201d44d6c23367358744cee9cb80de5f3ea1d4be0d549d4aada19707505cee9d9ddc2178a1',
    'hex',
  );
  const KWP_VECTOR = Buffer.from(
    '639a48dfd7cd63338420371d79ca1af730b0269630b569175347a597711d25d4ce9c9b56799392c6101112131415161718191a1b36f623fa103994dfb4dd144bc7b0cb5485396ce801dbada4804a79932489c0e49fbdc845f87074faca7241c49cb5f713',
    'hex',
  );

  async function importedDevice(mechanism: 'CKM_AES_GCM' | 'CKM_AES_KEY_WRAP_PAD'): Promise<DeviceKeystore> {
    const token = await inspector();
    const gcm = mechanism === 'CKM_AES_GCM';
    const handle = await token.run({ action: 'import the vector key' }, (lib, session) =>
      lib.C_CreateObject(session, [
        { type: CKA.CLASS, value: CKO.SECRET_KEY },
        { type: CKA.KEY_TYPE, value: CKK.AES },
        { type: CKA.TOKEN, value: false },
        { type: CKA.SENSITIVE, value: true },
        { type: CKA.EXTRACTABLE, value: false },
        { type: CKA.ENCRYPT, value: gcm },
        { type: CKA.DECRYPT, value: gcm },
        { type: CKA.WRAP, value: !gcm },
        { type: CKA.UNWRAP, value: !gcm },
        { type: CKA.VALUE, value: KEK },
      ]),
    );
    return new Pkcs11Device(token, { handle, label: 'vector', idHex: '' }, mechanism, EXPECTED_CAPS);
  }

  test('SPEC vector, GCM layout: the token decrypts it and OpenSSL decrypts the token output', async () => {
    const device = await importedDevice('CKM_AES_GCM');
    try {
      assert.deepEqual(Buffer.from(await device.decrypt(GCM_VECTOR, VECTOR_AAD)), VECTOR_PLAIN);
      const out = await device.encrypt(VECTOR_PLAIN, VECTOR_AAD);
      const decipher = createDecipheriv('aes-256-gcm', KEK, out.subarray(0, 12));
      decipher.setAAD(VECTOR_AAD);
      decipher.setAuthTag(out.subarray(out.length - 16));
      const plain = Buffer.concat([decipher.update(out.subarray(12, out.length - 16)), decipher.final()]);
      assert.deepEqual(plain, VECTOR_PLAIN);
    } finally {
      await device.close?.();
    }
  });

  test('SPEC vector, key-wrap layout: the token unwraps it and OpenSSL opens the token output', async () => {
    const device = await importedDevice('CKM_AES_KEY_WRAP_PAD');
    try {
      assert.deepEqual(Buffer.from(await device.decrypt(KWP_VECTOR, VECTOR_AAD)), VECTOR_PLAIN);
      const out = Buffer.from(await device.encrypt(VECTOR_PLAIN, VECTOR_AAD));
      const wdek = out.subarray(0, 40);
      const unwrap = createDecipheriv('id-aes256-wrap-pad', KEK, Buffer.from('a65959a6', 'hex'));
      const dek = Buffer.concat([unwrap.update(wdek), unwrap.final()]);
      assert.equal(dek.length, 32);
      const decipher = createDecipheriv('aes-256-gcm', dek, out.subarray(40, 52));
      decipher.setAAD(Buffer.concat([Buffer.from('coffer:pkcs11-kwp:v1\0'), wdek, VECTOR_AAD]));
      decipher.setAuthTag(out.subarray(out.length - 16));
      assert.deepEqual(
        Buffer.concat([decipher.update(out.subarray(52, out.length - 16)), decipher.final()]),
        VECTOR_PLAIN,
      );
      // Moving the payload under another wrapped key must fail: the wdek is in the inner AAD.
      const other = Buffer.from(await device.encrypt(VECTOR_PLAIN, VECTOR_AAD));
      const spliced = Buffer.concat([other.subarray(0, 40), out.subarray(40)]);
      await expectCode(device.decrypt(spliced, VECTOR_AAD), 'EBADMSG');
    } finally {
      await device.close?.();
    }
  });

  test('a failed decrypt leaves the device usable (the session is replaced, not left mid-operation)', async () => {
    for (const driver of [pkcs11Driver, keyWrapDriver]) {
      const c = config();
      const { device, state } = await driver.create(c, { slotId: 'recover' });
      try {
        const plain = randomBytes(32);
        const cipher = await device.encrypt(plain, aad);
        const bad = Uint8Array.from(cipher);
        bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0x80;
        await expectCode(device.decrypt(bad, aad), 'EBADMSG', /not authentic|authentication/i);
        assert.deepEqual(Buffer.from(await device.decrypt(cipher, aad)), plain);
      } finally {
        await device.close?.();
        await driver.destroy?.(c, state, { slotId: 'recover' });
      }
    }
  });

  test('concurrent calls on one device and across devices are serialised, all succeed', async () => {
    const c1 = config();
    const c2 = config();
    const a = await pkcs11Driver.create(c1, { slotId: 'c1' });
    const b = await keyWrapDriver.create(c2, { slotId: 'c2' });
    try {
      const inputs = Array.from({ length: 12 }, () => randomBytes(48));
      const results = await Promise.all(
        inputs.map(async (plain, i) => {
          const device = i % 2 === 0 ? a.device : b.device;
          return Buffer.from(await device.decrypt(await device.encrypt(plain, aad), aad));
        }),
      );
      assert.deepEqual(results, inputs);
    } finally {
      await a.device.close?.();
      await b.device.close?.();
      await pkcs11Driver.destroy?.(c1, a.state, { slotId: 'c1' });
      await keyWrapDriver.destroy?.(c2, b.state, { slotId: 'c2' });
    }
  });
});

describe('pkcs11 protector: the wrapping key inside the token', () => {
  for (const [name, driver] of [
    ['CKM_AES_GCM', pkcs11Driver],
    ['CKM_AES_KEY_WRAP_PAD', keyWrapDriver],
  ] as const) {
    test(`${name}: CKA_VALUE is unreadable (CKR_ATTRIBUTE_SENSITIVE), sensitive, never extractable`, async () => {
      const c = config();
      const { device, state } = await driver.create(c, { slotId: 'attrs' });
      const token = await inspector();
      try {
        const s = state as unknown as Pkcs11ProtectorState;
        const report = await token.run({ action: 'inspect' }, (lib, session) => {
          const [handle, extra] = findObjects(lib, session, [
            { type: CKA.LABEL, value: c.keyLabel },
            { type: CKA.ID, value: Buffer.from(s.keyId, 'hex') },
          ]);
          assert.ok(handle !== undefined && extra === undefined, 'exactly one key with that label and id');
          let valueError: string | undefined;
          try {
            lib.C_GetAttributeValue(session, handle, [{ type: CKA.VALUE }]);
          } catch (error) {
            valueError = ckrName(error);
          }
          const flag = (type: number) => readBool(lib, session, handle, type);
          return {
            valueError,
            sensitive: flag(CKA.SENSITIVE),
            extractable: flag(CKA.EXTRACTABLE),
            alwaysSensitive: flag(CKA.ALWAYS_SENSITIVE),
            neverExtractable: flag(CKA.NEVER_EXTRACTABLE),
            local: flag(CKA.LOCAL),
            onToken: flag(CKA.TOKEN),
            private: flag(CKA.PRIVATE),
            encrypt: flag(CKA.ENCRYPT),
            wrap: flag(CKA.WRAP),
            sign: flag(CKA.SIGN),
            derive: flag(CKA.DERIVE),
            valueLen: lib
              .C_GetAttributeValue(session, handle, [{ type: CKA.VALUE_LEN }])[0]
              ?.value.readUInt32LE(0),
          };
        });
        assert.equal(report.valueError, 'CKR_ATTRIBUTE_SENSITIVE');
        assert.equal(report.sensitive, true);
        assert.equal(report.extractable, false);
        assert.equal(report.alwaysSensitive, true);
        assert.equal(report.neverExtractable, true);
        assert.equal(report.local, true, 'generated inside the token, never imported');
        assert.equal(report.onToken, true);
        assert.equal(report.private, true);
        assert.equal(report.valueLen, 32);
        // Least privilege: only the usage the chosen mechanism needs.
        assert.equal(report.encrypt, name === 'CKM_AES_GCM');
        assert.equal(report.wrap, name === 'CKM_AES_KEY_WRAP_PAD');
        assert.equal(report.sign, false);
        assert.equal(report.derive, false);
      } finally {
        await token.close();
        await device.close?.();
        await driver.destroy?.(c, state, { slotId: 'attrs' });
      }
    });
  }

  test('capabilities are read from the token: SoftHSM2 is a soft token, not hardware', async () => {
    const token = await inspector();
    try {
      assert.equal(token.info.hardwareSlot, false);
      assert.equal(token.info.knownSoftwareToken, true);
      assert.equal(token.hardwareBacked, false);
      assert.equal(token.info.protectedAuthenticationPath, false);
      assert.match(token.info.manufacturer, /SoftHSM/);
    } finally {
      await token.close();
    }
  });

  test('destroy removes the token key, and a second destroy is a no-op', async () => {
    const c = config();
    const { device, state } = await pkcs11Driver.create(c, { slotId: 'destroy' });
    await device.close?.();
    await pkcs11Driver.destroy?.(c, state, { slotId: 'destroy' });
    const token = await inspector();
    try {
      const left = await token.run({ action: 'look' }, (lib, session) =>
        findObjects(lib, session, [{ type: CKA.LABEL, value: c.keyLabel }]),
      );
      assert.equal(left.length, 0);
    } finally {
      await token.close();
    }
    await pkcs11Driver.destroy?.(c, state, { slotId: 'destroy' });
    await expectCode(pkcs11Driver.open(c, state, { slotId: 'destroy' }), 'EUNAVAIL', new RegExp(c.keyLabel));
  });
});

describe('pkcs11 protector: errors', () => {
  test('wrong PIN → ELOCKED, and the PIN never appears in the message', async () => {
    const wrongPin = 'not-the-pin-9137';
    const c = { ...config(PIN_TOKEN), pin: wrongPin };
    const error = await expectCode(pkcs11Driver.create(c, { slotId: 'pin' }), 'ELOCKED', /PIN is incorrect/);
    assert.equal(error.message.includes(wrongPin), false);
    assert.equal(JSON.stringify(error).includes(wrongPin), false);
  });

  test('wrong PIN is refused even while this process is already logged in to the token', async () => {
    const good = config(PIN_TOKEN);
    const { device, state } = await pkcs11Driver.create(good, { slotId: 'pin2' });
    try {
      await expectCode(
        pkcs11Driver.open({ ...good, pin: '999999' }, state, { slotId: 'pin2' }),
        'ELOCKED',
        /PIN is incorrect/,
      );
      // The right PIN still opens it, and the first device was not logged out by the failure.
      const again = await pkcs11Driver.open(good, state, { slotId: 'pin2' });
      const cipher = await again.encrypt(randomBytes(32), aad);
      await again.close?.();
      assert.equal((await device.decrypt(cipher, aad)).length, 32);
    } finally {
      await device.close?.();
      await pkcs11Driver.destroy?.(good, state, { slotId: 'pin2' });
    }
  });

  test('key deleted from the token → EUNAVAIL naming the label (open device and reopen)', async () => {
    for (const driver of [pkcs11Driver, keyWrapDriver]) {
      const c = config();
      const { device, state } = await driver.create(c, { slotId: 'gone' });
      try {
        const cipher = await device.encrypt(randomBytes(32), aad);
        const token = await inspector();
        try {
          await token.run({ action: 'delete' }, (lib, session) => {
            for (const handle of findObjects(lib, session, [{ type: CKA.LABEL, value: c.keyLabel }])) {
              lib.C_DestroyObject(session, handle);
            }
          });
        } finally {
          await token.close();
        }
        const named = new RegExp(`'${c.keyLabel}'.*gone|gone.*'${c.keyLabel}'`);
        await expectCode(device.decrypt(cipher, aad), 'EUNAVAIL', named);
        await expectCode(device.encrypt(randomBytes(32), aad), 'EUNAVAIL', named);
        await expectCode(
          driver.open(c, state, { slotId: 'gone' }),
          'EUNAVAIL',
          new RegExp(`'${c.keyLabel}'.*not on token`),
        );
      } finally {
        await device.close?.();
        await driver.destroy?.(c, state, { slotId: 'gone' });
      }
    }
  });

  test('create with a label already on the token → EALREADY, and the existing key keeps working', async () => {
    const c = config();
    const { device, state } = await pkcs11Driver.create(c, { slotId: 'dup' });
    try {
      const cipher = await device.encrypt(randomBytes(32), aad);
      await expectCode(pkcs11Driver.create(c, { slotId: 'dup2' }), 'EALREADY', new RegExp(c.keyLabel));
      await expectCode(keyWrapDriver.create(c, { slotId: 'dup3' }), 'EALREADY');
      assert.equal((await device.decrypt(cipher, aad)).length, 32);
    } finally {
      await device.close?.();
      await pkcs11Driver.destroy?.(c, state, { slotId: 'dup' });
    }
  });

  test('token missing, module missing, or a different token with the same label → EUNAVAIL', async () => {
    await expectCode(
      pkcs11Driver.create({ ...config(), tokenLabel: 'no-such-token' }, { slotId: 'x' }),
      'EUNAVAIL',
      /no token labelled 'no-such-token'/,
    );
    await expectCode(
      pkcs11Driver.create({ ...config(), module: '/nonexistent/libvendor-pkcs11.so' }, { slotId: 'x' }),
      'EUNAVAIL',
      /module not found/,
    );
    await expectCode(
      pkcs11Driver.create({ ...config(), module: '/etc/hostname' }, { slotId: 'x' }),
      'EUNAVAIL',
      /cannot load module/,
    );
    const c = config();
    const { device, state } = await pkcs11Driver.create(c, { slotId: 'serial' });
    await device.close?.();
    try {
      const moved = { ...state, tokenSerial: '0000000000000000' };
      await expectCode(pkcs11Driver.open(c, moved, { slotId: 'serial' }), 'EUNAVAIL', /different token/);
    } finally {
      await pkcs11Driver.destroy?.(c, state, { slotId: 'serial' });
    }
  });

  test('bad config, bad state and closed devices are refused before any token work', async () => {
    const c = config();
    await expectCode(
      pkcs11Driver.create({ ...c, module: 'libsofthsm2.so' }, { slotId: 'x' }),
      'EINVAL',
      /absolute path/,
    );
    await expectCode(pkcs11Driver.create({ ...c, keyLabel: '' }, { slotId: 'x' }), 'EINVAL');
    // The bound is in UTF-8 bytes (CKA_LABEL is bytes): 65 × 'é' is 65 characters but 130 bytes.
    for (const keyLabel of ['x'.repeat(129), '\u00e9'.repeat(65), 'kek\0hidden']) {
      await expectCode(pkcs11Driver.create({ ...c, keyLabel }, { slotId: 'x' }), 'EINVAL', /keyLabel/);
    }
    await expectCode(pkcs11Driver.create({ ...c, tokenLabel: 'x'.repeat(33) }, { slotId: 'x' }), 'EINVAL');
    await expectCode(pkcs11Driver.create({ ...c, pin: 42 as unknown as string }, { slotId: 'x' }), 'EINVAL');
    await expectCode(pkcs11Driver.create({ ...c, pin: '' }, { slotId: 'x' }), 'EINVAL', /needs a PIN/);
    await expectCode(
      pkcs11Driver.create({ ...c, type: 'tpm2' } as unknown as Pkcs11ProtectorConfig, { slotId: 'x' }),
      'EINVAL',
    );
    assert.throws(
      () => createPkcs11Driver({ mechanism: 'CKM_AES_CBC' as 'CKM_AES_GCM' }),
      /mechanism must be/,
    );
    const { device, state } = await pkcs11Driver.create(c, { slotId: 'cfg' });
    try {
      await expectCode(
        pkcs11Driver.open(c, { ...state, keyId: 'zz' }, { slotId: 'x' }),
        'EINVAL',
        /malformed/,
      );
      await expectCode(
        pkcs11Driver.open(c, { ...state, mechanism: 'CKM_DES' }, { slotId: 'x' }),
        'EINVAL',
        /malformed/,
      );
      await expectCode(
        pkcs11Driver.open({ ...c, keyLabel: 'other' }, state, { slotId: 'x' }),
        'EINVAL',
        /differs/,
      );
      await device.close?.();
      await device.close?.();
      await expectCode(device.encrypt(randomBytes(32), aad), 'EUNAVAIL', /closed/);
    } finally {
      await pkcs11Driver.destroy?.(c, state, { slotId: 'cfg' });
    }
  });
});
