// Test fixture for the sync engine (SPEC §17.10): N devices of one account, each a real keystore with
// a real keychain and real Ed25519 + ML-DSA-65 device keys, sharing one keychain class key the
// simplest honest way (the first device's, installed into the others with `installClassKey`; the
// device circle does this with X-Wing envelopes in production), and each with a `SyncMembership`
// built from those keys. A device can be restarted: its keystore is closed and reopened from storage.

import { randomBytes } from 'node:crypto';
import { b64 } from '../core/encoding.js';
import { Keystore } from '../core/keystore.js';
import { wipe } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
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
  /** Empties every keychain (keeping device ids and the shared class key) and joins a new account. */
  reset(service: EngineSuiteService): Promise<void>;
  close(): Promise<void>;
}

interface DeviceKeys {
  ed: string;
  ml: string;
}

/** Binds every device to a new account on `service`: signers, memberships, transports, engines. */
async function joinAccount(
  set: DeviceSet,
  keys: DeviceKeys[],
  service: EngineSuiteService,
  engineOptions: Partial<SyncEngineOptions>,
): Promise<void> {
  const accountId = `acct-${randomBytes(6).toString('hex')}`;
  set.accountId = accountId;
  for (const [i, device] of set.devices.entries()) {
    const { ed, ml } = keys[i]!;
    const signer: DeviceSigner = {
      accountId,
      deviceId: device.deviceId,
      sign: async (message) => ({
        ed25519: (await device.ks.sign(ed, message)).signature,
        mldsa65: (await device.ks.sign(ml, message)).signature,
      }),
    };
    device.membership = {
      accountId,
      deviceId: device.deviceId,
      signer,
      members: async () => set.members,
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
  }
  await set.devices[0]!.transport.createAccount(accountId, {
    version: 1,
    document: b64.encode(new TextEncoder().encode(`test circle of ${accountId}`)),
    devices: set.members,
  });
}

/** Deletes every keychain record but `kc/meta` and the class keys: items, history, index, sync state. */
async function emptyKeychain(device: TestDevice): Promise<void> {
  const access = device.ks.keychain.syncAccess();
  const doomed = (await access.list('kc/')).filter(
    (r) => r.key !== 'kc/meta' && !r.key.startsWith('kc/classkeys/'),
  );
  for (let start = 0; start < doomed.length; start += 1000) {
    const ops = doomed.slice(start, start + 1000).map((r) => ({ op: 'delete' as const, key: r.key }));
    await access.commit(async () => ({ ops, events: [], result: undefined }));
  }
}

export async function makeDevices(
  service: EngineSuiteService,
  count: number,
  engineOptions: Partial<SyncEngineOptions> = {},
): Promise<DeviceSet> {
  const members: MemberKeys[] = [];
  const devices: TestDevice[] = [];
  const keys: DeviceKeys[] = [];
  const dirs: TempDir[] = [];
  let classKey: { id: string; key: Uint8Array } | undefined;
  for (let i = 0; i < count; i++) {
    const { ks, url, dir } = await tempKeystore();
    dirs.push(dir);
    const ed = await ks.createKey({ app: 'sync', purpose: 'device-ed25519', algorithm: 'ed25519' });
    const ml = await ks.createKey({ app: 'sync', purpose: 'device-mldsa65', algorithm: 'ml-dsa-65' });
    keys.push({ ed: ed.id, ml: ml.id });
    const access = ks.keychain.syncAccess();
    const meta = await access.meta();
    if (!classKey) classKey = { id: meta.classKeyId, key: await access.exportClassKey(meta.classKeyId) };
    else await access.installClassKey(classKey.id, classKey.key, { primary: true });
    members.push({
      deviceId: meta.deviceId,
      ed25519: b64.encode((await ks.publicKey(ed.id, 'raw')) as Uint8Array),
      mldsa65: b64.encode((await ks.publicKey(ml.id, 'raw')) as Uint8Array),
    });
    devices.push({ name: `device-${i}`, ks, url, deviceId: meta.deviceId } as TestDevice);
  }
  if (classKey) wipe(classKey.key);
  const set: DeviceSet = {
    accountId: '',
    devices,
    members,
    reset: async (next) => {
      for (const d of devices) {
        await d.engine.stop();
        await d.transport.close();
        await emptyKeychain(d);
      }
      await joinAccount(set, keys, next, engineOptions);
    },
    close: async () => {
      for (const d of devices) {
        await d.engine.stop();
        await d.transport.close();
        await d.ks.close().catch(() => undefined);
      }
      for (const dir of dirs) dir.remove();
    },
  };
  await joinAccount(set, keys, service, engineOptions);
  return set;
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

/** A transport that answers as `inner` except for the calls overridden (a lossy or lying server). */
export function wrapTransport(inner: SyncTransport, overrides: Partial<SyncTransport>): SyncTransport {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop in overrides) return (overrides as Record<string | symbol, unknown>)[prop];
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Runs a random keychain op that may not apply (item not on this device yet, already deleted, not deleted). */
export async function quietly<T>(run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof CofferError && ['ENOENT', 'EALREADY'].includes(error.code)) return undefined;
    throw error;
  }
}
