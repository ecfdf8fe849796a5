// The store opened in this process (direct mode, and the agent process): the Keystore with the
// feature namespaces of the operations surface (hd, backup, rotation, tokens) attached, so it is a
// `CofferOperations` exactly like the daemon's client. A store without a keystore says so before any
// passphrase is asked for.
import { userInfo } from 'node:os';
import { tokenOperations } from '../access/tokens.js';
import { backupOperations } from '../backup/operations.js';
import type { CofferOperations } from '../client/surface.js';
import { readStoreHeader } from '../core/keyslots.js';
import { Keystore } from '../core/keystore.js';
import { CofferError } from '../errors.js';
import { HdWallet } from '../hd/wallet.js';
import type { ProtectorConfig } from '../protect/configs.js';
import { rotationOperations } from '../rotation/operations.js';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';
import type { Config, RollbackSettings } from './config.js';
import { displayStore } from './context.js';
import { withSpinner } from './progress.js';

/** A keystore that also answers the feature namespaces of the surface. */
export type LocalOperations = Keystore & CofferOperations;

/**
 * Attaches hd, backup, rotation and tokens to an open keystore. The namespaces are the feature
 * layers' own implementations over this keystore; nothing of the keystore is wrapped or changed.
 */
export function localOperations(ks: Keystore): LocalOperations {
  return Object.assign(ks, {
    hd: new HdWallet(ks),
    backup: backupOperations(ks),
    rotation: rotationOperations(ks),
    tokens: tokenOperations(ks),
  });
}

export function cliActor(prefix = 'cli'): string {
  try {
    return `${prefix}:${userInfo().username}`;
  } catch {
    return prefix;
  }
}

function noKeystore(store: string, isDefault: boolean, cause?: unknown): CofferError {
  return new CofferError(
    'ENOENT',
    `no keystore at ${isDefault ? store : displayStore(store)}: create one with \`coffer init\` ` +
      '(or point --store / COFFER_STORE at an existing one)',
    cause === undefined ? undefined : { cause },
  );
}

/** Opens the store and checks it holds a keystore; ENOENT saying to run `coffer init` otherwise. */
export async function openExistingStorage(store: string, isDefault = false): Promise<Storage> {
  let storage: Storage;
  try {
    storage = await openStorage(store);
  } catch (error) {
    if (error instanceof CofferError && error.code === 'ENOENT') throw noKeystore(store, isDefault, error);
    throw error;
  }
  try {
    if ((await readStoreHeader(storage)) === undefined) throw noKeystore(store, isDefault);
  } catch (error) {
    await storage.close().catch(() => {});
    throw error;
  }
  return storage;
}

/** Opens a keystore in this process with `protector`: the storage is checked before the protector runs. */
export async function openKeystoreWith(
  store: string,
  protector: ProtectorConfig,
  options: { actor: string; storage?: Storage; rollback?: RollbackSettings },
): Promise<Keystore> {
  const storage = options.storage ?? (await openExistingStorage(store));
  try {
    return await Keystore.open({ store: storage, protector, actor: options.actor, ...options.rollback });
  } catch (error) {
    await storage.close().catch(() => {});
    throw error;
  }
}

/**
 * Opens the configured store with the configured protector. The keystore's presence is checked first,
 * so an uninitialised store says "no keystore" instead of asking for a passphrase.
 */
export async function openKeystore(config: Config): Promise<Keystore> {
  const storage = await openExistingStorage(config.store, config.storeIsDefault);
  let protector: ProtectorConfig;
  let rollback: RollbackSettings;
  try {
    protector = await config.protectorConfig(config.protectorType);
    rollback = await config.keystoreOptions();
  } catch (error) {
    await storage.close().catch(() => {});
    throw error;
  }
  return withSpinner(
    config.streams,
    'Unlocking the keystore…',
    openKeystoreWith(config.store, protector, { actor: cliActor(), storage, rollback }),
  );
}
