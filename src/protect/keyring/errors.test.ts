// The keyring error classifier (SPEC §5: "not found", "locked" and "failed" kept distinct). The
// Linux strings are the ones @napi-rs/keyring 2.x printed against the real gnome-keyring and buses
// in keyring.test.ts's scenarios; the macOS and Windows strings are the security-framework and
// keyring-core texts for the statuses those stores report (those paths cannot run on this machine).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CofferError } from '../../errors.js';
import { type KeyringPlatform, mapKeyringError } from './errors.js';

function libraryError(message: string, cause?: string): Error {
  const error = new Error(message) as Error & { code: string };
  error.code = 'GenericFailure';
  if (cause !== undefined) error.cause = Object.assign(new Error(cause), { code: 'GenericFailure' });
  return error;
}

function mapped(platform: KeyringPlatform, message: string, cause?: string): CofferError {
  return mapKeyringError(libraryError(message, cause), {
    platform,
    operation: 'read',
    service: 'svc',
    account: 'acct',
  });
}

test('keyring errors: Secret Service texts map to ELOCKED / EUNAVAIL-with-how-to / ENOENT', () => {
  const dismissed = mapped(
    'secret-service',
    "Couldn't access platform storage: Secret Service: unlock prompt was dismissed",
    'Secret Service: unlock prompt was dismissed',
  );
  assert.equal(dismissed.code, 'ELOCKED');
  assert.match(dismissed.message, /is locked/);
  assert.match(dismissed.message, /service="svc" account="acct"/);
  assert.equal(
    mapped('secret-service', "Couldn't access platform storage: Secret Service: object locked").code,
    'ELOCKED',
  );

  for (const text of [
    'Platform failure: DBus error: The name org.freedesktop.secrets was not provided by any .service files',
    'Platform failure: DBus error: Failed to connect to socket /tmp/nowhere: No such file or directory',
    'Platform failure: No DBus session or Secret Service provider found',
  ]) {
    const error = mapped('secret-service', text);
    assert.equal(error.code, 'EUNAVAIL', text);
    assert.match(error.message, /dbus-run-session/);
    assert.match(error.message, /never falls back to the kernel keyutils/);
  }
  assert.equal(mapped('secret-service', 'No matching entry found in secure storage').code, 'ENOENT');
  assert.equal(mapped('secret-service', 'Entry is matched by multiple credentials: 2').code, 'EUNAVAIL');
  assert.equal(
    mapped('secret-service', "Attribute 'service' is longer than the platform limit of 10 chars").code,
    'EINVAL',
  );
  const other = mapped('secret-service', 'Platform failure: D-Bus error: message decryption failed');
  assert.equal(other.code, 'EUNAVAIL');
  assert.match(other.message, /failed to read/);
});

test('keyring errors: macOS Keychain statuses (locked, cancelled, wrong password) → ELOCKED; item not found → ENOENT', () => {
  for (const text of [
    'Platform failure: User interaction is not allowed.',
    'Platform failure: User canceled the operation.',
    'Platform failure: The user name or passphrase you entered is not correct.',
  ]) {
    const error = mapped('macos-keychain', text);
    assert.equal(error.code, 'ELOCKED', text);
    assert.match(error.message, /security unlock-keychain/);
  }
  assert.equal(mapped('macos-keychain', 'No matching entry found in secure storage').code, 'ENOENT');
  assert.equal(
    mapped('macos-keychain', "Couldn't access platform storage: The specified keychain could not be found.")
      .code,
    'EUNAVAIL',
  );
});

test('keyring errors: Windows Credential Manager — no logon session → EUNAVAIL with the reason; not found → ENOENT', () => {
  const session = mapped(
    'windows-credential-manager',
    "Couldn't access platform storage: A specified logon session does not exist. It may already have been terminated.",
  );
  assert.equal(session.code, 'EUNAVAIL');
  assert.match(session.message, /logon session/);
  assert.equal(
    mapped('windows-credential-manager', 'No matching entry found in secure storage').code,
    'ENOENT',
  );
});

test('keyring errors: a missing native binary and CofferErrors pass through sensibly; messages stay bounded', () => {
  const binary = mapped(
    'secret-service',
    'Cannot find native binding. npm has a bug related to optional dependencies',
  );
  assert.equal(binary.code, 'EUNAVAIL');
  assert.match(binary.message, /no native binary/);
  const own = new CofferError('ENOENT', 'x');
  assert.equal(
    mapKeyringError(own, { platform: 'secret-service', operation: 'read', service: 's', account: 'a' }),
    own,
  );
  const long = mapped('secret-service', `Platform failure: ${'z'.repeat(5000)}`);
  assert.ok(long.message.length < 700, String(long.message.length));
  assert.ok(long.cause instanceof Error, 'the library error is kept as the cause');
});
