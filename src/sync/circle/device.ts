// This device's circle identity (SPEC §17.9): three non-exportable keystore keys in the reserved app
// `coffer-sync` (Ed25519, ML-DSA-65, X-Wing), created once, and the actor that signs and opens
// envelopes with them. The private halves never leave the keystore; only the public keys travel.
import { b64 } from '../../core/encoding.js';
import type { CreateKeySpec, KeyInfo } from '../../core/types.js';
import type { KeychainHost } from '../../keychain/host.js';
import type { KeychainSyncAccess } from '../../keychain/sync-access.js';
import type { DeviceSigner } from '../transport.js';
import type { Identity } from './codec.js';
import { DeviceActor, type DeviceKeyIds, type DeviceKeyOps } from './signer.js';

export const SYNC_APP = 'coffer-sync';

/** What the circle needs of the keystore beyond the keychain's host. */
export interface SyncHost extends DeviceKeyOps {
  readonly keychain: KeychainHost;
  /** The keychain's internals for the sync engine (Keychain.syncAccess, SPEC §17.10). */
  keychainSync(): KeychainSyncAccess;
  createKey(spec: CreateKeySpec): Promise<KeyInfo>;
  /** The raw public key of a key's primary version. */
  rawPublicKey(id: string): Promise<Uint8Array>;
}

export async function createDeviceKeys(host: SyncHost): Promise<DeviceKeyIds> {
  const make = (purpose: string, algorithm: CreateKeySpec['algorithm']) =>
    host.createKey({
      app: SYNC_APP,
      purpose,
      algorithm,
      // A device identity is this device's alone: a restored backup must not impersonate it.
      backupAllowed: false,
      labels: { role: 'sync-device' },
    });
  const [ed, ml, xw] = [
    await make('device-ed25519', 'ed25519'),
    await make('device-mldsa65', 'ml-dsa-65'),
    await make('device-xwing', 'x-wing'),
  ];
  return { ed25519: ed.id, mldsa65: ml.id, xwing: xw.id };
}

export async function deviceActor(
  host: SyncHost,
  deviceId: string,
  keys: DeviceKeyIds,
): Promise<DeviceActor> {
  const identity: Identity = {
    deviceId,
    ed25519: b64.encode(await host.rawPublicKey(keys.ed25519)),
    mldsa65: b64.encode(await host.rawPublicKey(keys.mldsa65)),
    xwing: b64.encode(await host.rawPublicKey(keys.xwing)),
  };
  return new DeviceActor(identity, keys, host);
}

/** The transport's view of an actor: raw dual signatures for the server's authentication. */
export function deviceSigner(
  accountId: string,
  actor: {
    identity: Identity;
    signRaw(m: Uint8Array): Promise<{ ed25519: Uint8Array; mldsa65: Uint8Array }>;
  },
): DeviceSigner {
  return { accountId, deviceId: actor.identity.deviceId, sign: (message) => actor.signRaw(message) };
}
