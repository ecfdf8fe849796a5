// Pull (SPEC §17.10.1): read the server's change log from the last position applied, apply what is
// new, then compare the digest of this device's server view with the digest the server sent. Equal —
// the usual case — and the pull took one round trip per page (one when little changed). Different —
// a lossy or lying server, or local state lost — and range reconciliation (SPEC §17.6) finds exactly
// the items that differ, which are fetched by uuid: O(differences) records, never the whole account.
import { reconcile } from '../reconcile.js';
import type { ChangesPage, SyncTransport } from '../transport.js';
import { type ApplyContext, type ApplyCounts, applyRecords } from './apply.js';
import { attack } from './attacks.js';

export const CHANGES_PAGE = 1000;
const FETCH_BATCH = 500;

export interface PullContext extends ApplyContext {
  transport: SyncTransport;
}

export interface PullResult extends ApplyCounts {
  seq: number;
  /** Items fetched by range reconciliation because the digests differed. */
  repaired: number;
}

/** SPEC §17.10.4: positions strictly increasing, after the one asked for, never beyond `nextSeq`. */
export function checkPage(page: ChangesPage, sinceSeq: number): void {
  if (!Number.isSafeInteger(page.nextSeq) || page.nextSeq < sinceSeq)
    throw attack(
      'rolled-back-log',
      `asked for changes after position ${sinceSeq}, the server answers up to ${page.nextSeq}`,
    );
  let previous = sinceSeq;
  for (const { seq, record } of page.records) {
    if (!Number.isSafeInteger(seq) || seq <= previous || seq > page.nextSeq)
      throw attack(
        'reordered-records',
        `change log position ${seq} (item ${record?.uuid}) follows ${previous} out of order (asked after ${sinceSeq})`,
      );
    previous = seq;
  }
  if (page.records.length > 0 && previous !== page.nextSeq)
    throw attack('reordered-records', `change log page ends at ${previous} but says ${page.nextSeq}`);
}

function add(into: ApplyCounts, more: ApplyCounts): void {
  into.pulled += more.pulled;
  into.conflicts += more.conflicts;
  into.deferred += more.deferred;
}

/** Fetches the given uuids and applies them; a uuid the server lists but does not serve is dropped. */
export async function fetchAndApply(
  ctx: PullContext,
  uuids: readonly string[],
  counts: ApplyCounts,
): Promise<void> {
  for (let start = 0; start < uuids.length; start += FETCH_BATCH) {
    const wanted = uuids.slice(start, start + FETCH_BATCH);
    const records = await ctx.transport.getRecords(wanted);
    const asked = new Set(wanted);
    for (const r of records)
      if (!asked.has(r?.uuid))
        throw attack('reordered-records', `asked for ${wanted.length} items, served item ${r?.uuid}`);
    if (records.length !== wanted.length) {
      const got = new Set(records.map((r) => r.uuid));
      const missing = wanted.filter((u) => !got.has(u));
      throw attack('dropped-record', `the server lists item ${missing[0]} but does not serve it`);
    }
    add(counts, await applyRecords(ctx, records, 'fetch'));
  }
}

/** Runs range reconciliation against the server and fetches what differs (SPEC §17.6). */
export async function repair(ctx: PullContext, counts: ApplyCounts): Promise<number> {
  const diff = await reconcile(ctx.view.manifest(), { query: (requests) => ctx.transport.ranges(requests) });
  if (diff.localOnly.length > 0)
    throw attack(
      'dropped-record',
      `the server no longer serves ${diff.localOnly.length} item(s) this device saw there (first ${diff.localOnly[0]})`,
    );
  const wanted = [...diff.remoteOnly, ...diff.changed];
  await fetchAndApply(ctx, wanted, counts);
  return wanted.length;
}

export async function pull(ctx: PullContext, sinceSeq: number): Promise<PullResult> {
  const counts: ApplyCounts = { pulled: 0, conflicts: 0, deferred: 0 };
  let seq = sinceSeq;
  let digest: string;
  for (;;) {
    const page = await ctx.transport.changes(seq, CHANGES_PAGE);
    checkPage(page, seq);
    add(
      counts,
      await applyRecords(
        ctx,
        page.records.map((r) => r.record),
        'log',
      ),
    );
    seq = page.nextSeq;
    digest = page.digest;
    if (!page.more) break;
  }
  let repaired = 0;
  if (ctx.view.digest() !== digest) repaired = await repair(ctx, counts);
  return { ...counts, seq, repaired };
}
