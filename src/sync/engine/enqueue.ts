// Queues the syncable items written before sync was set up on this keychain (SPEC §17.10.2): after
// the sync state exists every keychain write queues itself in its own batch, so this scan runs once,
// and a kill before it finishes makes the next start run it again (the state's `enqueued` flag).
import { parseRecord } from '../../keychain/record.js';
import { type KeychainSyncAccess, queueKey } from '../../keychain/sync-access.js';
import type { WriteOp } from '../../storage/types.js';

const BATCH = 1000;

export async function enqueueExisting(access: KeychainSyncAccess): Promise<number> {
  let ops: WriteOp[] = [];
  let count = 0;
  const flush = async () => {
    if (ops.length === 0) return;
    const batch = ops;
    ops = [];
    await access.commit(async () => ({
      ops: batch,
      events: [{ event: 'sync.enqueue', details: { count: batch.length } }],
      result: undefined,
    }));
  };
  for (const stored of await access.list('kc/i/')) {
    const parsed = parseRecord(stored.value);
    const body = await access.internals.decrypt(parsed);
    if (!body.sync) continue;
    const key = queueKey(parsed.header.uuid);
    ops.push({ op: 'put', key, value: access.sealRecord(key, { version: parsed.header.version }) });
    count++;
    if (ops.length >= BATCH) await flush();
  }
  await flush();
  return count;
}
