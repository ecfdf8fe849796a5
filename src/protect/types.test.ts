// The protector context check every driver that uses the context shares: what it accepts, what is
// EINVAL, and that the passphrase, keyring and TPM 2.0 drivers refuse a bad context before any KDF,
// OS store or TPM work (the configs point at stores that do not exist, so getting past the check
// would fail with another code).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CofferError } from '../errors.js';
import { keyringDriver } from './keyring/index.js';
import { passphraseDriver } from './passphrase.js';
import { tpm2Driver } from './tpm2/index.js';
import { assertProtectorContext, type ProtectorContext } from './types.js';

const BAD_CONTEXTS: unknown[] = [
  undefined,
  null,
  42,
  'slot',
  [],
  {},
  { slotId: 3 },
  { slotId: '' },
  { slotId: 'x'.repeat(257) },
  new (class {
    slotId = 'a';
  })(),
];

function einval(error: unknown): boolean {
  assert.ok(error instanceof CofferError, String(error));
  assert.equal(error.code, 'EINVAL', error.message);
  assert.match(error.message, /context/);
  return true;
}

test('protector context: plain objects with a 1–256 character slotId pass; anything else is EINVAL', () => {
  for (const good of [
    { slotId: 'a' },
    { slotId: 'x'.repeat(256) },
    Object.assign(Object.create(null), { slotId: 's' }),
  ]) {
    assert.doesNotThrow(() => assertProtectorContext(good));
  }
  for (const bad of BAD_CONTEXTS) assert.throws(() => assertProtectorContext(bad), einval, String(bad));
});

test('protector context: passphrase, keyring and tpm2 drivers refuse a bad context before touching anything', async () => {
  const saved = process.env.DBUS_SESSION_BUS_ADDRESS;
  process.env.DBUS_SESSION_BUS_ADDRESS = 'unix:path=/nonexistent/coffer-bus';
  try {
    for (const bad of BAD_CONTEXTS) {
      const ctx = bad as ProtectorContext;
      await assert.rejects(
        passphraseDriver.create({ type: 'passphrase', passphrase: 'correct horse battery staple' }, ctx),
        einval,
      );
      await assert.rejects(
        keyringDriver.create({ type: 'keyring', service: 'coffer-types-test', account: 'a' }, ctx),
        einval,
      );
      await assert.rejects(
        tpm2Driver.create({ type: 'tpm2', tcti: 'swtpm:host=127.0.0.1,port=1' }, ctx),
        einval,
      );
    }
  } finally {
    if (saved === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
    else process.env.DBUS_SESSION_BUS_ADDRESS = saved;
  }
});
