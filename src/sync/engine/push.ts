// Push (SPEC §17.10.1, §17.10.2): every queued item (`kc/q/<uuid>`, written with the item) is sent as
// a compare-and-swap write on the server gencount this device last saw. Accepted writes update the
// server view and leave the queue in one commit — unless the item was written again meanwhile (its
// queue entry's revision moved), in which case it stays queued for the next round. A 409 brings the
// server's copy, which is merged (SPEC §17.4) like any pulled record, and the result is sent again.
import { currentKey } from '../../keychain/keychain.js';
import { QUEUE_PREFIX, queueKey } from '../../keychain/sync-access.js';
import type { WriteOp } from '../../storage/types.js';
import { recordHash } from '../manifest.js';
import type { RecordPut } from '../transport.js';
import { toWire } from '../wire-record.js';
import { applyRecords } from './apply.js';
import { attack } from './attacks.js';
import type { WroteEntry } from './device-manifest.js';
import { fetchAndApply, type PullContext } from './pull.js';

const PUSH_BATCH = 500;
/** Rounds of push → conflict → merge before giving up until the next sync. */
const MAX_ROUNDS = 8;

export interface PushResult {
  pushed: number;
  conflicts: number;
  /** The writes the server acknowledged, for the device manifest. */
  wrote: WroteEntry[];
}

interface Outgoing {
  put: RecordPut;
  hash: string;
  queueRevision: number;
}

export async function push(ctx: PullContext): Promise<PushResult> {
  const out: PushResult = { pushed: 0, conflicts: 0, wrote: [] };
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const queue = await ctx.access.list(QUEUE_PREFIX);
    if (queue.length === 0) break;
    const outgoing: Outgoing[] = [];
    const behind: string[] = [];
    const orphans: WriteOp[] = [];
    for (const entry of queue) {
      const uuid = entry.key.slice(QUEUE_PREFIX.length);
      const current = await ctx.access.get(currentKey(uuid));
      if (!current) {
        orphans.push({ op: 'delete', key: entry.key, expectRevision: entry.revision });
        continue;
      }
      const record = toWire(current.value);
      const ifGencount = ctx.view.get(uuid)?.gencount ?? 0;
      // The server holds a newer copy than the local write was based on: fetch and merge first.
      if (record.gencount <= ifGencount) behind.push(uuid);
      else
        outgoing.push({
          put: { record, ifGencount },
          hash: recordHash(current.value),
          queueRevision: entry.revision,
        });
    }
    if (orphans.length > 0)
      await ctx.access
        .commit(async () => ({
          ops: orphans,
          events: [{ event: 'sync.queue-drop', details: { count: orphans.length } }],
          result: undefined,
        }))
        .catch(() => undefined);
    if (behind.length > 0) {
      const counts = { pulled: 0, conflicts: 0, deferred: 0 };
      await fetchAndApply(ctx, behind, counts);
      out.conflicts += counts.conflicts;
    }
    let lost = 0;
    for (let start = 0; start < outgoing.length; start += PUSH_BATCH) {
      const chunk = outgoing.slice(start, start + PUSH_BATCH);
      const results = await ctx.transport.putRecords(chunk.map((o) => o.put));
      if (results.length !== chunk.length) throw attack('reordered-records', 'push answered out of step');
      const accepted: (Outgoing & { seq: number })[] = [];
      const rejected = [];
      for (const [i, result] of results.entries()) {
        const sent = chunk[i]!;
        if (result.uuid !== sent.put.record.uuid)
          throw attack('reordered-records', 'push answers out of order');
        if (result.ok) accepted.push({ ...sent, seq: result.seq });
        else {
          if (result.current?.uuid !== sent.put.record.uuid)
            throw attack(
              'swapped-record',
              `conflict on item ${sent.put.record.uuid} answered with another item`,
            );
          rejected.push(result.current);
        }
      }
      if (accepted.length > 0) {
        await ctx.access.commit(async () => {
          const ops: WriteOp[] = [];
          for (const sent of accepted) {
            const uuid = sent.put.record.uuid;
            ops.push(ctx.view.op(ctx.access, uuid, { gencount: sent.put.record.gencount, hash: sent.hash }));
            const marker = await ctx.access.get(queueKey(uuid));
            // Written again since it was read for sending: stays queued for the newer version.
            if (marker?.revision === sent.queueRevision)
              ops.push({ op: 'delete', key: queueKey(uuid), expectRevision: marker.revision });
          }
          return {
            ops,
            events: [{ event: 'sync.push', details: { count: accepted.length } }],
            result: undefined,
          };
        });
        for (const sent of accepted) {
          const { uuid, gencount } = sent.put.record;
          ctx.view.set(uuid, { gencount, hash: sent.hash });
          out.wrote.push({ uuid, gencount, seq: sent.seq });
        }
        out.pushed += accepted.length;
      }
      if (rejected.length > 0) {
        lost += rejected.length;
        const counts = await applyRecords(ctx, rejected, 'fetch');
        out.conflicts += Math.max(counts.conflicts, rejected.length);
      }
    }
    if (lost === 0 && behind.length === 0 && outgoing.length === 0) break;
  }
  return out;
}
