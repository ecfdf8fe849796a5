// The format upgrade 1 → 2 (SPEC §4.3): builds the record tree over a store written before it existed.
// Run only when asked (`Keystore.open({ …, upgrade: true })`), never silently: a store that reads as
// format 1 again later (an old header and keyslots copied back) must not have its records adopted as
// they are. The nodes go in first (harmless without a root), then one atomic batch writes the root, the
// header with version 2 and the keyslots re-MAC'd over it, each under compare-and-swap. Records another
// process wrote meanwhile are entered into the tree afterwards (stop older builds first: SPEC §4.3).
import { CofferError } from '../errors.js';
import type { WriteOp } from '../storage/types.js';
import {
  decodeJson,
  encodeJson,
  HEADER_KEY,
  SLOT_PREFIX,
  type SlotRecord,
  type StoreHeader,
  touchedSlot,
  verifySlot,
} from './keyslots.js';
import { RollbackError } from './rollback.js';
import type { Session } from './session.js';
import { buildTree, encodeRoot, isTracked, position, ROOT_KEY, TREE_PREFIX, valueHash } from './tree.js';

/** Storage batches hold at most 10 000 ops (SPEC §9.1). */
const OPS_PER_BATCH = 9000;

async function writeInBatches(s: Session, ops: WriteOp[]): Promise<void> {
  for (let i = 0; i < ops.length; i += OPS_PER_BATCH) await s.raw.write(ops.slice(i, i + OPS_PER_BATCH));
}

/** Upgrades an unlocked format-1 store in place; returns the new header. */
export async function upgradeStore(s: Session, header: StoreHeader): Promise<StoreHeader> {
  if (header.version !== 1) throw new CofferError('EINTERNAL', 'only a format-1 store is upgraded');
  const keys = s.keys;
  const raw = s.raw;
  if (await raw.get(ROOT_KEY)) {
    // The root and the version-2 header are written in one batch: a root beside a version-1 header
    // means the header (and keyslots) were put back from an older copy.
    throw new RollbackError(
      { kind: 'record', record: HEADER_KEY },
      `record ${HEADER_KEY} was rolled back: it says format 1, but the store has a record tree (SPEC §4.3)`,
    );
  }
  // Node records of an upgrade interrupted before its last batch.
  const leftovers = await raw.list(TREE_PREFIX);
  await writeInBatches(
    s,
    leftovers.map((r) => ({ op: 'delete', key: r.key })),
  );
  const since = await raw.generation();
  const headerRecord = await raw.get(HEADER_KEY);
  if (!headerRecord) throw new CofferError('ENOENT', 'the keystore header disappeared during the upgrade');
  const next: StoreHeader = { ...header, version: 2 };
  const final: WriteOp[] = [
    { op: 'put', key: HEADER_KEY, value: encodeJson(next), expectRevision: headerRecord.revision },
  ];
  for (const record of await raw.list(SLOT_PREFIX)) {
    let slot: SlotRecord;
    try {
      slot = decodeJson<SlotRecord>(record.value, `keyslot ${record.key}`);
    } catch {
      continue; // a damaged slot stays as it is, listed as not intact
    }
    // The slot MAC covers the header: re-MAC intact slots over the version-2 header.
    if (!verifySlot(keys, header, slot)) continue;
    final.push({
      op: 'put',
      key: record.key,
      value: encodeJson(touchedSlot(keys, next, slot, slot.lastUsedAt)),
      expectRevision: record.revision,
    });
  }
  const finalValues = new Map(final.map((op) => [op.key, (op as { value: Uint8Array }).value]));
  const entries = [];
  for (const record of await raw.list('')) {
    if (!isTracked(record.key)) continue;
    entries.push({ pos: position(record.key), vh: valueHash(finalValues.get(record.key) ?? record.value) });
  }
  const tree = buildTree(entries);
  const nodes: WriteOp[] = [];
  for (const [key, bytes] of tree.writes) if (bytes) nodes.push({ op: 'put', key, value: bytes });
  await writeInBatches(s, nodes);
  const root = encodeRoot(keys.tree, {
    v: 1,
    seq: 1,
    count: tree.count,
    top: tree.top ? tree.top.toString('hex') : '',
    anchors: {},
  });
  const generation = await raw.write([
    ...final,
    { op: 'put', key: ROOT_KEY, value: root.bytes, expectRevision: 0 },
  ]);
  // Records written by another process between the listing and the last batch (SPEC §4.3).
  const raced = (await raw.changedSince(since))
    .filter((r) => isTracked(r.key) && r.revision !== generation)
    .map((r) => r.key);
  for (let i = 0; i < raced.length; i += 2000) {
    await s.storage.write([], { adopt: raced.slice(i, i + 2000), quiet: true });
  }
  await s.commit(
    async () => ({
      ops: [],
      events: [{ event: 'keystore.upgrade', details: { from: 1, to: 2, records: tree.count } }],
      result: undefined,
    }),
    { seal: false },
  );
  return next;
}
