// Passphrase protector: the shared conformance suite (Argon2id, scrypt and PBKDF2 at their OWASP floors
// so it stays fast), plus what is specific to passphrases — wrong passphrase → EBADMSG, a fresh salt on
// every create, tampered or malformed state → EINVAL, config validation, close() — and the SPEC vector
// for the keyslot state and ciphertext layout (fixed salt and nonce → exact hex).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gcm } from '@noble/ciphers/aes.js';
import { toHex, utf8 } from '../crypto/bytes.js';
import { derivePassphraseKey, type PassphraseKdfParams } from '../crypto/passphrase-kdf.js';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { exerciseProtector } from '../testing/protector-conformance.js';
import {
  createPassphraseProtector,
  type PassphraseProtectorConfig,
  parsePassphraseState,
  passphraseDriver,
} from './passphrase.js';
import type { ProtectorState } from './types.js';

const FLOORS: PassphraseKdfParams[] = [
  { alg: 'argon2id', memoryKiB: 19_456, iterations: 2, parallelism: 1 },
  { alg: 'scrypt', N: 2 ** 17, r: 8, p: 1 },
  { alg: 'pbkdf2-sha256', iterations: 600_000 },
];
const ARGON2_FLOOR = FLOORS[0]!;
const CAPS = { hardwareBacked: false, nonExportable: false, persistent: true, userPresence: false };
const AAD = utf8.encode('coffer:keyslot:v1|slot=test');
const ctx = { slotId: 'test' };

const config = (
  passphrase = 'correct horse battery staple',
  kdf = ARGON2_FLOOR,
): PassphraseProtectorConfig => ({
  type: 'passphrase',
  passphrase,
  kdf,
});

const code = (expected: string) => (error: unknown) => {
  assert.ok(error instanceof CofferError, String(error));
  assert.equal(error.code, expected, error.message);
  return true;
};

for (const kdf of FLOORS) {
  exerciseProtector(`passphrase (${kdf.alg})`, () => ({
    driver: passphraseDriver,
    config: config('conformance passphrase', kdf),
    expectedCapabilities: CAPS,
  }));
}

describe('passphrase protector specifics', () => {
  test('a wrong passphrase opens a device whose decrypt fails with EBADMSG (never other plaintext)', async () => {
    const { device, state } = await passphraseDriver.create(config('right one'), ctx);
    try {
      const wrapped = await device.encrypt(new Uint8Array(32).fill(7), AAD);
      for (const wrong of ['wrong one', 'right one ', 'Right one', 'right\u00a0one']) {
        const other = await passphraseDriver.open(config(wrong), state, ctx);
        try {
          await assert.rejects(other.decrypt(wrapped, AAD), code('EBADMSG'), wrong);
        } finally {
          await other.close?.();
        }
      }
      // NFC: the same passphrase typed with a combining accent opens the slot.
      const { device: accented, state: accentedState } = await passphraseDriver.create(
        config('caf\u00e9'),
        ctx,
      );
      const blob = await accented.encrypt(new Uint8Array(8), AAD);
      await accented.close?.();
      const reopened = await passphraseDriver.open(config('cafe\u0301'), accentedState, ctx);
      assert.deepEqual(await reopened.decrypt(blob, AAD), new Uint8Array(8));
      await reopened.close?.();
    } finally {
      await device.close?.();
    }
  });

  test('every create draws a fresh 32-byte salt, so the same passphrase gives independent slots', async () => {
    const salts = new Set<string>();
    const devices = [];
    try {
      for (let i = 0; i < 3; i++) {
        const { device, state } = await passphraseDriver.create(config('same passphrase'), ctx);
        devices.push(device);
        assert.match(String(state.salt), /^[0-9a-f]{64}$/);
        salts.add(String(state.salt));
      }
      assert.equal(salts.size, 3);
      const wrapped = await devices[0]!.encrypt(new Uint8Array(32), AAD);
      await assert.rejects(devices[1]!.decrypt(wrapped, AAD), code('EBADMSG'));
    } finally {
      for (const device of devices) await device.close?.();
    }
  });

  test('state is exactly { v: 1, kdf, salt } and defaults to Argon2id 64 MiB t=3 p=1 when no kdf is given', async () => {
    const rng = fixedRng(new Uint8Array(32).fill(1), new Uint8Array(12).fill(2));
    const driver = createPassphraseProtector({ rng });
    const { device, state } = await driver.create({ type: 'passphrase', passphrase: 'pw' }, ctx);
    await device.close?.();
    assert.deepEqual(JSON.parse(JSON.stringify(state)), {
      v: 1,
      kdf: { alg: 'argon2id', memoryKiB: 65_536, iterations: 3, parallelism: 1 },
      salt: '01'.repeat(32),
    });
  });

  test('tampered or malformed state → EINVAL before any derivation', async () => {
    const { device, state } = await passphraseDriver.create(config(), ctx);
    await device.close?.();
    const good = JSON.parse(JSON.stringify(state)) as Record<string, unknown>;
    const kdf = good.kdf as Record<string, unknown>;
    const bad: unknown[] = [
      null,
      'state',
      [],
      {},
      { ...good, v: 2 },
      { ...good, v: '1' },
      { kdf: good.kdf, salt: good.salt },
      { ...good, extra: true },
      { ...good, kdf: { ...kdf, memoryKiB: 100 * 1024 * 1024 } }, // would burn 100 GiB
      { ...good, kdf: { ...kdf, memoryKiB: 1024 } }, // below the floor: cheap to brute-force
      { ...good, kdf: { ...kdf, iterations: 1 } },
      { ...good, kdf: { alg: 'pbkdf2-sha256', iterations: 1000 } },
      { ...good, kdf: { alg: 'scrypt', N: 2 ** 30, r: 8, p: 1 } },
      { ...good, kdf: { ...kdf, alg: 'argon2i' } },
      { ...good, kdf: undefined },
      { ...good, salt: undefined },
      { ...good, salt: '' },
      { ...good, salt: '00'.repeat(15) },
      { ...good, salt: '00'.repeat(65) },
      { ...good, salt: `${String(good.salt).slice(0, -1)}g` },
      { ...good, salt: String(good.salt).toUpperCase() },
      { ...good, salt: `${String(good.salt)}0` },
      { ...good, salt: 42 },
    ];
    for (const tampered of bad) {
      assert.throws(() => parsePassphraseState(tampered), code('EINVAL'), JSON.stringify(tampered));
      await assert.rejects(
        passphraseDriver.open(config(), tampered as ProtectorState, ctx),
        code('EINVAL'),
        JSON.stringify(tampered),
      );
    }
    // A valid but different salt is not detectable from the state: it surfaces as EBADMSG on decrypt.
    const reopened = await passphraseDriver.open(config(), { ...good, salt: '00'.repeat(32) }, ctx);
    await assert.rejects(reopened.decrypt(new Uint8Array(40), AAD), code('EBADMSG'));
    await reopened.close?.();
  });

  test('config validation → EINVAL (type, passphrase, kdf, unknown fields), checked before any salt is drawn', async () => {
    let draws = 0;
    const counting: Rng = {
      insecure: true,
      randomBytes: (n) => {
        draws++;
        return new Uint8Array(n);
      },
    };
    const driver = createPassphraseProtector({ rng: counting });
    const bad: unknown[] = [
      null,
      'passphrase',
      { type: 'keyring', passphrase: 'pw' },
      { type: 'passphrase' },
      { type: 'passphrase', passphrase: '' },
      { type: 'passphrase', passphrase: 42 },
      { type: 'passphrase', passphrase: new Uint8Array(4) },
      { type: 'passphrase', passphrase: 'x'.repeat(1025) },
      { type: 'passphrase', passphrase: 'lone \ud800 surrogate' },
      {
        type: 'passphrase',
        passphrase: 'pw',
        kdf: { alg: 'argon2id', memoryKiB: 1024, iterations: 2, parallelism: 1 },
      },
      { type: 'passphrase', passphrase: 'pw', kdf: 'argon2id' },
      { type: 'passphrase', passphrase: 'pw', pin: '1234' },
    ];
    for (const c of bad) {
      await assert.rejects(
        driver.create(c as PassphraseProtectorConfig, ctx),
        code('EINVAL'),
        JSON.stringify(c),
      );
    }
    await assert.rejects(driver.create(config(), null as unknown as typeof ctx), code('EINVAL'));
    assert.equal(draws, 0, 'no randomness was consumed by refused calls');
  });

  test('close() wipes the key: later use is EUNAVAIL; close is idempotent; capabilities stay truthful', async () => {
    const { device } = await passphraseDriver.create(config(), ctx);
    const wrapped = await device.encrypt(new Uint8Array(32), AAD);
    assert.deepEqual(device.capabilities(), CAPS);
    await device.close?.();
    await device.close?.();
    await assert.rejects(device.encrypt(new Uint8Array(32), AAD), code('EUNAVAIL'));
    await assert.rejects(device.decrypt(wrapped, AAD), code('EUNAVAIL'));
    // The capabilities object handed out is a copy: mutating it changes nothing.
    const caps = device.capabilities();
    caps.hardwareBacked = true;
    assert.equal(device.capabilities().hardwareBacked, false);
  });
});

/** An Rng that hands out exactly the given chunks in order (the SPEC vector's fixed salt and nonce). */
function fixedRng(...chunks: Uint8Array[]): Rng {
  return {
    insecure: true,
    randomBytes(length: number): Uint8Array {
      const next = chunks.shift();
      assert.ok(next, 'unexpected extra randomness request');
      assert.equal(next.length, length, 'randomness requested in an unexpected size');
      return next;
    },
  };
}

describe('SPEC vector: passphrase keyslot state and ciphertext layout (A-spec "Test vector")', () => {
  const salt = Uint8Array.from({ length: 32 }, (_, i) => i); // 00 01 … 1f
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i); // a0 a1 … ab
  const masterKey = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i); // 40 41 … 5f
  const aad = utf8.encode('coffer:keyslot:v1|slot=spec-example');
  const passphrase = 'correct horse battery staple';
  const expected = {
    state: {
      v: 1,
      kdf: { alg: 'argon2id', memoryKiB: 19_456, iterations: 2, parallelism: 1 },
      salt: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    },
    kek: '092d6e91987840e63e2fac5e187ac5d29b489f05597971fd6554555a1a20ce2a',
    ciphertext:
      'a0a1a2a3a4a5a6a7a8a9aaab' +
      '1679b2373064eab3988e35f864abc24e1e46dfde8879e509a9cfe09ba9097cbb' +
      'b6afa290456499799fc2989d5083a99f',
  };

  test('create + encrypt with fixed salt and nonce give exactly the SPEC bytes, and open + decrypt invert them', async () => {
    const driver = createPassphraseProtector({ rng: fixedRng(salt, nonce) });
    const { device, state } = await driver.create(config(passphrase, ARGON2_FLOOR), {
      slotId: 'spec-example',
    });
    try {
      assert.deepEqual(JSON.parse(JSON.stringify(state)), expected.state);
      const wrapped = await device.encrypt(masterKey, aad);
      assert.equal(toHex(wrapped), expected.ciphertext);
      const reopened = await passphraseDriver.open(config(passphrase), expected.state, {
        slotId: 'spec-example',
      });
      assert.deepEqual(await reopened.decrypt(wrapped, aad), masterKey);
      await reopened.close?.();
    } finally {
      await device.close?.();
    }
  });

  test('the layout is independent of our code: KEK = Argon2id(passphrase, salt), ciphertext = nonce ‖ AES-256-GCM (noble)', () => {
    const kek = derivePassphraseKey(expected.state.kdf as PassphraseKdfParams, passphrase, salt);
    assert.equal(toHex(kek), expected.kek);
    const sealed = gcm(kek, nonce, aad).encrypt(masterKey);
    assert.equal(toHex(nonce) + toHex(sealed), expected.ciphertext);
  });
});
