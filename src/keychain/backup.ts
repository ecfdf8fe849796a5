// The keychain's side of encrypted backups (SPEC §11.4, §11.5): export every item's records byte for
// byte with the class keys that open them; verify a backup's items completely (every record
// decrypts under its class key) before anything is written; restore them with the same modes as
// keys, where `overwrite` only moves an item forward on its own line of versions and never deletes
// a version the store holds.

import type { ImportMode } from '../core/dangerous-material.js';
import { equalBytes, wipe } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import type { StoredRecord, WriteOp } from '../storage/types.js';
import type {
  ExportedClassKey,
  ExportedItem,
  ExportedKeychain,
  ItemExportFilter,
  ItemRestoreResult,
} from './backup-types.js';
import { indexKeys } from './blind-index.js';
import type { KeychainHost } from './host.js';
import {
  type ClassKeys,
  classKeyRecordKey,
  INDEX_INFO,
  type KeychainMeta,
  META_KEY,
  readMeta,
} from './meta.js';
import { type ItemBody, isUuid, openItemRecord, type ParsedRecord, parseRecord } from './record.js';

/** Storage batches hold at most 10 000 ops (SPEC §9.1); restore batches stay under 9 000. */
const OPS_PER_BATCH = 9000;
const INDEX_VALUE = new Uint8Array([1]);
const CURRENT_PREFIX = 'kc/i/';
const HISTORY_PREFIX = 'kc/h/';

function currentKey(uuid: string): string {
  return `${CURRENT_PREFIX}${uuid}`;
}
function historyKey(uuid: string, version: number): string {
  return `${HISTORY_PREFIX}${uuid}/${String(version).padStart(12, '0')}`;
}

function bad(message: string): CofferError {
  return new CofferError('EBADMSG', `backup keychain: ${message}`);
}

/**
 * Checks a backup's keychain part as SPEC §11.4 lists (structure, record keys, versions) and opens
 * every record under its class key, so a tampered, moved or foreign record is EBADMSG here, before
 * any write. Returns each item's current body (secret dropped) for its index entries.
 */
export function verifyExportedKeychain(data: ExportedKeychain): Map<string, ItemBody | undefined> {
  const classKeys = new Map<string, Uint8Array>();
  for (const k of data.classKeys) {
    if (classKeys.has(k.id)) throw bad(`class key ${k.id} appears twice`);
    if (k.key.length !== 32) throw bad(`class key ${k.id} is not 32 bytes`);
    classKeys.set(k.id, k.key);
  }
  if (!classKeys.has(data.classKeyId)) throw bad('the primary class key is not among the class keys');
  const open = (parsed: ParsedRecord, where: string): ItemBody => {
    const key = classKeys.get(parsed.header.parentKeyId);
    if (!key) throw bad(`${where} names class key ${parsed.header.parentKeyId}, which the backup lacks`);
    try {
      return openItemRecord(parsed, key);
    } catch (error) {
      if (error instanceof CofferError) throw bad(`${where}: ${error.message}`);
      throw error;
    }
  };
  const bodies = new Map<string, ItemBody | undefined>();
  for (const item of data.items) {
    if (!isUuid(item.uuid)) throw bad('an item has no valid uuid');
    if (bodies.has(item.uuid)) throw bad(`item ${item.uuid} appears twice`);
    const where = `item ${item.uuid}`;
    const current = parseRecord(item.current);
    if (current.header.uuid !== item.uuid)
      throw bad(`${where}: its current record holds another item (moved)`);
    let previous = 0;
    for (const h of item.history) {
      const parsed = parseRecord(h.record);
      if (parsed.header.uuid !== item.uuid || parsed.header.version !== h.version)
        throw bad(`${where}: history record ${h.version} holds another item or version (moved)`);
      if (h.version <= previous || h.version >= current.header.version)
        throw bad(`${where}: history versions are not ascending below the current version (rolled back)`);
      previous = h.version;
      open(parsed, `${where} v${h.version}`);
    }
    const body = open(current, where);
    bodies.set(item.uuid, current.header.tomb === undefined ? { ...body, secret: '' } : undefined);
  }
  return bodies;
}

/** An item's current record at `kc/i/<uuid>`, checked against its key (SPEC §16.3). */
function parseCurrent(stored: StoredRecord): { uuid: string; parsed: ParsedRecord } {
  const uuid = stored.key.slice(CURRENT_PREFIX.length);
  const parsed = parseRecord(stored.value);
  if (parsed.header.uuid !== uuid)
    throw new CofferError('EBADMSG', `item record ${stored.key} holds another item (moved)`);
  return { uuid, parsed };
}

/** History records of every item, grouped by uuid, ascending by version. */
async function historyByItem(
  host: KeychainHost,
): Promise<Map<string, { version: number; record: Uint8Array }[]>> {
  const out = new Map<string, { version: number; record: Uint8Array }[]>();
  for (const stored of await host.storage.list(HISTORY_PREFIX)) {
    const [uuid, version] = stored.key.slice(HISTORY_PREFIX.length).split('/');
    if (!isUuid(uuid) || !/^[0-9]{12}$/.test(version ?? ''))
      throw new CofferError('EBADMSG', `unexpected keychain record ${stored.key}`);
    const list = out.get(uuid) ?? [];
    list.push({ version: Number(version), record: stored.value });
    out.set(uuid, list);
  }
  return out;
}

/**
 * The keychain part of a backup (undefined when this store has no keychain). Records are verified
 * as a restore will verify them, so a damaged store fails the backup instead of writing a file
 * that cannot be restored.
 */
export async function exportItems(
  host: KeychainHost,
  classKeys: ClassKeys,
  filter: ItemExportFilter = {},
): Promise<{ keychain: ExportedKeychain; requires: string[] } | undefined> {
  const meta = await readMeta(host);
  if (!meta) return undefined;
  const keys: ExportedClassKey[] = [];
  try {
    for (const { id, createdAt } of await classKeys.list())
      keys.push({ id, createdAt, key: await classKeys.unwrap(id) });
    const byId = new Map(keys.map((k) => [k.id, k.key]));
    // History is listed before the current records: a write landing in between then only makes a
    // current record newer than its listed history, never history that looks rolled back (§16.3).
    const history = await historyByItem(host);
    const items: ExportedItem[] = [];
    const requires: string[] = [];
    for (const stored of await host.storage.list(CURRENT_PREFIX)) {
      const { uuid, parsed } = parseCurrent(stored);
      const changed = filter.sinceGeneration === undefined || stored.revision > filter.sinceGeneration;
      if (filter.group !== undefined) {
        const key = byId.get(parsed.header.parentKeyId);
        if (!key) throw new CofferError('EBADMSG', `item ${uuid} names a class key this keychain lacks`);
        if (openItemRecord(parsed, key).group !== filter.group) continue;
      }
      if (!changed) {
        requires.push(uuid);
        continue;
      }
      items.push({ uuid, current: stored.value, history: history.get(uuid) ?? [] });
    }
    const keychain: ExportedKeychain = {
      classKeyId: meta.meta.classKeyId,
      history: meta.meta.history,
      classKeys: keys,
      items,
    };
    verifyExportedKeychain(keychain);
    return { keychain, requires };
  } catch (error) {
    wipe(...keys.map((k) => k.key));
    throw error;
  }
}

/**
 * Step 9 of SPEC §11.5 for items, before any write: a class key the store holds with other bytes
 * is ECONFLICT; in `fail` mode an item already present is EALREADY.
 */
export async function checkItemRestore(
  host: KeychainHost,
  classKeys: ClassKeys,
  data: ExportedKeychain,
  mode: ImportMode,
): Promise<void> {
  for (const k of data.classKeys) {
    if (!(await host.storage.get(classKeyRecordKey(k.id)))) continue;
    const mine = await classKeys.unwrap(k.id);
    try {
      if (!equalBytes(mine, k.key))
        throw new CofferError(
          'ECONFLICT',
          `class key ${k.id} of the backup exists in this keychain with other bytes; nothing was restored`,
        );
    } finally {
      wipe(mine);
    }
  }
  if (mode !== 'fail') return;
  const present = [];
  for (const item of data.items) if (await host.storage.get(currentKey(item.uuid))) present.push(item.uuid);
  if (present.length > 0)
    throw new CofferError(
      'EALREADY',
      `${present.length} item(s) of the backup already exist in this store (first: ${present[0]}); ` +
        'nothing was restored: use skip-existing or overwrite',
    );
}

/** How the store's current record relates to the backup's item (SPEC §11.5, overwrite). */
function fastForward(
  item: ExportedItem,
  mine: ParsedRecord,
  mineBytes: Uint8Array,
): 'same' | 'ahead' | 'other' {
  if (equalBytes(mineBytes, item.current)) return 'same';
  const version = mine.header.version;
  if (version >= parseRecord(item.current).header.version) return 'other';
  const atVersion = item.history.find((h) => h.version === version);
  if (atVersion) return equalBytes(atVersion.record, mineBytes) ? 'ahead' : 'other';
  const oldest = item.history[0]?.version;
  return oldest === undefined || version < oldest ? 'ahead' : 'other';
}

/** Thrown by a batch's build when it has nothing to write: storage refuses an empty batch. */
class NothingToWrite<T> {
  constructor(readonly result: T) {}
}

/** host.commit, where a build that plans no write returns its result without a storage write. */
async function commitUnlessEmpty<T>(
  host: KeychainHost,
  build: () => Promise<{
    ops: WriteOp[];
    events: { event: string; details?: Record<string, unknown> }[];
    result: T;
  }>,
): Promise<T> {
  try {
    return await host.commit(async () => {
      const planned = await build();
      if (planned.ops.length === 0) throw new NothingToWrite(planned.result);
      return planned;
    });
  } catch (error) {
    if (error instanceof NothingToWrite) return error.result as T;
    throw error;
  }
}

/** Writes class keys (and a keychain meta when the store has none), then the items in batches. */
export async function restoreItems(
  host: KeychainHost,
  classKeys: ClassKeys,
  data: ExportedKeychain,
  bodies: Map<string, ItemBody | undefined>,
  mode: ImportMode,
): Promise<ItemRestoreResult> {
  await commitUnlessEmpty(host, async () => {
    const ops: WriteOp[] = [];
    for (const k of data.classKeys) {
      if (await host.storage.get(classKeyRecordKey(k.id))) continue;
      ops.push({
        op: 'put',
        key: classKeyRecordKey(k.id),
        value: classKeys.sealForStore(k.id, k.createdAt, k.key),
        expectRevision: 0,
      });
    }
    const events = [];
    if (!(await readMeta(host))) {
      const meta: KeychainMeta = {
        format: 'coffer-keychain',
        version: 1,
        // A restored store is another device: its writes must not share the source's clock stamps.
        deviceId: Buffer.from(host.rng.randomBytes(8)).toString('hex'),
        classKeyId: data.classKeyId,
        history: { ...data.history },
      };
      ops.push({ op: 'put', key: META_KEY, value: host.sealRecord(META_KEY, meta), expectRevision: 0 });
      events.push({
        event: 'keychain.create',
        details: { classKeyId: meta.classKeyId, deviceId: meta.deviceId },
      });
    }
    return { ops, events, result: undefined };
  });

  const result: ItemRestoreResult = { restored: [], skipped: [], failed: [] };
  const indexKey = host.subkey(INDEX_INFO);
  try {
    const indexOps = (uuid: string, before: ItemBody | undefined, after: ItemBody | undefined): WriteOp[] => {
      const old = before ? indexKeys(indexKey, uuid, before.kind, before.attributes) : new Set<string>();
      const now = after ? indexKeys(indexKey, uuid, after.kind, after.attributes) : new Set<string>();
      const ops: WriteOp[] = [];
      for (const k of old) if (!now.has(k)) ops.push({ op: 'delete', key: k });
      for (const k of now) if (!old.has(k)) ops.push({ op: 'put', key: k, value: INDEX_VALUE });
      return ops;
    };
    // A batch is planned from what the store holds when it is built; commit re-runs it on a lost race.
    const batches: ExportedItem[][] = [];
    let current: ExportedItem[] = [];
    let cost = 1;
    for (const item of data.items) {
      const itemCost = 2 + item.history.length + 10;
      if (current.length > 0 && cost + itemCost > OPS_PER_BATCH) {
        batches.push(current);
        current = [];
        cost = 1;
      }
      current.push(item);
      cost += itemCost;
    }
    if (current.length > 0) batches.push(current);
    const commitBatch = (batch: ExportedItem[]) =>
      commitUnlessEmpty(host, async () => {
        const ops: WriteOp[] = [];
        const done: ItemRestoreResult = { restored: [], skipped: [], failed: [] };
        for (const item of batch) {
          const stored = await host.storage.get(currentKey(item.uuid));
          const after = bodies.get(item.uuid);
          if (!stored) {
            ops.push({ op: 'put', key: currentKey(item.uuid), value: item.current, expectRevision: 0 });
            for (const h of item.history)
              ops.push({ op: 'put', key: historyKey(item.uuid, h.version), value: h.record });
            ops.push(...indexOps(item.uuid, undefined, after));
            done.restored.push(item.uuid);
            continue;
          }
          if (mode === 'fail') throw new CofferError('EALREADY', `item ${item.uuid} already exists`);
          if (mode === 'skip-existing') {
            done.skipped.push(item.uuid);
            continue;
          }
          const mine = parseCurrent(stored).parsed;
          const relation = fastForward(item, mine, stored.value);
          if (relation === 'same') {
            done.restored.push(item.uuid);
            continue;
          }
          if (relation === 'other') {
            done.failed.push({
              id: item.uuid,
              code: 'ECONFLICT',
              message: `item ${item.uuid} is at version ${mine.header.version} here and was changed since the backup's state; it was left as it is`,
            });
            continue;
          }
          const key = await classKeys.unwrap(mine.header.parentKeyId);
          let before: ItemBody | undefined;
          try {
            before = mine.header.tomb === undefined ? openItemRecord(mine, key) : undefined;
          } finally {
            wipe(key);
          }
          ops.push({
            op: 'put',
            key: currentKey(item.uuid),
            value: item.current,
            expectRevision: stored.revision,
          });
          for (const h of item.history)
            ops.push({ op: 'put', key: historyKey(item.uuid, h.version), value: h.record });
          if (!item.history.some((h) => h.version === mine.header.version))
            ops.push({ op: 'put', key: historyKey(item.uuid, mine.header.version), value: stored.value });
          ops.push(...indexOps(item.uuid, before, after));
          done.restored.push(item.uuid);
        }
        const events =
          ops.length > 0
            ? [{ event: 'item.restore', details: { mode, count: done.restored.length, ids: done.restored } }]
            : [];
        return { ops, events, result: done };
      });
    for (const [at, batch] of batches.entries()) {
      let outcome: ItemRestoreResult;
      try {
        outcome = await commitBatch(batch);
      } catch (error) {
        // Storage trouble or a racing writer: earlier batches are in; name every item that is not.
        const e =
          error instanceof CofferError
            ? error
            : new CofferError('EINTERNAL', String((error as Error)?.message));
        for (const item of batches.slice(at).flat())
          result.failed.push({ id: item.uuid, code: e.code, message: e.message });
        break;
      }
      result.restored.push(...outcome.restored);
      result.skipped.push(...outcome.skipped);
      result.failed.push(...outcome.failed);
    }
  } finally {
    wipe(indexKey);
  }
  return result;
}
