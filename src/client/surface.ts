// The whole operations surface (docs/cli.md "One surface, three transports"): the keystore's own
// operations (core/surface.ts) plus the features built above core as namespaces — HD seeds, backups,
// rotation and daemon tokens. `CofferClient` implements it over the daemon's HTTP API; a keystore in
// this process gets the same shape from `localOperations` (cli/local.ts), and the per-user agent
// serves it over its socket. It lives here, the lowest layer that sees every feature; types only.
import type { BackupOperations } from '../backup/operations.js';
import type { KeyOperations, TokenOperations } from '../core/surface.js';
import type { HdOperations } from '../hd/operations.js';
import type { KeychainOperations } from '../keychain/operations.js';
import type { RotationOperations } from '../rotation/operations.js';
import type { SyncCircleOperations } from '../sync/circle/operations.js';

export interface CofferOperations extends KeyOperations {
  readonly hd: HdOperations;
  readonly backup: BackupOperations;
  readonly rotation: RotationOperations;
  readonly tokens: TokenOperations;
  readonly keychain: KeychainOperations;
  readonly sync: SyncCircleOperations;
}

/**
 * Every operation of the surface by name (`sign`, `hd.deriveKey`, …): what the per-user agent will
 * answer. Checked against the interfaces at compile time, both ways, so a new operation cannot be
 * forgotten here nor a removed one linger.
 */
export const OPERATION_NAMES = [
  'createKey',
  'createKeys',
  'listKeys',
  'listKeysPage',
  'getKey',
  'publicKey',
  'activate',
  'rotate',
  'suspend',
  'resume',
  'revoke',
  'destroy',
  'sign',
  'verify',
  'checkSignature',
  'seal',
  'unseal',
  'rewrap',
  'generateDataKey',
  'encapsulate',
  'decapsulate',
  'mac',
  'verifyMac',
  'auditTail',
  'auditPage',
  'verifyAudit',
  'listProtectors',
  'importKey',
  'addTrustAnchor',
  'signDigest',
  'hd.createSeed',
  'hd.importSeed',
  'hd.getSeed',
  'hd.listSeeds',
  'hd.destroySeed',
  'hd.xpub',
  'hd.deriveKey',
  'hd.derivedKeys',
  'hd.createAccount',
  'hd.getAccount',
  'hd.nextKey',
  'backup.create',
  'backup.restore',
  'rotation.due',
  'rotation.confirm',
  'rotation.emergency',
  'tokens.create',
  'tokens.list',
  'tokens.revoke',
  'keychain.add',
  'keychain.get',
  'keychain.getInfo',
  'keychain.update',
  'keychain.delete',
  'keychain.undelete',
  'keychain.history',
  'keychain.find',
  'keychain.import',
  'keychain.historyBound',
  'keychain.setHistoryBound',
  'sync.create',
  'sync.invite',
  'sync.join',
  'sync.completeJoin',
  'sync.joinRequests',
  'sync.approve',
  'sync.devices',
  'sync.remove',
  'sync.recover',
  'sync.info',
  'sync.now',
  'sync.status',
] as const;

export type OperationName = (typeof OPERATION_NAMES)[number];

type Names<T, Prefix extends string = ''> = {
  [K in keyof T & string]: T[K] extends (...args: never[]) => unknown ? `${Prefix}${K}` : never;
}[keyof T & string];

/** Every method name of the interfaces, written as OPERATION_NAMES writes them. */
type SurfaceNames =
  | Names<KeyOperations>
  | Names<HdOperations, 'hd.'>
  | Names<BackupOperations, 'backup.'>
  | Names<RotationOperations, 'rotation.'>
  | Names<TokenOperations, 'tokens.'>
  | Names<KeychainOperations, 'keychain.'>
  | Names<SyncCircleOperations, 'sync.'>;

/** `true` when T is empty, else a type naming T: assigning `true` to it fails to compile. */
type Nothing<T> = [T] extends [never] ? true : { notListedOrNotInTheSurface: T };
// Compile-time checks, both ways: tsc names the operation that is missing here or no longer exists.
export const SURFACE_LISTED: Nothing<Exclude<SurfaceNames, OperationName>> = true;
export const SURFACE_EXISTS: Nothing<Exclude<OperationName, SurfaceNames>> = true;
