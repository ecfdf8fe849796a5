// Takes records from the server into the keychain (SPEC §17.10.1, steps "apply"): each is checked
// against what this device already saw of its uuid (a lower gencount is a replay or rollback, the same
// gencount with other bytes a fork), rebuilt and decrypted (a failure is a record moved between
// items or accounts), then installed: as is when the local copy has no unpushed write, merged
// (SPEC §17.4) when it does — the loser, and any local version replaced, going to history. All
// records of a batch are written in one atomic commit with their server-view entries.
import { canonicalJson } from '../../core/encoding.js';
import { CofferError } from '../../errors.js';
import { parseClock } from '../../keychain/clock.js';
import { currentKey, historyKey } from '../../keychain/keychain.js';
import type { KeychainMeta } from '../../keychain/meta.js';
import { type ItemBody, type ParsedRecord, parseRecord, type RecordHeader } from '../../keychain/record.js';
import { type KeychainSyncAccess, queueKey } from '../../keychain/sync-access.js';
import type { WriteOp } from '../../storage/types.js';
import { recordHash } from '../manifest.js';
import { type ItemVersion, mergeVersions } from '../merge.js';
import type { SyncMembership } from '../transport.js';
import { fromWire, type WireRecord } from '../wire-record.js';
import { attack } from './attacks.js';
import type { ServerView } from './state.js';

/** Records per atomic commit (each takes up to ~12 storage ops; a batch holds 10 000). */
const APPLY_BATCH = 200;

export interface ApplyContext {
  access: KeychainSyncAccess;
  membership: SyncMembership;
  view: ServerView;
  maxSkewMs: number;
  /** From the device manifests just read: uuid → gencount some device wrote, the least the server may serve. */
  floors?: Map<string, number>;
}

export interface ApplyCounts {
  pulled: number;
  conflicts: number;
  deferred: number;
}

interface Prepared {
  wire: WireRecord;
  bytes: Uint8Array;
  parsed: ParsedRecord;
  body: ItemBody;
  hash: string;
}

/** `log`: from the change log (an old gencount there is a replay); `fetch`: asked for by uuid. */
export type RecordSource = 'log' | 'fetch';

async function decryptChecked(ctx: ApplyContext, parsed: ParsedRecord): Promise<ItemBody> {
  const uuid = parsed.header.uuid;
  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.access.internals.decrypt(parsed);
    } catch (error) {
      if (!(error instanceof CofferError) || error.code !== 'EBADMSG') throw error;
      const unknownKey = /lacks/.test(error.message);
      // A class key this device does not hold yet may come with a newer circle (SPEC §17.9).
      if (unknownKey && attempt === 0) {
        await ctx.membership.refresh();
        continue;
      }
      throw attack(
        'swapped-record',
        unknownKey
          ? `record of item ${uuid} is under class key ${parsed.header.parentKeyId}, which the circle never shared: a record of another account`
          : `record of item ${uuid} fails authentication: moved from another item or account, or altered`,
        error,
      );
    }
  }
}

async function prepare(
  ctx: ApplyContext,
  wire: WireRecord,
  source: RecordSource,
): Promise<Prepared | 'same' | 'deferred'> {
  const bytes = fromWire(wire);
  const hash = recordHash(bytes);
  const known = ctx.view.get(wire.uuid);
  if (known) {
    if (wire.gencount < known.gencount)
      throw attack(
        source === 'log' ? 'replayed-record' : 'rolled-back-gencount',
        `item ${wire.uuid} served at gencount ${wire.gencount}, below gencount ${known.gencount} already seen`,
      );
    if (wire.gencount === known.gencount) {
      if (hash === known.hash) return 'same';
      throw attack(
        'forked-record',
        `item ${wire.uuid} served with two different records at gencount ${wire.gencount}`,
      );
    }
  }
  const floor = ctx.floors?.get(wire.uuid);
  if (floor !== undefined && wire.gencount < floor)
    throw attack(
      'rolled-back-gencount',
      `item ${wire.uuid} served at gencount ${wire.gencount}; a device's signed manifest says it wrote gencount ${floor}`,
    );
  const parsed = parseRecord(bytes);
  // SPEC §17.3: a clock too far ahead waits, unmerged, until local time has caught up.
  if (parseClock(parsed.header.clock).wall > ctx.access.host.now() + ctx.maxSkewMs) return 'deferred';
  const body = await decryptChecked(ctx, parsed);
  return { wire, bytes, parsed, body, hash };
}

function versionOf(parsed: ParsedRecord, body: ItemBody): ItemVersion {
  const h = parsed.header;
  return {
    uuid: h.uuid,
    gencount: h.version,
    clock: h.clock,
    deviceId: h.deviceId,
    ...(h.tomb !== undefined ? { tomb: h.tomb } : {}),
    body,
  };
}

const live = (tomb: unknown, body: ItemBody) => (tomb === undefined ? body : undefined);
const content = (body: ItemBody, tomb: number | undefined) => canonicalJson({ body, tomb: tomb ?? null });

/** The storage ops that take one prepared record in; `conflict` when a merge was needed. */
async function plan(
  ctx: ApplyContext,
  meta: KeychainMeta,
  p: Prepared,
): Promise<{ ops: WriteOp[]; conflict: boolean }> {
  const { access } = ctx;
  const uuid = p.wire.uuid;
  const g = p.wire.gencount;
  const ops: WriteOp[] = [ctx.view.op(access, uuid, { gencount: g, hash: p.hash })];
  const local = await access.get(currentKey(uuid));
  const queued = await access.get(queueKey(uuid));
  const unqueue = (): WriteOp[] =>
    queued ? [{ op: 'delete', key: queueKey(uuid), expectRevision: queued.revision }] : [];
  const toHistory = async (version: number, bytes: Uint8Array, planned: Set<number>): Promise<WriteOp[]> => {
    if (planned.has(version) || (await access.get(historyKey(uuid, version)))) return [];
    planned.add(version);
    return [{ op: 'put', key: historyKey(uuid, version), value: bytes, expectRevision: 0 }];
  };
  if (!local) {
    ops.push(
      { op: 'put', key: currentKey(uuid), value: p.bytes, expectRevision: 0 },
      ...access.internals.indexOps(uuid, undefined, live(p.parsed.header.tomb, p.body)),
      ...unqueue(),
    );
    return { ops, conflict: false };
  }
  if (recordHash(local.value) === p.hash) return { ops: [...ops, ...unqueue()], conflict: false };
  const localParsed = parseRecord(local.value);
  const localBody = await access.internals.decrypt(localParsed);
  const lv = localParsed.header.version;
  const planned = new Set<number>();
  const install = async (): Promise<WriteOp[]> => [
    ...(await toHistory(lv, local.value, planned)),
    { op: 'put', key: currentKey(uuid), value: p.bytes, expectRevision: local.revision },
    ...access.internals.indexOps(
      uuid,
      live(localParsed.header.tomb, localBody),
      live(p.parsed.header.tomb, p.body),
    ),
  ];
  if (!queued && lv < g) return { ops: [...ops, ...(await install())], conflict: false };

  // The local copy holds a write the server has not acknowledged: merge (SPEC §17.4).
  const merged = mergeVersions(versionOf(localParsed, localBody), versionOf(p.parsed, p.body));
  const result = content(merged.body, merged.tomb);
  if (result === content(p.body, p.parsed.header.tomb) && lv < g)
    return { ops: [...ops, ...(await install()), ...unqueue()], conflict: true };
  const queueOp: WriteOp = {
    op: 'put',
    key: queueKey(uuid),
    value: access.sealRecord(queueKey(uuid), { version: lv }),
  };
  if (result === content(localBody, localParsed.header.tomb) && lv > g)
    return {
      ops: [...ops, ...(await toHistory(g, p.bytes, planned)), ...(queued ? [] : [queueOp])],
      conflict: true,
    };
  // A merge is not an edit: the result keeps the winner's clock, as a new record above both (§17.4 5).
  const header: RecordHeader = {
    uuid,
    parentKeyId: meta.classKeyId,
    version: Math.max(lv, g) + 1,
    clock: merged.clock,
    deviceId: meta.deviceId,
    ...(merged.tomb !== undefined ? { tomb: merged.tomb } : {}),
  };
  const sealed = await access.internals.seal(header, merged.body);
  ops.push(
    ...(await toHistory(lv, local.value, planned)),
    ...(await toHistory(g, p.bytes, planned)),
    { op: 'put', key: currentKey(uuid), value: sealed, expectRevision: local.revision },
    ...access.internals.indexOps(
      uuid,
      live(localParsed.header.tomb, localBody),
      live(merged.tomb, merged.body),
    ),
    { ...queueOp, value: access.sealRecord(queueKey(uuid), { version: header.version }) },
  );
  return { ops, conflict: true };
}

/**
 * Checks, decrypts and installs records from the server. Every record of the list is checked
 * before anything is written, so an attack anywhere in it installs nothing from it.
 */
export async function applyRecords(
  ctx: ApplyContext,
  records: readonly WireRecord[],
  source: RecordSource,
): Promise<ApplyCounts> {
  const counts: ApplyCounts = { pulled: 0, conflicts: 0, deferred: 0 };
  const prepared: Prepared[] = [];
  const seen = new Set<string>();
  for (const wire of records) {
    if (seen.has(wire.uuid))
      throw attack('reordered-records', `item ${wire.uuid} served twice in one answer`);
    seen.add(wire.uuid);
    const p = await prepare(ctx, wire, source);
    if (p === 'deferred') counts.deferred++;
    else if (p !== 'same') prepared.push(p);
  }
  if (prepared.length === 0) return counts;
  const meta = await ctx.access.meta();
  for (let start = 0; start < prepared.length; start += APPLY_BATCH) {
    const chunk = prepared.slice(start, start + APPLY_BATCH);
    const conflicts = await ctx.access.commit(async () => {
      const ops: WriteOp[] = [];
      let conflicts = 0;
      for (const p of chunk) {
        const planned = await plan(ctx, meta, p);
        ops.push(...planned.ops);
        if (planned.conflict) conflicts++;
      }
      return {
        ops,
        events: [{ event: 'sync.pull', details: { count: chunk.length, conflicts } }],
        result: conflicts,
      };
    });
    for (const p of chunk) {
      ctx.view.set(p.wire.uuid, { gencount: p.wire.gencount, hash: p.hash });
      ctx.access.internals.observeClock(p.parsed.header.clock);
    }
    counts.pulled += chunk.length;
    counts.conflicts += conflicts;
  }
  return counts;
}
