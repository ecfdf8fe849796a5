// The in-process AES-256-GCM device shared by the passphrase, keyring and TPM 2.0 protectors: its
// size bounds (E2BIG exactly one byte past each limit), the closed state, key ownership (wiped on
// close) and the SPEC §5 layout nonce(12) ‖ ciphertext ‖ tag(16) checked against node:crypto.
import assert from 'node:assert/strict';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { systemRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { InProcessAeadDevice, NONCE_LENGTH, TAG_LENGTH } from './aead-device.js';

const CAPS = { hardwareBacked: false, nonExportable: false, persistent: true, userPresence: false };
const aad = new TextEncoder().encode('coffer:keyslot:v1|slot=aead-device');

function code(expected: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof CofferError, String(error));
    assert.equal(error.code, expected, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  };
}

test('aead device: output is nonce ‖ AES-256-GCM ciphertext ‖ tag under the given key and aad', async () => {
  const key = randomBytes(32);
  const keyCopy = Buffer.from(key);
  const device = new InProcessAeadDevice(key, { name: 'test', capabilities: CAPS, rng: systemRng });
  const plain = randomBytes(32);
  const sealed = await device.encrypt(plain, aad);
  assert.equal(sealed.length, NONCE_LENGTH + plain.length + TAG_LENGTH);
  const decipher = createDecipheriv('aes-256-gcm', keyCopy, sealed.subarray(0, NONCE_LENGTH));
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
  const body = sealed.subarray(NONCE_LENGTH, sealed.length - TAG_LENGTH);
  assert.deepEqual(Buffer.concat([decipher.update(body), decipher.final()]), plain);
  await device.close();
});

test('aead device: plaintext, ciphertext and aad bounds → E2BIG one byte past the limit, not at it', async () => {
  const device = new InProcessAeadDevice(randomBytes(32), {
    name: 'test',
    capabilities: CAPS,
    rng: systemRng,
    maxPlaintext: 64,
    maxAad: 16,
  });
  try {
    const atLimit = await device.encrypt(new Uint8Array(64), new Uint8Array(16));
    assert.equal(atLimit.length, 64 + NONCE_LENGTH + TAG_LENGTH);
    assert.equal((await device.decrypt(atLimit, new Uint8Array(16))).length, 64);
    await assert.rejects(device.encrypt(new Uint8Array(65), aad), code('E2BIG', /plaintext/));
    await assert.rejects(device.encrypt(new Uint8Array(1), new Uint8Array(17)), code('E2BIG', /aad/));
    await assert.rejects(
      device.decrypt(new Uint8Array(65 + NONCE_LENGTH + TAG_LENGTH), aad),
      code('E2BIG', /ciphertext/),
    );
    await assert.rejects(device.decrypt(atLimit, new Uint8Array(17)), code('E2BIG', /aad/));
  } finally {
    await device.close();
  }
});

test('aead device: without bounds, sizes past any protector limit still round-trip', async () => {
  const device = new InProcessAeadDevice(randomBytes(32), {
    name: 'test',
    capabilities: CAPS,
    rng: systemRng,
  });
  try {
    const plain = randomBytes((1 << 20) + 1);
    const bigAad = randomBytes((64 << 10) + 1);
    assert.deepEqual(Buffer.from(await device.decrypt(await device.encrypt(plain, bigAad), bigAad)), plain);
  } finally {
    await device.close();
  }
});

test('aead device: close wipes the key it owns, later use is EUNAVAIL naming the protector, close is idempotent', async () => {
  const key = randomBytes(32);
  const device = new InProcessAeadDevice(key, { name: 'tpm2', capabilities: CAPS, rng: systemRng });
  const sealed = await device.encrypt(randomBytes(32), aad);
  await device.close();
  assert.ok(
    key.every((b) => b === 0),
    'key wiped',
  );
  await assert.rejects(device.encrypt(randomBytes(32), aad), code('EUNAVAIL', /^tpm2 protector is closed$/));
  await assert.rejects(device.decrypt(sealed, aad), code('EUNAVAIL', /closed/));
  await device.close();
  assert.deepEqual(device.capabilities(), CAPS);
});

test('aead device: a key that is not 32 bytes → EINVAL; capabilities cannot be changed through the result', async () => {
  assert.throws(
    () => new InProcessAeadDevice(new Uint8Array(16), { name: 'test', capabilities: CAPS, rng: systemRng }),
    code('EINVAL'),
  );
  const caps = { ...CAPS };
  const device = new InProcessAeadDevice(randomBytes(32), {
    name: 'test',
    capabilities: caps,
    rng: systemRng,
  });
  caps.hardwareBacked = true;
  const got = device.capabilities();
  got.persistent = false;
  assert.deepEqual(device.capabilities(), CAPS);
  await device.close();
});
