// The keychain on one device (SPEC §16): add, get, update, delete, undelete, history and find over
// item records (record.ts) in the keystore's storage. Every write is one atomic batch with its audit
// entry; the current record moves with compare-and-swap, so concurrent writers never lose a version
// (the one overtaken lands in history), and nothing is decrypted that is not asked for.

import type { ImportMode } from '../core/dangerous-material.js';
import { b64 } from '../core/encoding.js';
import { wipe } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import type { StoredRecord, WriteOp } from '../storage/types.js';
import { checkItemRestore, exportItems, restoreItems } from './backup.js';
import type { ExportedKeychain, ItemExportFilter, ItemRestoreResult } from './backup-types.js';
import { indexKeys } from './blind-index.js';
import { applyPatch, fieldNames, tidyAttributes, toInfo, toItem } from './body.js';
import { HybridClock } from './clock.js';
import { type FindScope, findItems } from './find.js';
import type { KeychainHost } from './host.js';
import { type ImportReport, type ImportRequest, importExport } from './import/import.js';
import { ClassKeys, ensureMeta, INDEX_INFO, type KeychainMeta, META_KEY, readMeta } from './meta.js';
import type { KeychainOperations } from './operations.js';
import {
  type CurrentRecord,
  type ItemBody,
  isUuid,
  newUuid,
  openItemRecord,
  type ParsedRecord,
  parseRecord,
  type RecordHeader,
  sealItemRecord,
} from './record.js';
import { KeychainSyncAccess, queueOps } from './sync-access.js';
import {
  type AddItemSpec,
  DEFAULT_HISTORY,
  type FindQuery,
  type FindResult,
  type HistoryBound,
  type Item,
  type ItemAttributesPatch,
  type ItemInfo,
} from './types.js';
import {
  type ValidAdd,
  validateAdd,
  validateExpectedVersion,
  validateHistoryBound,
  validatePatch,
} from './validate.js';

export function currentKey(uuid: string): string {
  return `kc/i/${uuid}`;
}
export function historyPrefix(uuid: string): string {
  return `kc/h/${uuid}/`;
}
export function historyKey(uuid: string, version: number): string {
  return `${historyPrefix(uuid)}${String(version).padStart(12, '0')}`;
}

/**
 * At most this many items per atomic batch. A batch holds 10 000 caller ops (SPEC §9.1): each item
 * writes at most 7 (its record, 5 blind-index entries, its sync queue entry) and the batch one audit
 * entry and the audit head, so 1 400 items are at most 9 802. The record-tree nodes the batch changes
 * are counted apart (SPEC §4.1), so the bound holds however large the keychain grows.
 */
const ADD_BATCH = 1400;
const INDEX_VALUE = new Uint8Array([1]);

export function assertItemId(id: unknown): asserts id is string {
  if (!isUuid(id)) throw new CofferError('EINVAL', 'item id must be a lowercase RFC 4122 version-4 uuid');
}

export type { CurrentRecord };

export class Keychain implements KeychainOperations {
  readonly #host: KeychainHost;
  readonly #classKeys: ClassKeys;
  #clock: HybridClock | undefined;
  /** The highest clock received by sync, for a clock created after it arrived. */
  #seenClock: string | undefined;

  constructor(host: KeychainHost) {
    this.#host = host;
    this.#classKeys = new ClassKeys(host);
  }

  #hybridClock(meta: KeychainMeta): HybridClock {
    if (!this.#clock || this.#clock.deviceId !== meta.deviceId) {
      this.#clock = new HybridClock(meta.deviceId, () => this.#host.now());
      if (this.#seenClock) this.#clock.observe(this.#seenClock);
    }
    return this.#clock;
  }

  /** What the sync engine may use of this keychain (SPEC §17.10; src/keychain/sync-access.ts). */
  syncAccess(): KeychainSyncAccess {
    return new KeychainSyncAccess({
      host: this.#host,
      classKeys: this.#classKeys,
      decrypt: (parsed) => this.decrypt(parsed),
      seal: (header, body) => this.#seal(header, body),
      indexOps: (uuid, before, after) => this.#indexOps(uuid, before, after),
      observeClock: (clock) => {
        if (!this.#seenClock || clock > this.#seenClock) this.#seenClock = clock;
        this.#clock?.observe(clock);
      },
    });
  }

  /** Reads `kc/i/<uuid>`; ENOENT when absent, EBADMSG when it holds another item. */
  async readCurrent(id: string): Promise<CurrentRecord> {
    assertItemId(id);
    const stored = await this.#host.storage.get(currentKey(id));
    if (!stored) throw new CofferError('ENOENT', `no item ${id}`);
    const parsed = parseRecord(stored.value);
    if (parsed.header.uuid !== id)
      throw new CofferError('EBADMSG', `item record ${currentKey(id)} holds another item (moved)`);
    return { stored, parsed };
  }

  async decrypt(parsed: ParsedRecord): Promise<ItemBody> {
    const classKey = await this.#classKeys.unwrap(parsed.header.parentKeyId);
    try {
      return openItemRecord(parsed, classKey);
    } finally {
      wipe(classKey);
    }
  }

  async #seal(header: RecordHeader, body: ItemBody): Promise<Uint8Array> {
    const classKey = await this.#classKeys.unwrap(header.parentKeyId);
    try {
      return sealItemRecord(header, body, classKey, this.#host.rng);
    } finally {
      wipe(classKey);
    }
  }

  #indexKey(): Uint8Array {
    return this.#host.subkey(INDEX_INFO);
  }

  #indexOps(uuid: string, before: ItemBody | undefined, after: ItemBody | undefined): WriteOp[] {
    const key = this.#indexKey();
    try {
      const old = before ? indexKeys(key, uuid, before.kind, before.attributes) : new Set<string>();
      const now = after ? indexKeys(key, uuid, after.kind, after.attributes) : new Set<string>();
      const ops: WriteOp[] = [];
      for (const k of old) if (!now.has(k)) ops.push({ op: 'delete', key: k });
      for (const k of now) if (!old.has(k)) ops.push({ op: 'put', key: k, value: INDEX_VALUE });
      return ops;
    } finally {
      wipe(key);
    }
  }

  async #newItem(
    spec: ValidAdd,
    meta: KeychainMeta,
    now: number,
  ): Promise<{ ops: WriteOp[]; info: ItemInfo }> {
    const uuid = newUuid(this.#host.rng);
    const clock = this.#hybridClock(meta).tick();
    const attributes = tidyAttributes(spec.attributes);
    const body: ItemBody = {
      kind: spec.kind,
      group: spec.group,
      sync: spec.sync,
      createdAt: now,
      modifiedAt: now,
      attributes,
      secret: b64.encode(spec.secret),
      clocks: Object.fromEntries(fieldNames(attributes, spec.secret.length > 0).map((f) => [f, clock])),
    };
    const header: RecordHeader = {
      uuid,
      parentKeyId: meta.classKeyId,
      version: 1,
      clock,
      deviceId: meta.deviceId,
    };
    const value = await this.#seal(header, body);
    return {
      ops: [
        { op: 'put', key: currentKey(uuid), value, expectRevision: 0 },
        ...this.#indexOps(uuid, undefined, body),
        // The outgoing sync queue entry, in the same batch as the item (SPEC §17.10).
        ...(await queueOps(this.#host, uuid, 1, body.sync)),
      ],
      info: toInfo(header, body),
    };
  }

  /** A key item's group is its key's app; the key must have been created `syncable: true`. */
  async #checkKeyItem(spec: ValidAdd, explicitGroup: boolean): Promise<void> {
    if (spec.kind !== 'key') return;
    const key = await this.#host.getKey(spec.attributes.keyId as string);
    if (key.syncable !== true)
      throw new CofferError(
        'EPERM',
        `key ${key.id} was not created syncable: true, so it cannot be a keychain item`,
      );
    if (explicitGroup && spec.group !== key.app)
      throw new CofferError('EINVAL', `a key item's access group is its key's app (${key.app})`);
    spec.group = key.app;
  }

  async add(spec: AddItemSpec): Promise<ItemInfo> {
    const [info] = await this.addMany([spec]);
    return info as ItemInfo;
  }

  /** Adds items in as few atomic batches as the storage bound allows (imports, restores). */
  async addMany(specs: AddItemSpec[], event = 'item.add'): Promise<ItemInfo[]> {
    if (!Array.isArray(specs) || specs.length === 0)
      throw new CofferError('EINVAL', 'items must be a non-empty array');
    const valid = specs.map(validateAdd);
    for (const [i, spec] of valid.entries()) await this.#checkKeyItem(spec, specs[i]?.group !== undefined);
    const meta = await ensureMeta(this.#host);
    const out: ItemInfo[] = [];
    for (let start = 0; start < valid.length; start += ADD_BATCH) {
      const chunk = valid.slice(start, start + ADD_BATCH);
      const infos = await this.#host.commit(async () => {
        const now = this.#host.now();
        const built = [];
        for (const spec of chunk) built.push(await this.#newItem(spec, meta, now));
        const events =
          chunk.length === 1
            ? [
                {
                  event,
                  details: { id: built[0]!.info.id, kind: built[0]!.info.kind, group: built[0]!.info.group },
                },
              ]
            : [
                {
                  event: `${event}-many`,
                  details: { count: built.length, ids: built.map((b) => b.info.id) },
                },
              ];
        return { ops: built.flatMap((b) => b.ops), events, result: built.map((b) => b.info) };
      });
      out.push(...infos);
    }
    for (const spec of valid) wipe(spec.secret);
    return out;
  }

  /** The item with its secret; a deleted item is ENOENT (history and undelete still have it). */
  async get(id: string): Promise<Item> {
    const { parsed } = await this.readCurrent(id);
    if (parsed.header.tomb !== undefined)
      throw new CofferError('ENOENT', `item ${id} was deleted (undelete brings it back)`);
    return toItem(parsed.header, await this.decrypt(parsed));
  }

  /** The item without its secret (a tombstone answers with deletedAt set). */
  async getInfo(id: string): Promise<ItemInfo> {
    const { parsed } = await this.readCurrent(id);
    return toInfo(parsed.header, await this.decrypt(parsed));
  }

  /** The item's access group (for scope checks), also for a deleted item. */
  async groupOf(id: string): Promise<string> {
    return (await this.getInfo(id)).group;
  }

  /**
   * One write that replaces the current record: `change` builds the next body from the current one.
   * The superseded record goes to history in the same batch; history beyond the bound is pruned.
   */
  async #rewrite(
    id: string,
    expectedVersion: number | undefined,
    change: (
      current: { header: RecordHeader; body: ItemBody },
      clock: string,
      now: number,
      history: StoredRecord[],
    ) => Promise<{ body: ItemBody; tomb?: number; event: string }>,
  ): Promise<ItemInfo> {
    const meta = await ensureMeta(this.#host);
    return this.#host.commit(async () => {
      const { current, history } = await this.#readWithHistory(id);
      const { header } = current.parsed;
      if (expectedVersion !== undefined && header.version !== expectedVersion)
        throw new CofferError(
          'ECONFLICT',
          `item ${id} is at version ${header.version}, not ${expectedVersion}: re-read it and retry`,
        );
      const body = await this.decrypt(current.parsed);
      const hlc = this.#hybridClock(meta);
      hlc.observe(header.clock);
      const clock = hlc.tick();
      const now = this.#host.now();
      const next = await change({ header, body }, clock, now, history);
      const bound = (await readMeta(this.#host))?.meta.history ?? DEFAULT_HISTORY;
      const nextHeader: RecordHeader = {
        uuid: id,
        parentKeyId: meta.classKeyId,
        version: header.version + 1,
        clock,
        deviceId: meta.deviceId,
        ...(next.tomb !== undefined ? { tomb: next.tomb } : {}),
      };
      const value = await this.#seal(nextHeader, next.body);
      const ops: WriteOp[] = [
        { op: 'put', key: historyKey(id, header.version), value: current.stored.value, expectRevision: 0 },
        { op: 'put', key: currentKey(id), value, expectRevision: current.stored.revision },
        ...this.#indexOps(
          id,
          header.tomb === undefined ? body : undefined,
          next.tomb === undefined ? next.body : undefined,
        ),
        ...prune(history, current.stored.value.length, bound),
        ...(await queueOps(this.#host, id, nextHeader.version, next.body.sync)),
      ];
      return {
        ops,
        events: [{ event: next.event, details: { id, version: nextHeader.version } }],
        result: toInfo(nextHeader, next.body),
      };
    });
  }

  /**
   * The current record and the history beside it, as of one moment. Two reads are not a snapshot:
   * another process's write (new current + the old one into history, one atomic batch) may land
   * between them, and the history would then hold the version just read as current — which is how
   * a rollback looks. So the current record is read again after the listing; when it moved, both
   * are read again. Only a stable pair is checked (SPEC §16.3).
   */
  async #readWithHistory(id: string): Promise<{ current: CurrentRecord; history: StoredRecord[] }> {
    for (;;) {
      const current = await this.readCurrent(id);
      const history = await this.#host.storage.list(historyPrefix(id));
      const again = await this.#host.storage.get(currentKey(id));
      if (again?.revision !== current.stored.revision) continue;
      this.#checkHistory(id, current.parsed.header.version, history);
      return { current, history };
    }
  }

  /** SPEC §16.3: history versions are below the current one, each at its own key. */
  #checkHistory(id: string, currentVersion: number, history: StoredRecord[]): void {
    for (const record of history) {
      const version = Number(record.key.slice(historyPrefix(id).length));
      if (version >= currentVersion)
        throw new CofferError(
          'EBADMSG',
          `item ${id} is at version ${currentVersion} but its history holds version ${version}: the item was rolled back`,
        );
    }
  }

  async update(
    id: string,
    changes: { attributes?: ItemAttributesPatch; secret?: Uint8Array | string },
    options: { expectedVersion?: number } = {},
  ): Promise<ItemInfo> {
    assertItemId(id);
    const patch = validatePatch(changes);
    const expectedVersion = validateExpectedVersion(options?.expectedVersion);
    try {
      return await this.#rewrite(id, expectedVersion, async ({ header, body }, clock, now) => {
        if (header.tomb !== undefined)
          throw new CofferError('ENOENT', `item ${id} was deleted (undelete it first)`);
        if ((patch.attributes as Record<string, unknown> | undefined)?.keyId !== undefined)
          throw new CofferError('EINVAL', "a key item's keyId cannot change");
        if (body.kind === 'key' && patch.secret !== undefined)
          throw new CofferError('EINVAL', 'a key item takes no secret');
        const next = applyPatch(body, patch, clock, now);
        checkStillValid(next);
        return { body: next, event: 'item.update' };
      });
    } finally {
      wipe(patch.secret);
    }
  }

  /** Replaces the item by a tombstone with the deletion time; the deleted version stays in history. */
  async delete(id: string, options: { expectedVersion?: number } = {}): Promise<ItemInfo> {
    assertItemId(id);
    const expectedVersion = validateExpectedVersion(options?.expectedVersion);
    return this.#rewrite(id, expectedVersion, async ({ header, body }, _clock, now) => {
      if (header.tomb !== undefined) throw new CofferError('ENOENT', `item ${id} is already deleted`);
      return {
        body: {
          kind: body.kind,
          group: body.group,
          sync: body.sync,
          createdAt: body.createdAt,
          modifiedAt: now,
          attributes: {},
          secret: '',
          clocks: {},
        },
        tomb: now,
        event: 'item.delete',
      };
    });
  }

  /** Brings back the version a delete replaced, as a new write (SPEC §16.4). */
  async undelete(id: string): Promise<ItemInfo> {
    assertItemId(id);
    return this.#rewrite(id, undefined, async ({ header }, clock, now, history) => {
      if (header.tomb === undefined) throw new CofferError('EALREADY', `item ${id} is not deleted`);
      for (const record of [...history].reverse()) {
        const parsed = this.#parseHistory(id, record);
        if (parsed.header.tomb !== undefined) continue;
        const body = await this.decrypt(parsed);
        const clocks = Object.fromEntries(Object.keys(body.clocks).map((f) => [f, clock]));
        return { body: { ...body, clocks, modifiedAt: now }, event: 'item.undelete' };
      }
      throw new CofferError('ENOENT', `item ${id} has no earlier version to bring back`);
    });
  }

  #parseHistory(id: string, record: StoredRecord): ParsedRecord {
    const version = Number(record.key.slice(historyPrefix(id).length));
    const parsed = parseRecord(record.value);
    if (parsed.header.uuid !== id || parsed.header.version !== version)
      throw new CofferError('EBADMSG', `history record ${record.key} holds another item or version (moved)`);
    return parsed;
  }

  /** Earlier versions with their secrets, newest first (tombstones carry deletedAt). */
  async history(id: string): Promise<Item[]> {
    const { history: records } = await this.#readWithHistory(id);
    const out: Item[] = [];
    for (const record of records.reverse()) {
      const parsed = this.#parseHistory(id, record);
      out.push(toItem(parsed.header, await this.decrypt(parsed)));
    }
    return out;
  }

  /** Items matching the query, without secrets, through the blind index (SPEC §16.5, §16.6). */
  async find(query: FindQuery = {}, scope?: FindScope): Promise<FindResult> {
    const indexKey = this.#indexKey();
    try {
      return await findItems(this, this.#host.storage, indexKey, query, scope);
    } finally {
      wipe(indexKey);
    }
  }

  /** Imports a password-manager export; see import/import.ts. */
  import(request: ImportRequest): Promise<ImportReport> {
    return importExport(this, request);
  }

  /**
   * Every item's records byte for byte with the class keys that open them, for an encrypted backup
   * (SPEC §11.4); undefined when this store has no keychain. The caller wipes the class keys.
   */
  dangerouslyExportItems(
    filter: ItemExportFilter = {},
  ): Promise<{ keychain: ExportedKeychain; requires: string[] } | undefined> {
    return exportItems(this.#host, this.#classKeys, filter);
  }

  /** The checks a restore makes before writing anything (SPEC §11.5): class-key clashes, `fail` clashes. */
  checkItemRestore(data: ExportedKeychain, mode: ImportMode): Promise<void> {
    return checkItemRestore(this.#host, this.#classKeys, data, mode);
  }

  /** Writes a verified backup's items (backup/keychain.ts verifies them first); SPEC §11.5. */
  dangerouslyImportItems(
    data: ExportedKeychain,
    bodies: Map<string, ItemBody | undefined>,
    mode: ImportMode,
  ): Promise<ItemRestoreResult> {
    return restoreItems(this.#host, this.#classKeys, data, bodies, mode);
  }

  async historyBound(): Promise<HistoryBound> {
    return (await readMeta(this.#host))?.meta.history ?? { ...DEFAULT_HISTORY };
  }

  /** Sets how many versions and bytes of history each item keeps (each ≥ 1; applied at the next write). */
  async setHistoryBound(bound: HistoryBound): Promise<HistoryBound> {
    const valid = validateHistoryBound(bound);
    await ensureMeta(this.#host);
    return this.#host.commit(async () => {
      const current = await readMeta(this.#host);
      if (!current) throw new CofferError('EINTERNAL', 'keychain meta vanished');
      const meta = { ...current.meta, history: valid };
      return {
        ops: [
          {
            op: 'put',
            key: META_KEY,
            value: this.#host.sealRecord(META_KEY, meta),
            expectRevision: current.revision,
          },
        ],
        events: [{ event: 'keychain.history-bound', details: { ...valid } }],
        result: valid,
      };
    });
  }
}

function checkStillValid(body: ItemBody): void {
  validateAdd({ kind: body.kind, attributes: body.attributes, group: body.group, sync: body.sync });
}

/** Deletes of history records beyond the bound once `incoming` bytes join as the newest (SPEC §16.4). */
function prune(history: StoredRecord[], incoming: number, bound: HistoryBound): WriteOp[] {
  let count = 1;
  let bytes = incoming;
  const ops: WriteOp[] = [];
  for (const record of [...history].reverse()) {
    count += 1;
    bytes += record.value.length;
    if (count > bound.count || bytes > bound.bytes) ops.push({ op: 'delete', key: record.key });
  }
  return ops;
}
