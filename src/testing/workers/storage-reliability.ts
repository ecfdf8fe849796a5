// Child process for reliability.test.ts (run as compiled JS; not a test file itself). Modes:
//   batches  — writes batch after batch until SIGKILLed, printing `ack <batch> <generation>` after
//              each write resolves. Batch b creates crash/b/<b>/r0..r3 (expectRevision 0), moves the
//              crash/head pointer to b with compare-and-swap, and deletes crash/b/<b-3>/r0, so puts,
//              CAS and deletes are all in flight when the kill lands.
//   increment <worker> <count> — CAS read-modify-write increments of one counter, each adding a
//              history record, retrying lost races; prints `ack <worker> <conflicts>` at the end.
// The store URL comes in COFFER_TEST_STORE (not argv, where a database password would show in ps).
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStorage } from '../../storage/open.js';
import { childAck, childExitWithParent, childReady } from '../crash.js';
import { casIncrement } from '../storage-counter.js';

export const RECORDS_PER_BATCH = 4;
export const DELETE_LAG = 3;

/** Deterministic content of record j of batch b; lengths vary from 1 byte to ~5 KiB. */
export function payload(batch: number, record: number): Uint8Array {
  const length = 1 + ((batch * 7919 + record * 104_729) % 5000);
  const out = new Uint8Array(length);
  let block = createHash('sha256').update(`${batch}/${record}`).digest();
  for (let at = 0; at < length; at += 32) {
    out.set(block.subarray(0, Math.min(32, length - at)), at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export const batchKey = (batch: number, record: number) =>
  `crash/b/${String(batch).padStart(6, '0')}/r${record}`;

async function batches(url: string): Promise<void> {
  const store = await openStorage(url);
  childReady();
  const head = await store.get('crash/head');
  let next = head === undefined ? 0 : Number(new TextDecoder().decode(head.value)) + 1;
  let headRevision = head?.revision ?? 0;
  for (;;) {
    const ops = [];
    for (let j = 0; j < RECORDS_PER_BATCH; j++) {
      ops.push({ op: 'put' as const, key: batchKey(next, j), value: payload(next, j), expectRevision: 0 });
    }
    ops.push({
      op: 'put' as const,
      key: 'crash/head',
      value: new TextEncoder().encode(String(next)),
      expectRevision: headRevision,
    });
    if (next >= DELETE_LAG) ops.push({ op: 'delete' as const, key: batchKey(next - DELETE_LAG, 0) });
    const generation = await store.write(ops);
    childAck(`${next} ${generation}`);
    headRevision = generation;
    next++;
  }
}

async function increment(url: string, worker: string, count: number): Promise<void> {
  const store = await openStorage(url);
  childReady();
  // All workers start at the same wall-clock moment, so their increments really interleave.
  const startAt = Number(process.env.COFFER_TEST_START_AT ?? 0);
  if (startAt > Date.now()) await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
  let conflicts = 0;
  for (let i = 0; i < count; i++) {
    conflicts += (await casIncrement(store, 'cas/counter', 'cas/hist/', worker)).conflicts;
  }
  await store.close();
  childAck(`${worker} ${conflicts}`);
  process.exit(0);
}

const [mode, ...rest] = process.argv.slice(2);
const url = process.env.COFFER_TEST_STORE;
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  childExitWithParent();
  if (url === undefined) throw new Error('COFFER_TEST_STORE is not set');
  if (mode === 'batches') await batches(url);
  else if (mode === 'increment') await increment(url, rest[0] ?? 'w', Number(rest[1] ?? 10));
  else throw new Error(`unknown mode ${mode}`);
}
