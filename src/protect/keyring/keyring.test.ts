// The keyring protector against a real gnome-keyring Secret Service on a private bus: the shared
// conformance suite, then the contract's distinctions (not found / locked / failed / replaced), proof
// that the entry lives under exactly the configured service and account (read back with secret-tool
// and gdbus, tools independent of @napi-rs/keyring), and proof that with no Secret Service nothing
// reaches the kernel keyutils keyring.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createDecipheriv, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { exerciseProtector } from '../../testing/protector-conformance.js';
import {
  type SecretServiceFixture,
  startSecretService,
  startSessionBus,
} from '../../testing/secret-service.js';
import { type KeyringConfig, keyCheckValue, keyringDriver } from './index.js';

let ss: SecretServiceFixture;
const execFileAsync = promisify(execFile);
const SERVICE = `coffer-test-${randomUUID().slice(0, 8)}`;
const aad = new TextEncoder().encode('coffer:keyslot:v1|slot=keyring-test');

before(async () => {
  ss = await startSecretService();
});
after(async () => {
  await ss?.stop();
});

function freshConfig(): KeyringConfig {
  return { type: 'keyring', service: SERVICE, account: `acct-${randomUUID()}` };
}

async function expectCode(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<Error> {
  let caught: Error | undefined;
  await assert.rejects(promise, (error: Error) => {
    assert.equal((error as { code?: string }).code, code, String(error));
    if (pattern) assert.match(error.message, pattern);
    caught = error;
    return true;
  });
  return caught as Error;
}

/** The secret under (service, username) as secret-tool sees it, or null when it has none. */
async function lookup(config: KeyringConfig): Promise<Buffer | null> {
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

async function storeWithSecretTool(config: KeyringConfig, secret: Uint8Array): Promise<void> {
  await ss.run(
    'secret-tool',
    ['store', '--label=planted by test', 'service', config.service, 'username', config.account],
    secret,
  );
}

async function clearWithSecretTool(config: KeyringConfig): Promise<void> {
  await ss.run('secret-tool', ['clear', 'service', config.service, 'username', config.account]);
}

/** /proc/keys lines naming our test service: keyutils entries would appear here. */
function kernelKeysMentioning(text: string): string[] | undefined {
  let keys: string;
  try {
    keys = readFileSync('/proc/keys', 'utf8');
  } catch {
    return undefined; // not readable here: the probe-message assertions still prove the refusal
  }
  return keys.split('\n').filter((line) => line.includes(text));
}

async function withEnv(changes: Record<string, string | undefined>, run: () => Promise<void>): Promise<void> {
  const saved = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(changes)) {
    saved.set(name, process.env[name]);
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  try {
    await run();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

exerciseProtector('keyring', () => ({
  driver: keyringDriver,
  config: freshConfig(),
  expectedCapabilities: {
    hardwareBacked: false,
    nonExportable: false,
    persistent: true,
    userPresence: false,
  },
}));

test('keyring: the key sits under exactly (service, account) in the on-disk login collection and is the AES-256-GCM key', async () => {
  const config = freshConfig();
  const { device, state } = await keyringDriver.create(config, { slotId: 'layout' });
  try {
    const key = await lookup(config);
    assert.ok(key, 'secret-tool finds the entry by service and username');
    assert.equal(key.length, 32);
    // Exactly one item carries the account, in the persistent login collection (not "session").
    const { stdout } = await ss.run('gdbus', [
      'call',
      '--session',
      '--dest',
      'org.freedesktop.secrets',
      '--object-path',
      '/org/freedesktop/secrets',
      '--method',
      'org.freedesktop.Secret.Service.SearchItems',
      `{'service': '${config.service}', 'username': '${config.account}'}`,
    ]);
    const paths = stdout.toString('utf8').match(/\/org\/freedesktop\/secrets\/collection\/[^'\]]+/g) ?? [];
    assert.equal(paths.length, 1, stdout.toString('utf8'));
    assert.match(paths[0] ?? '', /^\/org\/freedesktop\/secrets\/collection\/login\//);
    // SPEC layout nonce(12) ‖ ct ‖ tag(16), decrypted by node:crypto with the bytes secret-tool read.
    const plain = randomBytes(32);
    const cipher = Buffer.from(await device.encrypt(plain, aad));
    assert.equal(cipher.length, 12 + 32 + 16);
    const decipher = createDecipheriv('aes-256-gcm', key, cipher.subarray(0, 12));
    decipher.setAAD(aad);
    decipher.setAuthTag(cipher.subarray(cipher.length - 16));
    assert.deepEqual(
      Buffer.concat([decipher.update(cipher.subarray(12, cipher.length - 16)), decipher.final()]),
      plain,
    );
    // The state is the key check value and nothing secret.
    const kcv = createHmac('sha256', key)
      .update('coffer:keyring:kcv:v1')
      .digest()
      .subarray(0, 16)
      .toString('hex');
    assert.deepEqual(state, { version: 1, algorithm: 'aes-256-gcm', kcv });
    const stateText = JSON.stringify(state);
    assert.ok(!stateText.includes(key.toString('hex')) && !stateText.includes(key.toString('base64')));
  } finally {
    await device.close?.();
    await keyringDriver.destroy?.(config, state, { slotId: 'layout' });
  }
  assert.equal(await lookup(config), null, 'destroy removed the entry');
  await expectCode(keyringDriver.open(config, state, { slotId: 'layout' }), 'ENOENT');
});

test('keyring: SPEC §5 keyring vector — a planted key opens with its KCV and decrypts the documented ciphertext', async () => {
  // Values cross-checked with the OpenSSL CLI (HMAC) and Python's cryptography (AES-GCM).
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const state = { version: 1, algorithm: 'aes-256-gcm', kcv: '9130f5e5b1461e5226b77a5270cee78f' };
  const vectorAad = new TextEncoder().encode(
    'coffer:keyslot:v1|store=AAAAAAAAAAAAAAAAAAAAAA|slot=s_aaaaaaaaaaaaaaaa|type=keyring',
  );
  const cipher = Buffer.from(
    '000102030405060708090a0b0540945987a78059cf03d5c9f3ab3a2fc194c576b2391d3e7a25a7c75f2b42f098f68187106a5ab546eb6cac90a91a8e',
    'hex',
  );
  assert.equal(Buffer.from(keyCheckValue(key)).toString('hex'), state.kcv);
  const config = freshConfig();
  await storeWithSecretTool(config, key);
  try {
    const device = await keyringDriver.open(config, state, { slotId: 'vector' });
    try {
      assert.deepEqual(Buffer.from(await device.decrypt(cipher, vectorAad)), Buffer.alloc(32, 0x42));
    } finally {
      await device.close?.();
    }
    await keyringDriver.destroy?.(config, state, { slotId: 'vector' });
    assert.equal(await lookup(config), null);
  } finally {
    if ((await lookup(config)) !== null) await clearWithSecretTool(config);
  }
});

test('keyring: create refuses to overwrite an existing entry (EALREADY) and leaves it intact', async () => {
  const foreign = freshConfig();
  const planted = randomBytes(32);
  await storeWithSecretTool(foreign, planted);
  try {
    await expectCode(keyringDriver.create(foreign, { slotId: 'x' }), 'EALREADY', /will not overwrite/);
    assert.deepEqual(await lookup(foreign), planted);
  } finally {
    await clearWithSecretTool(foreign);
  }

  const config = freshConfig();
  const { device, state } = await keyringDriver.create(config, { slotId: 'first' });
  try {
    const cipher = await device.encrypt(randomBytes(32), aad);
    await expectCode(keyringDriver.create(config, { slotId: 'second' }), 'EALREADY');
    const reopened = await keyringDriver.open(config, state, { slotId: 'first' });
    assert.equal((await reopened.decrypt(cipher, aad)).length, 32);
    await reopened.close?.();
  } finally {
    await device.close?.();
    await keyringDriver.destroy?.(config, state, { slotId: 'first' });
  }
});

test('keyring: an entry deleted outside Coffer → ENOENT on open (pointing at another slot); destroy is a no-op', async () => {
  const config = freshConfig();
  const { device, state } = await keyringDriver.create(config, { slotId: 'gone' });
  await device.close?.();
  await clearWithSecretTool(config);
  assert.equal(await lookup(config), null);
  await expectCode(keyringDriver.open(config, state, { slotId: 'gone' }), 'ENOENT', /another keyslot/);
  await keyringDriver.destroy?.(config, state, { slotId: 'gone' });
});

test('keyring: an entry replaced by another key → EBADMSG on open; destroy refuses (EPERM) and keeps it', async () => {
  const config = freshConfig();
  const { device, state } = await keyringDriver.create(config, { slotId: 'replaced' });
  await device.close?.();
  const other = randomBytes(32);
  await storeWithSecretTool(config, other); // secret-tool store replaces the item with these attributes
  try {
    await expectCode(keyringDriver.open(config, state, { slotId: 'replaced' }), 'EBADMSG', /different key/);
    await expectCode(
      keyringDriver.destroy!(config, state, { slotId: 'replaced' }),
      'EPERM',
      /refusing to delete/,
    );
    assert.deepEqual(await lookup(config), other);
  } finally {
    await clearWithSecretTool(config);
  }
});

test('keyring: a locked collection → ELOCKED ("locked"), distinct from ENOENT; after unlock the key is still there', async () => {
  const config = freshConfig();
  const { device, state } = await keyringDriver.create(config, { slotId: 'lock' });
  const plain = randomBytes(32);
  const cipher = await device.encrypt(plain, aad);
  await device.close?.();
  try {
    await ss.lock();
    await expectCode(keyringDriver.open(config, state, { slotId: 'lock' }), 'ELOCKED', /locked/);
    await expectCode(keyringDriver.create(freshConfig(), { slotId: 'lock2' }), 'ELOCKED', /locked/);
    await expectCode(keyringDriver.destroy!(config, state, { slotId: 'lock' }), 'ELOCKED', /locked/);
  } finally {
    // A fresh daemon on the same files unlocks login with the password: the entry survived on disk.
    await ss.restart();
  }
  assert.equal(await ss.isLocked(), false);
  const reopened = await keyringDriver.open(config, state, { slotId: 'lock' });
  try {
    assert.deepEqual(Buffer.from(await reopened.decrypt(cipher, aad)), plain);
  } finally {
    await reopened.close?.();
    await keyringDriver.destroy?.(config, state, { slotId: 'lock' });
  }
});

/**
 * Runs create (then destroy if it worked) in a fresh Node process with exactly `env`. Fresh, because
 * libdbus reads DBUS_SESSION_BUS_ADDRESS once per process and keeps it: in this process the library
 * is already bound to the fixture's bus. Reports whether @napi-rs/keyring was ever loaded there.
 */
async function inFreshProcess(
  env: NodeJS.ProcessEnv,
  config: KeyringConfig,
  keep = false,
): Promise<{ state?: Record<string, unknown>; code?: string; message?: string; libraryLoaded: boolean }> {
  const driverUrl = new URL('./index.js', import.meta.url).href;
  const script = `
    import { createRequire } from 'node:module';
    const { keyringDriver } = await import(${JSON.stringify(driverUrl)});
    const config = ${JSON.stringify(config)};
    const out = {};
    try {
      const { device, state } = await keyringDriver.create(config, { slotId: 'child' });
      await device.close();
      if (!${keep}) await keyringDriver.destroy(config, state, { slotId: 'child' });
      out.state = state;
    } catch (error) {
      out.code = error.code;
      out.message = error.message;
    }
    // The library is CommonJS: if anything loaded it, it sits in the require cache.
    out.libraryLoaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@napi-rs/keyring'));
    process.stdout.write(JSON.stringify(out));
  `;
  const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, ...env },
    timeout: 30_000,
  });
  return JSON.parse(stdout);
}

function assertNoKernelKey(service: string): void {
  const leaked = kernelKeysMentioning(service);
  if (leaked !== undefined) assert.deepEqual(leaked, [], 'no kernel keyutils key was created');
}

test('keyring: no session bus → EUNAVAIL saying how to start one; the library is never loaded; no keyutils key', async () => {
  const config = { ...freshConfig(), service: `${SERVICE}-nobus` };
  for (const env of [
    { DBUS_SESSION_BUS_ADDRESS: `unix:path=${ss.bus.dir}/no-such-socket` },
    {}, // no address and no $XDG_RUNTIME_DIR/bus
  ]) {
    const result = await inFreshProcess(env, config);
    assert.equal(result.code, 'EUNAVAIL', JSON.stringify(result));
    assert.match(result.message ?? '', /no D-Bus session bus/);
    assert.match(result.message ?? '', /dbus-run-session/);
    assert.match(result.message ?? '', /gnome-keyring-daemon --start --components=secrets/);
    assert.equal(result.libraryLoaded, false);
  }
  assertNoKernelKey(config.service);
});

test('keyring: a bus with no Secret Service provider → EUNAVAIL from the probe; the library is never loaded', async () => {
  const bare = await startSessionBus();
  const config = { ...freshConfig(), service: `${SERVICE}-noprovider` };
  try {
    const result = await inFreshProcess({ DBUS_SESSION_BUS_ADDRESS: bare.address }, config);
    assert.equal(result.code, 'EUNAVAIL', JSON.stringify(result));
    assert.match(result.message ?? '', /no provider owns org\.freedesktop\.secrets/);
    assert.match(result.message ?? '', /dbus-run-session/);
    assert.equal(result.libraryLoaded, false);
  } finally {
    await bare.stop();
  }
  assertNoKernelKey(config.service);
});

test('keyring: past the probe (a tcp: bus it cannot inspect) the pinned library fails rather than use keyutils', async () => {
  // Nothing listens on loopback port 9 here, so the library itself is asked and must refuse.
  const config = { ...freshConfig(), service: `${SERVICE}-pinned` };
  const result = await inFreshProcess({ DBUS_SESSION_BUS_ADDRESS: 'tcp:host=127.0.0.1,port=9' }, config);
  assert.equal(result.code, 'EUNAVAIL', JSON.stringify(result));
  assert.match(result.message ?? '', /Secret Service unreachable/);
  assert.match(result.message ?? '', /dbus-run-session/);
  assert.equal(result.libraryLoaded, true, 'this case does reach the library (control for the checks above)');
  assertNoKernelKey(config.service);
});

test('keyring: with DBUS_SESSION_BUS_ADDRESS unset, probe and library both use $XDG_RUNTIME_DIR/bus', async () => {
  const config = freshConfig();
  const result = await inFreshProcess({ XDG_RUNTIME_DIR: ss.bus.dir }, config, true);
  assert.ok(result.state, JSON.stringify(result));
  assert.equal(result.libraryLoaded, true);
  // The child's entry is in the fixture's gnome-keyring, and this process can open and destroy it.
  assert.equal((await lookup(config))?.length, 32);
  const device = await keyringDriver.open(config, result.state, { slotId: 'child' });
  await device.close?.();
  await keyringDriver.destroy?.(config, result.state, { slotId: 'child' });
  assert.equal(await lookup(config), null);
});

test('keyring: a Secret Service with no default collection (never unlocked) → EUNAVAIL naming the fix', async () => {
  const unset = await startSecretService({ unlock: false, setProcessEnv: false });
  try {
    const result = await inFreshProcess({ DBUS_SESSION_BUS_ADDRESS: unset.bus.address }, freshConfig());
    assert.equal(result.code, 'EUNAVAIL', JSON.stringify(result));
    assert.match(result.message ?? '', /no default collection/);
    assert.match(result.message ?? '', /gnome-keyring-daemon --unlock/);
  } finally {
    await unset.stop();
  }
});

test('keyring: bad config, state or context → EINVAL / E2BIG before the store is touched', async () => {
  // The probe sees a bus that points nowhere: a call that got past validation is EUNAVAIL, not these.
  await withEnv({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/coffer-bus' }, async () => {
    const ctx = { slotId: 's' };
    const good = freshConfig();
    const state = { version: 1, algorithm: 'aes-256-gcm', kcv: '00'.repeat(16) };
    const bad: [unknown, string][] = [
      [null, 'EINVAL'],
      [{ ...good, type: 'passphrase' }, 'EINVAL'],
      [{ ...good, service: '' }, 'EINVAL'],
      [{ ...good, account: 42 }, 'EINVAL'],
      [{ ...good, account: 'a\u0000b' }, 'EINVAL'],
      [{ ...good, extra: true }, 'EINVAL'],
      [{ ...good, service: 'x'.repeat(257) }, 'E2BIG'],
    ];
    for (const [config, code] of bad) {
      await expectCode(keyringDriver.create(config as KeyringConfig, ctx), code);
      await expectCode(keyringDriver.open(config as KeyringConfig, state, ctx), code);
    }
    for (const badState of [
      null,
      {},
      { ...state, version: 2 },
      { ...state, algorithm: 'x' },
      { ...state, kcv: 'zz' },
    ]) {
      await expectCode(keyringDriver.open(good, badState as never, ctx), 'EINVAL');
      await expectCode(keyringDriver.destroy!(good, badState as never, ctx), 'EINVAL');
    }
    await expectCode(keyringDriver.create(good, undefined as never), 'EINVAL');
    await expectCode(keyringDriver.open(good, state, { slotId: 3 } as never), 'EINVAL');
    // A valid call does get past validation (and is refused by the probe): the codes above were not luck.
    await expectCode(keyringDriver.create(good, ctx), 'EUNAVAIL');
  });
});

test('keyring: a closed device refuses to work (EUNAVAIL) and close is idempotent', async () => {
  const config = freshConfig();
  const { device, state } = await keyringDriver.create(config, { slotId: 'close' });
  try {
    const cipher = await device.encrypt(randomBytes(32), aad);
    await device.close?.();
    await device.close?.();
    await expectCode(device.encrypt(randomBytes(32), aad), 'EUNAVAIL', /closed/);
    await expectCode(device.decrypt(cipher, aad), 'EUNAVAIL', /closed/);
    await expectCode(device.encrypt('x' as never, aad), 'EINVAL');
  } finally {
    await keyringDriver.destroy?.(config, state, { slotId: 'close' });
  }
});
