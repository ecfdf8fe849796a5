// The engine's own records in the keychain's storage (SPEC §17.10.2): `kc/sync/state` (the change-log
// position, the manifest generation, the generations of other devices' manifests, this device's
// latest acknowledged writes, the last attack) and `kc/s/<uuid>` (the server's gencount and record
// hash of each item as last seen — the "server view" whose digest must equal the server's). All are
// barrier records, so someone who can write the store's files cannot forge them.
import { createHash } from 'node:crypto';
import { CofferError } from '../../errors.js';
import {
  type KeychainSyncAccess,
  SERVER_VIEW_PREFIX,
  SYNC_STATE_KEY,
  serverViewKey,
} from '../../keychain/sync-access.js';
import type { WriteOp } from '../../storage/types.js';
import { Manifest } from '../manifest.js';
import { MAX_WROTE, type WroteEntry } from './device-manifest.js';

export interface PeerManifest {
  generation: number;
  /** SHA-256 of the manifest's bytes: the same generation with other bytes is a fork. */
  hash: string;
}

export interface SyncState {
  format: 'coffer-sync-state';
  version: 1;
  accountId: string;
  deviceId: string;
  /** How far this device has applied the server's change log. */
  seq: number;
  /** The generation of the last manifest this device published (or is about to). */
  generation: number;
  peers: Record<string, PeerManifest>;
  /** Latest acknowledged writes of this device, most recent last. */
  wrote: WroteEntry[];
  /** The view's digest and size right after the last complete pull, at `seq` (for the manifest). */
  seen: { digest: string; count: number } | undefined;
  /** True once the items written before sync was set up have been queued. */
  enqueued: boolean;
  lastSync?: number;
  lastAudit?: number;
  attack?: { message: string; at: number };
}

export interface ViewEntry {
  gencount: number;
  hash: string;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function newState(accountId: string, deviceId: string): SyncState {
  return {
    format: 'coffer-sync-state',
    version: 1,
    accountId,
    deviceId,
    seq: 0,
    generation: 0,
    peers: {},
    wrote: [],
    seen: undefined,
    enqueued: false,
  };
}

export async function readState(
  access: KeychainSyncAccess,
): Promise<{ state: SyncState; revision: number } | undefined> {
  const stored = await access.get(SYNC_STATE_KEY);
  if (!stored) return undefined;
  const state = access.openRecord<SyncState>(SYNC_STATE_KEY, stored.value);
  if (state.format !== 'coffer-sync-state' || state.version !== 1)
    throw new CofferError('EUNAVAIL', 'sync state written by a newer Coffer');
  return { state, revision: stored.revision };
}

export function stateOp(access: KeychainSyncAccess, state: SyncState, revision?: number): WriteOp {
  return {
    op: 'put',
    key: SYNC_STATE_KEY,
    value: access.sealRecord(SYNC_STATE_KEY, state),
    ...(revision !== undefined ? { expectRevision: revision } : {}),
  };
}

/** Records this device's acknowledged writes, keeping the latest MAX_WROTE. */
export function noteWrites(state: SyncState, writes: readonly WroteEntry[]): void {
  const byUuid = new Map(state.wrote.map((w) => [w.uuid, w]));
  for (const w of writes) {
    byUuid.delete(w.uuid);
    byUuid.set(w.uuid, { uuid: w.uuid, gencount: w.gencount, seq: w.seq });
  }
  state.wrote = [...byUuid.values()].slice(-MAX_WROTE);
}

/** The server view in memory, loaded once from `kc/s/`, with its manifest built when asked. */
export class ServerView {
  readonly #entries = new Map<string, ViewEntry>();
  #manifest: Manifest | undefined;
  /** Entries set since the manifest was last built: merged in on the next use (Manifest.withChanges). */
  #pending = new Map<string, string>();

  static async load(access: KeychainSyncAccess): Promise<ServerView> {
    const view = new ServerView();
    for (const stored of await access.list(SERVER_VIEW_PREFIX)) {
      const uuid = stored.key.slice(SERVER_VIEW_PREFIX.length);
      view.#entries.set(uuid, access.openRecord<ViewEntry>(stored.key, stored.value));
    }
    return view;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(uuid: string): ViewEntry | undefined {
    return this.#entries.get(uuid);
  }

  /** Called after the commit that wrote `kc/s/<uuid>` succeeded. */
  set(uuid: string, entry: ViewEntry): void {
    this.#entries.set(uuid, { gencount: entry.gencount, hash: entry.hash });
    if (this.#manifest) this.#pending.set(uuid, entry.hash);
  }

  op(access: KeychainSyncAccess, uuid: string, entry: ViewEntry): WriteOp {
    return { op: 'put', key: serverViewKey(uuid), value: access.sealRecord(serverViewKey(uuid), entry) };
  }

  manifest(): Manifest {
    if (this.#manifest && this.#pending.size > 0) {
      this.#manifest = this.#manifest.withChanges([...this.#pending].map(([uuid, hash]) => ({ uuid, hash })));
      this.#pending.clear();
    }
    this.#manifest ??= new Manifest([...this.#entries].map(([uuid, e]) => ({ uuid, hash: e.hash })));
    return this.#manifest;
  }

  digest(): string {
    return this.manifest().digest();
  }
}
