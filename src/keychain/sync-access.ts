// What the sync engine (SPEC §17.10) may do to the keychain beyond its public operations: read and
// install records byte for byte, keep the outgoing queue and the view of the server, and install a
// class key shared by the device circle. The queue entry `kc/q/<uuid>` is written by the keychain's
// own writes in the same atomic batch as the item (see `queueOps`), so a kill between a write and
// its push cannot lose the write: the next engine run finds it queued.
import { b64 } from '../core/encoding.js';
import { wipe } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import type { StoredRecord, WriteOp } from '../storage/types.js';
import type { AuditEventSpec, KeychainHost } from './host.js';
import {
  type ClassKeys,
  classKeyRecordKey,
  ensureMeta,
  type KeychainMeta,
  META_KEY,
  readMeta,
} from './meta.js';
import type { ItemBody, ParsedRecord, RecordHeader } from './record.js';

/** Present once sync has been set up on this keychain; from then on, writes are queued (SPEC §17.10). */
export const SYNC_STATE_KEY = 'kc/sync/state';
export const QUEUE_PREFIX = 'kc/q/';
export const SERVER_VIEW_PREFIX = 'kc/s/';

export function queueKey(uuid: string): string {
  return `${QUEUE_PREFIX}${uuid}`;
}
export function serverViewKey(uuid: string): string {
  return `${SERVER_VIEW_PREFIX}${uuid}`;
}

/** The outgoing-queue entry of a local write, when this keychain syncs and the item is syncable. */
export async function queueOps(
  host: KeychainHost,
  uuid: string,
  version: number,
  sync: boolean,
): Promise<WriteOp[]> {
  if (!sync) return [];
  if (!(await host.storage.get(SYNC_STATE_KEY))) return [];
  return [{ op: 'put', key: queueKey(uuid), value: host.sealRecord(queueKey(uuid), { version }) }];
}

/** The keychain internals the engine needs, handed over by `Keychain.syncAccess()`. */
export interface KeychainInternals {
  host: KeychainHost;
  classKeys: ClassKeys;
  decrypt(parsed: ParsedRecord): Promise<ItemBody>;
  seal(header: RecordHeader, body: ItemBody): Promise<Uint8Array>;
  indexOps(uuid: string, before: ItemBody | undefined, after: ItemBody | undefined): WriteOp[];
  /** Takes a received clock into the keychain's hybrid clock, so later local writes stamp after it. */
  observeClock(clock: string): void;
}

export class KeychainSyncAccess {
  constructor(readonly internals: KeychainInternals) {}

  get host(): KeychainHost {
    return this.internals.host;
  }

  meta(): Promise<KeychainMeta> {
    return ensureMeta(this.host);
  }

  /** The class key's bytes (the caller wipes them): what the circle shares with the other devices. */
  exportClassKey(id: string): Promise<Uint8Array> {
    return this.internals.classKeys.unwrap(id);
  }

  /**
   * Stores a class key shared by the circle under this keystore's class-wrap key and, with
   * `primary`, makes it the one new records are written under (SPEC §16.1). Installing an id that
   * is already here is a no-op when the key is the same, EBADMSG when it differs.
   */
  async installClassKey(
    id: string,
    classKey: Uint8Array,
    options: { primary?: boolean } = {},
  ): Promise<void> {
    if (!/^ck_[a-z2-7]{16}$/.test(id)) throw new CofferError('EINVAL', 'class key id');
    if (!(classKey instanceof Uint8Array) || classKey.length !== 32)
      throw new CofferError('EINVAL', 'a class key is 32 bytes');
    await ensureMeta(this.host);
    const existing = await this.host.storage.get(classKeyRecordKey(id));
    if (existing) {
      const held = await this.internals.classKeys.unwrap(id);
      try {
        if (b64.encode(held) !== b64.encode(classKey))
          throw new CofferError('EBADMSG', `class key ${id} is already here with other bytes`);
      } finally {
        wipe(held);
      }
    }
    await this.host.commit(async () => {
      const current = await readMeta(this.host);
      if (!current) throw new CofferError('EINTERNAL', 'keychain meta vanished');
      const ops: WriteOp[] = [];
      if (!existing)
        ops.push({
          op: 'put',
          key: classKeyRecordKey(id),
          value: this.internals.classKeys.sealForStore(id, this.host.now(), classKey),
          expectRevision: 0,
        });
      if (options.primary && current.meta.classKeyId !== id) {
        const meta = { ...current.meta, classKeyId: id };
        ops.push({
          op: 'put',
          key: META_KEY,
          value: this.host.sealRecord(META_KEY, meta),
          expectRevision: current.revision,
        });
      }
      return {
        ops,
        events: [{ event: 'keychain.class-key-install', details: { classKeyId: id } }],
        result: undefined,
      };
    });
  }

  get(key: string): Promise<StoredRecord | undefined> {
    return this.host.storage.get(key);
  }

  list(prefix: string): Promise<StoredRecord[]> {
    return this.host.storage.list(prefix);
  }

  openRecord<T>(key: string, bytes: Uint8Array): T {
    return this.host.openRecord<T>(key, bytes);
  }

  sealRecord(key: string, value: unknown): Uint8Array {
    return this.host.sealRecord(key, value);
  }

  commit<T>(build: () => Promise<{ ops: WriteOp[]; events: AuditEventSpec[]; result: T }>): Promise<T> {
    return this.host.commit(build);
  }
}
