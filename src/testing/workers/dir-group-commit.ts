// Child process for dir-group.test.ts (run as compiled JS; not a test file itself): several
// concurrent callers in one process write batch after batch into a dir: store until SIGKILLed, so
// the kill lands amid group commits. Lane L's batch n creates grp/<L>/<n>/r0..r2 (expectRevision 0)
// and moves grp/<L>/head to n by compare-and-swap; after each write resolves it prints
// `ack <L> <n> <generation>`. The store path comes in COFFER_TEST_STORE.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStorage } from '../../storage/open.js';
import { childAck, childExitWithParent, childReady } from '../crash.js';

export const GROUP_LANES = 8;
export const GROUP_RECORDS = 3;

export const laneKey = (lane: number, batch: number, record: number) =>
  `grp/${lane}/${String(batch).padStart(6, '0')}/r${record}`;
export const laneHead = (lane: number) => `grp/${lane}/head`;
export const laneValue = (lane: number, batch: number, record: number) =>
  new TextEncoder().encode(
    `lane ${lane} batch ${batch} record ${record} `.repeat(1 + ((batch + record) % 7)),
  );

async function lane(store: Awaited<ReturnType<typeof openStorage>>, index: number): Promise<never> {
  const head = await store.get(laneHead(index));
  let next = head === undefined ? 0 : Number(new TextDecoder().decode(head.value)) + 1;
  let headRevision = head?.revision ?? 0;
  for (;;) {
    const ops = [];
    for (let j = 0; j < GROUP_RECORDS; j++) {
      ops.push({
        op: 'put' as const,
        key: laneKey(index, next, j),
        value: laneValue(index, next, j),
        expectRevision: 0,
      });
    }
    ops.push({
      op: 'put' as const,
      key: laneHead(index),
      value: new TextEncoder().encode(String(next)),
      expectRevision: headRevision,
    });
    const generation = await store.write(ops);
    childAck(`${index} ${next} ${generation}`);
    headRevision = generation;
    next++;
  }
}

async function main(): Promise<void> {
  childExitWithParent();
  const store = await openStorage(`dir:${process.env.COFFER_TEST_STORE}`);
  childReady();
  await Promise.all(Array.from({ length: GROUP_LANES }, (_, i) => lane(store, i)));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  await main();
}
