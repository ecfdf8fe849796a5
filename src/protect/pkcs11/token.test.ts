// The token layer under the protector and resident keys: the CKR_* → CofferError table, the PKCS#11
// numbers in constants.ts against the pkcs11js addon, and the module lifecycle on a real SoftHSM2
// (shared by sessions, finalised by the last user, re-initialisable; label ambiguity and serials).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CofferError } from '../../errors.js';
import { type SoftHsm, startSoftHsm } from '../../testing/softhsm.js';
import { codeForCkr, fromPkcs11Error, UNAVAILABLE_CKR } from './ckr.js';
import { CKA, CKF_MECH, CKF_SLOT, CKF_TOKEN, CKK, CKM, CKO, CKU_USER, mechanismName } from './constants.js';
import { _loadedModules, loadBinding } from './module.js';
import { generateResidentKey, signResident } from './resident-keys.js';
import { Pkcs11Token } from './token.js';

let hsm: SoftHsm;

before(async () => {
  hsm = await startSoftHsm([
    { label: 'alpha' },
    { label: 'beta', pin: '55556666' },
    { label: 'twin' },
    { label: 'twin' },
  ]);
});

after(async () => {
  const leaked = _loadedModules();
  await hsm.close();
  assert.deepEqual(leaked, []);
});

function open(label: string, extra: { serial?: string; pin?: string } = {}): Promise<Pkcs11Token> {
  const token = hsm.tokens.find((t) => t.label === label);
  assert.ok(token !== undefined);
  return Pkcs11Token.open({
    module: hsm.module,
    tokenLabel: label,
    pin: extra.pin ?? token.pin,
    ...(extra.serial ? { serial: extra.serial } : {}),
  });
}

describe('CKR mapping (SPEC: PKCS#11 error mapping)', () => {
  test('PIN problems → ELOCKED; vanished handles → EUNAVAIL; bad ciphertext → EBADMSG only when authenticating', () => {
    for (const name of [
      'CKR_PIN_INCORRECT',
      'CKR_PIN_INVALID',
      'CKR_PIN_LEN_RANGE',
      'CKR_PIN_LOCKED',
      'CKR_PIN_EXPIRED',
      'CKR_USER_PIN_NOT_INITIALIZED',
    ]) {
      assert.equal(codeForCkr(name, { action: 'x' }), 'ELOCKED', name);
    }
    for (const name of [
      'CKR_OBJECT_HANDLE_INVALID',
      'CKR_KEY_HANDLE_INVALID',
      'CKR_UNWRAPPING_KEY_HANDLE_INVALID',
    ]) {
      assert.equal(codeForCkr(name, { action: 'x', authenticates: true }), 'EUNAVAIL', name);
    }
    for (const name of [
      'CKR_ENCRYPTED_DATA_INVALID',
      'CKR_ENCRYPTED_DATA_LEN_RANGE',
      'CKR_WRAPPED_KEY_INVALID',
      'CKR_WRAPPED_KEY_LEN_RANGE',
      'CKR_AEAD_DECRYPT_FAILED',
    ]) {
      assert.equal(codeForCkr(name, { action: 'x', authenticates: true }), 'EBADMSG', name);
      assert.equal(codeForCkr(name, { action: 'x' }), 'EINVAL', name);
    }
    assert.equal(codeForCkr('CKR_DATA_LEN_RANGE', { action: 'x' }), 'E2BIG');
    assert.equal(codeForCkr('CKR_ARGUMENTS_BAD', { action: 'x' }), 'EINTERNAL');
    for (const name of UNAVAILABLE_CKR) assert.equal(codeForCkr(name, { action: 'x' }), 'EUNAVAIL', name);
    assert.equal(codeForCkr('CKR_VENDOR_DEFINED_THING', { action: 'x' }), 'EUNAVAIL');
  });

  test('fromPkcs11Error names the action and key, keeps CofferErrors, and wraps non-PKCS#11 throwables', () => {
    const gone = fromPkcs11Error(new Error('CKR_OBJECT_HANDLE_INVALID:130'), {
      action: 'decrypt',
      keyName: "'kek-1'",
    });
    assert.equal(gone.code, 'EUNAVAIL');
    assert.match(gone.message, /token key 'kek-1' is gone from the token \(CKR_OBJECT_HANDLE_INVALID\)/);
    const pin = fromPkcs11Error(new Error('CKR_PIN_INCORRECT:160'), { action: "log in to token 't'" });
    assert.equal(pin.code, 'ELOCKED');
    assert.match(pin.message, /cannot log in to token 't': the PIN is incorrect/);
    const same = new CofferError('EALREADY', 'x');
    assert.equal(fromPkcs11Error(same, { action: 'x' }), same);
    const other = fromPkcs11Error(new TypeError('boom'), { action: 'sign' });
    assert.equal(other.code, 'EUNAVAIL');
    assert.match(other.message, /cannot sign: boom/);
  });
});

describe('constants.ts agrees with the pkcs11js addon', () => {
  test('every number the addon also defines is identical', () => {
    const binding = loadBinding() as unknown as Record<string, number | undefined>;
    const groups: [string, Record<string, number>][] = [
      ['CKA_', CKA],
      ['CKO_', CKO],
      ['CKK_', CKK],
      ['CKM_', CKM],
      ['CKF_', CKF_MECH],
      ['CKF_', CKF_TOKEN],
      ['CKF_', CKF_SLOT],
    ];
    let compared = 0;
    for (const [prefix, table] of groups) {
      for (const [name, value] of Object.entries(table)) {
        const theirs = binding[prefix + name];
        if (theirs === undefined) continue; // v3.0 Edwards constants: the addon stops at v2.40
        assert.equal(value, theirs, prefix + name);
        compared++;
      }
    }
    assert.equal(CKU_USER, binding.CKU_USER);
    assert.ok(compared >= 45, `compared only ${compared} constants`);
    assert.equal(binding.CKM_EDDSA, undefined, 'if the addon gains CKM_EDDSA, compare it too');
    assert.equal(mechanismName(CKM.EDDSA), 'CKM_EDDSA');
    assert.equal(mechanismName(0x1234), 'mechanism 0x1234');
  });
});

describe('module lifecycle on SoftHSM2', () => {
  test('sessions share one loaded module; closing one keeps the others logged in; the last finalises', async () => {
    const a = await open('alpha');
    const b = await open('alpha');
    const c = await open('beta');
    try {
      assert.equal(_loadedModules().length, 1);
      await a.close();
      assert.equal(_loadedModules().length, 1);
      // b is still logged in: generating a private token key needs the user session.
      const key = await generateResidentKey(b, { alg: 'ed25519', label: 'lifecycle' });
      assert.equal((await signResident(b, key.handleId, randomBytes(16))).length, 64);
      assert.equal(
        (await generateResidentKey(c, { alg: 'ecdsa-p256', label: 'lifecycle-beta' })).publicKey.length,
        65,
      );
    } finally {
      await a.close();
      await b.close();
      await c.close();
    }
    assert.deepEqual(_loadedModules(), []);
    // After C_Finalize the module initialises again, and the token keys are still there.
    const again = await open('alpha');
    try {
      const found = await again.run({ action: 'find' }, (lib, session) => {
        lib.C_FindObjectsInit(session, [{ type: CKA.LABEL, value: 'lifecycle' }]);
        const handles = lib.C_FindObjects(session, 4);
        lib.C_FindObjectsFinal(session);
        return handles.length;
      });
      assert.equal(found, 2, 'public and private halves persisted');
    } finally {
      await again.close();
    }
  });

  test('two tokens with one label are ambiguous (EINVAL) until the serial picks one', async () => {
    await assert.rejects(open('twin'), (error: unknown) => {
      assert.ok(error instanceof CofferError);
      assert.equal(error.code, 'EINVAL');
      assert.match(error.message, /2 tokens are labelled 'twin'/);
      return true;
    });
    const serials = await (async () => {
      const probe = await open('alpha');
      try {
        return await probe.run({ action: 'list' }, (lib) =>
          lib
            .C_GetSlotList(true)
            .map((slot) => lib.C_GetTokenInfo(slot))
            .filter((info) => info.label.trimEnd() === 'twin')
            .map((info) => info.serialNumber.trimEnd()),
        );
      } finally {
        await probe.close();
      }
    })();
    assert.equal(serials.length, 2);
    for (const serial of serials) {
      const token = await open('twin', { serial });
      try {
        assert.equal(token.info.serial, serial);
      } finally {
        await token.close();
      }
    }
  });

  test('wrong PIN → ELOCKED without leaking the PIN; the module is released again', async () => {
    await assert.rejects(open('beta', { pin: 'wrong-7777' }), (error: unknown) => {
      assert.ok(error instanceof CofferError);
      assert.equal(error.code, 'ELOCKED');
      assert.equal(error.message.includes('wrong-7777'), false);
      return true;
    });
    assert.deepEqual(_loadedModules(), []);
  });

  test('mechanism probing reflects C_GetMechanismInfo flags', async () => {
    const token = await open('alpha');
    try {
      assert.equal(token.supports(CKM.AES_GCM, ['encrypt', 'decrypt']), true);
      assert.equal(token.supports(CKM.AES_KEY_WRAP_PAD, ['wrap', 'unwrap']), true);
      assert.equal(token.supports(CKM.AES_KEY_WRAP_PAD, ['encrypt']), false);
      assert.equal(token.supports(CKM.ECDSA_SHA256), false);
      const info = token.mechanismInfo(CKM.EDDSA);
      assert.ok(info !== undefined && (info.flags & CKF_MECH.SIGN) !== 0);
    } finally {
      await token.close();
    }
  });
});
