// Test fixture for the sync engine (SPEC §17.10): N devices of one account, each a real keystore with
// a real keychain and real Ed25519 + ML-DSA-65 device keys, sharing one keychain class key the
// simplest honest way (the first device's, installed into the others with `installClassKey`; the
// device circle does this with X-Wing envelopes in production), and each with a `SyncMembership`
// built from those keys. A device can be restarted: its keystore is closed and reopened from storage.
import { randomBytes } from 'node:crypto';
import { b64 } from '../core/encoding.js';
import { Keystore } from '../core/keystore.js';
import { wipe } from '../crypto/bytes.js';
import { SyncEngine, type SyncEngineOptions } from '../sync/engine/engine.js';
import type { DeviceSigner, MemberKeys, SyncMembership, SyncTransport } from '../sync/transport.js';
import { passphrase, type TempDir, tempKeystore } from './keystore.js';

/** What the engine suite needs of a sync service (the memory model or the real `SyncServer`). */
export interface EngineSuiteService {
  transport(signer: DeviceSigner): SyncTransport | Promise<SyncTransport>;
  /** Every byte the server holds for all accounts (records, manifests, circles, logs), for scans. */
  dump(): Promise<Uint8Array[]>;
  close(): Promise<void>;
}

export interface TestDevice {
  name: string;
  ks: Keystore;
  url: string;
  deviceId: string;
  membership: SyncMembership;
  transport: SyncTransport;
  engine: SyncEngine;
  /** Closes the keystore (the engine stops) and reopens it from storage with a new engine. */
  restart(): Promise<void>;
}

export interface DeviceSet {
  accountId: string;
  devices: TestDevice[];
  members: MemberKeys[];
  close(): Promise<void>;
}

export async function makeDevices(
  service: EngineSuiteService,
  count: number,
  engineOptions: Partial<SyncEngineOptions> = {},
): Promise<DeviceSet> {
  const accountId = `acct-${randomBytes(6).toString('hex')}`;
  const members: MemberKeys[] = [];
  const devices: TestDevice[] = [];
  const dirs: TempDir[] = [];
  let classKey: { id: string; key: Uint8Array } | undefined;
  for (let i = 0; i < count; i++) {
    const { ks, url, dir } = await tempKeystore();
    dirs.push(dir);
    const ed = await ks.createKey({ app: 'sync', purpose: 'device-ed25519', algorithm: 'ed25519' });
    const ml = await ks.createKey({ app: 'sync', purpose: 'device-mldsa65', algorithm: 'ml-dsa-65' });
    const access = ks.keychain.syncAccess();
    const meta = await access.meta();
    if (!classKey) classKey = { id: meta.classKeyId, key: await access.exportClassKey(meta.classKeyId) };
    else await access.installClassKey(classKey.id, classKey.key, { primary: true });
    members.push({
      deviceId: meta.deviceId,
      ed25519: b64.encode((await ks.publicKey(ed.id, 'raw')) as Uint8Array),
      mldsa65: b64.encode((await ks.publicKey(ml.id, 'raw')) as Uint8Array),
    });
    const device = { name: `device-${i}`, ks, url, deviceId: meta.deviceId } as TestDevice;
    const signer: DeviceSigner = {
      accountId,
      deviceId: meta.deviceId,
      sign: async (message) => ({
        ed25519: (await device.ks.sign(ed.id, message)).signature,
        mldsa65: (await device.ks.sign(ml.id, message)).signature,
      }),
    };
    device.membership = {
      accountId,
      deviceId: meta.deviceId,
      signer,
      members: async () => members,
      refresh: async () => undefined,
    };
    device.transport = await service.transport(signer);
    const newEngine = () =>
      new SyncEngine({
        keychain: device.ks.keychain,
        transport: device.transport,
        membership: device.membership,
        ...engineOptions,
      });
    device.engine = newEngine();
    device.restart = async () => {
      await device.engine.stop();
      await device.ks.close();
      device.ks = await Keystore.open({ store: device.url, protector: passphrase() });
      device.engine = newEngine();
    };
    devices.push(device);
  }
  if (classKey) wipe(classKey.key);
  await devices[0]!.transport.createAccount(accountId, {
    version: 1,
    document: b64.encode(new TextEncoder().encode(`test circle of ${accountId}`)),
    devices: members,
  });
  return {
    accountId,
    devices,
    members,
    close: async () => {
      for (const d of devices) {
        await d.engine.stop();
        await d.transport.close();
        await d.ks.close().catch(() => undefined);
      }
      for (const dir of dirs) dir.remove();
    },
  };
}

/** Every device syncs in turn until a full round moves nothing (bounded). */
export async function syncAll(devices: readonly TestDevice[], rounds = 4): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    let moved = 0;
    for (const d of devices) {
      const report = await d.engine.now();
      moved += report.pushed + report.pulled;
    }
    if (moved === 0) return;
  }
}
