// The shared protector conformance suite (docs/architecture.md: every pluggable layer ships one). Every
// protector's test file calls exerciseProtector against its real component; nothing here is mocked.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { DeviceKeystore, ProtectorDriver } from '../protect/types.js';

export interface ProtectorFixture<Config extends { type: string }> {
  driver: ProtectorDriver<Config>;
  config: Config;
  /** Expected capabilities, so the suite checks they are stated truthfully rather than just typed. */
  expectedCapabilities: {
    hardwareBacked: boolean;
    nonExportable: boolean;
    persistent: boolean;
    userPresence: boolean;
  };
}

const aad = new TextEncoder().encode('coffer:keyslot:v1|slot=conformance');

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: string }).code, code, String(error));
    return true;
  });
}

/**
 * Registers the conformance tests for one protector. `fixture()` is called once per test (after the
 * component has been started by the caller's `before` hook) and returns a driver with a fresh config.
 */
export function exerciseProtector<Config extends { type: string }>(
  name: string,
  fixture: () => Promise<ProtectorFixture<Config>> | ProtectorFixture<Config>,
): void {
  const withDevice = async (
    slotId: string,
    run: (
      device: DeviceKeystore,
      f: ProtectorFixture<Config>,
      state: Record<string, unknown>,
    ) => Promise<void>,
  ) => {
    const f = await fixture();
    const { device, state } = await f.driver.create(f.config, { slotId });
    try {
      await run(device, f, state);
    } finally {
      await device.close?.();
      await f.driver.destroy?.(f.config, state, { slotId });
    }
  };

  test(`${name} conformance: encrypt/decrypt round trip for empty, 32-byte and 4 KiB payloads`, async () => {
    await withDevice('rt', async (device) => {
      for (const size of [0, 32, 4096]) {
        const plain = randomBytes(size);
        const cipher = await device.encrypt(plain, aad);
        assert.ok(cipher instanceof Uint8Array);
        // The plaintext must not appear in the clear inside what gets stored.
        if (size >= 16) assert.equal(Buffer.from(cipher).includes(plain), false);
        assert.deepEqual(Buffer.from(await device.decrypt(cipher, aad)), plain);
      }
    });
  });

  test(`${name} conformance: encryption is randomised (same input, different ciphertexts)`, async () => {
    await withDevice('rand', async (device) => {
      const plain = randomBytes(32);
      const a = await device.encrypt(plain, aad);
      const b = await device.encrypt(plain, aad);
      assert.notDeepEqual(a, b);
    });
  });

  test(`${name} conformance: wrong associated data → EBADMSG`, async () => {
    await withDevice('aad', async (device) => {
      const cipher = await device.encrypt(randomBytes(32), aad);
      await expectCode(
        device.decrypt(cipher, new TextEncoder().encode('coffer:keyslot:v1|slot=other')),
        'EBADMSG',
      );
      await expectCode(device.decrypt(cipher, new Uint8Array(0)), 'EBADMSG');
    });
  });

  test(`${name} conformance: any flipped byte or truncation → EBADMSG, never other plaintext`, async () => {
    await withDevice('tamper', async (device) => {
      const cipher = await device.encrypt(randomBytes(32), aad);
      for (let i = 0; i < cipher.length; i++) {
        const bad = Uint8Array.from(cipher);
        bad[i] = (bad[i] ?? 0) ^ 0x01;
        await expectCode(device.decrypt(bad, aad), 'EBADMSG');
      }
      await expectCode(device.decrypt(cipher.subarray(0, cipher.length - 1), aad), 'EBADMSG');
      await expectCode(device.decrypt(new Uint8Array(0), aad), 'EBADMSG');
    });
  });

  test(`${name} conformance: arguments that are not bytes → EINVAL`, async () => {
    await withDevice('args', async (device) => {
      await expectCode(device.encrypt('secret' as unknown as Uint8Array, aad), 'EINVAL');
      await expectCode(device.encrypt(randomBytes(32), 'aad' as unknown as Uint8Array), 'EINVAL');
      await expectCode(device.decrypt(42 as unknown as Uint8Array, aad), 'EINVAL');
    });
  });

  test(`${name} conformance: reopening from the persisted state decrypts what was encrypted`, async () => {
    await withDevice('persist', async (device, f, state) => {
      const plain = randomBytes(32);
      const cipher = await device.encrypt(plain, aad);
      // The state must survive a JSON round trip: it is what the keyslot record stores.
      const reopened = await f.driver.open(f.config, JSON.parse(JSON.stringify(state)), {
        slotId: 'persist',
      });
      try {
        assert.deepEqual(Buffer.from(await reopened.decrypt(cipher, aad)), plain);
        const back = await reopened.encrypt(plain, aad);
        assert.deepEqual(Buffer.from(await device.decrypt(back, aad)), plain);
      } finally {
        await reopened.close?.();
      }
    });
  });

  test(`${name} conformance: two slots hold independent keys`, async () => {
    await withDevice('one', async (first) => {
      await withDevice('two', async (second) => {
        const cipher = await first.encrypt(randomBytes(32), aad);
        await expectCode(second.decrypt(cipher, aad), 'EBADMSG');
      });
    });
  });

  test(`${name} conformance: capabilities() are the stated booleans`, async () => {
    await withDevice('caps', async (device, f) => {
      const caps = device.capabilities();
      assert.deepEqual(Object.keys(caps).sort(), [
        'hardwareBacked',
        'nonExportable',
        'persistent',
        'userPresence',
      ]);
      assert.deepEqual(caps, f.expectedCapabilities);
    });
  });
}
