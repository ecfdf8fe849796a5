// Multi-process reliability tests every backend runs (SPEC §9), registered by
// `exerciseReliability(name, newStore)` from each backend's test file; `newStore()` returns the URL
// of a fresh, created store. Both tests run real child processes (workers/storage-reliability.ts):
//   1. kill -9 at random moments: after every kill the store opens cleanly, every acknowledged
//      batch is present and intact at its acknowledged revision, and every batch is all-or-nothing;
//   2. four processes doing compare-and-swap increments of one record end with the exact count and a
//      contiguous history: no update lost or doubled.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';
import { type ChildRun, crashLoop, runToEnd, siblingScript } from './crash.js';
import { historyKey } from './storage-counter.js';
import { batchKey, DELETE_LAG, payload, RECORDS_PER_BATCH } from './workers/storage-reliability.js';

const CHILD = siblingScript(import.meta.url, 'workers/storage-reliability.js');
const dec = new TextDecoder();

export interface ReliabilityOptions {
  /** Kill rounds (at least 20 per backend). */
  rounds?: number;
  /** Increments per process in the CAS test. */
  increments?: number;
  /**
   * Looks at the store right after a kill, before it is reopened, and names what the kill left
   * behind (e.g. 'stale lock'); tallies are reported, and `expectLeftovers` must each occur once.
   */
  inspectAfterKill?: (url: string) => string[];
  expectLeftovers?: string[];
}

/**
 * The head record and the batch records as of one generation. On postgres the server may still
 * commit a killed child's last transaction (its COMMIT was sent before the kill) while we read, so
 * two separate reads could see the head before that batch and its records after it.
 */
async function readConsistent(store: Storage) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = await store.generation();
    const head = await store.get('crash/head');
    const records = await store.list('crash/b/');
    if ((await store.generation()) === before) return { head, records };
  }
  assert.fail('the store kept changing with no writer running');
}

/** Checks the invariants of the batches workload against what children acknowledged so far. */
async function verifyBatches(store: Storage, acked: Map<number, number>): Promise<number> {
  const { head, records } = await readConsistent(store);
  if (acked.size === 0 && head === undefined) {
    assert.deepEqual(await store.list('crash/'), []);
    return -1;
  }
  assert.ok(head, 'acknowledged batches exist but the head record is missing');
  const last = Number(dec.decode(head.value));
  const maxAcked = Math.max(-1, ...acked.keys());
  assert.ok(last >= maxAcked, `head ${last} is behind acknowledged batch ${maxAcked}`);
  const byBatch = new Map<number, typeof records>();
  for (const record of records) {
    const batch = Number(record.key.split('/')[2]);
    const group = byBatch.get(batch) ?? [];
    group.push(record);
    byBatch.set(batch, group);
  }
  // Nothing of a batch past the head: the batch in flight at the kill is all or nothing.
  assert.deepEqual(
    [...byBatch.keys()].filter((b) => b > last),
    [],
    'records of a batch that never committed are visible',
  );
  for (let batch = 0; batch <= last; batch++) {
    const group = byBatch.get(batch) ?? [];
    const deleted = batch + DELETE_LAG <= last;
    const expectedKeys = [];
    for (let j = deleted ? 1 : 0; j < RECORDS_PER_BATCH; j++) expectedKeys.push(batchKey(batch, j));
    assert.deepEqual(
      group.map((r) => r.key),
      expectedKeys,
      `batch ${batch} is incomplete (head ${last})`,
    );
    const revision = group[0]!.revision;
    for (const record of group) {
      const j = Number(record.key.slice(record.key.lastIndexOf('/') + 2));
      assert.equal(record.revision, revision, `batch ${batch} was split over two generations`);
      assert.ok(Buffer.from(record.value).equals(payload(batch, j)), `record ${record.key} is damaged`);
    }
    const ackedAt = acked.get(batch);
    if (ackedAt !== undefined)
      assert.equal(revision, ackedAt, `batch ${batch} is not at its acknowledged revision`);
    if (batch === last) assert.equal(head.revision, revision, 'the head moved without its batch');
  }
  assert.ok((await store.generation()) >= head.revision);
  return last;
}

export function exerciseReliability(
  name: string,
  newStore: () => Promise<string>,
  { rounds = 25, increments = 25, inspectAfterKill, expectLeftovers = [] }: ReliabilityOptions = {},
): void {
  test(`${name}: kill -9 at random moments never loses an acknowledged write (${rounds} rounds)`, async (t) => {
    const url = await newStore();
    const acked = new Map<number, number>();
    const leftovers = new Map<string, number>();
    let previousGeneration = 0;
    const summary = await crashLoop({
      script: CHILD,
      args: ['batches'],
      env: { COFFER_TEST_STORE: url },
      rounds,
      // Timed from the first acknowledgement, so kills land amid batches however slow the machine.
      timeFrom: 'ack',
      killWindowMs: [0, 120],
      startupKillEvery: 6,
      verify: async (run: ChildRun, round: number) => {
        for (const ack of run.acks) {
          const [batch, generation] = ack.split(' ').map(Number);
          acked.set(batch!, generation!);
        }
        for (const tag of inspectAfterKill?.(url) ?? []) leftovers.set(tag, (leftovers.get(tag) ?? 0) + 1);
        // Opening is part of the promise: after any kill the store must open without help.
        const store = await openStorage(url);
        try {
          await verifyBatches(store, acked);
          const changed = await store.changedSince(previousGeneration);
          for (const record of changed) assert.ok(record.revision > previousGeneration);
          const generation = await store.generation();
          assert.ok(generation >= previousGeneration, `round ${round}: generation went backwards`);
          previousGeneration = generation;
        } finally {
          await store.close();
        }
      },
    });
    t.diagnostic(
      `${summary.rounds} kills, ${summary.acks} acknowledged batches, ${summary.killedMidWork} kills after ` +
        `at least one acknowledgement`,
    );
    if (leftovers.size > 0) {
      t.diagnostic(`kills left behind: ${[...leftovers].map(([tag, n]) => `${tag} ×${n}`).join(', ')}`);
    }
    // The recovery paths must actually have been exercised by real kills, not just exist.
    for (const tag of expectLeftovers) assert.ok(leftovers.has(tag), `no kill left a ${tag} behind`);
    assert.ok(summary.killedMidWork >= rounds / 2, 'too few kills landed while batches were being written');
  });

  test(`${name}: 4 processes doing CAS increments of one record lose no update`, async (t) => {
    const url = await newStore();
    const workers = ['w0', 'w1', 'w2', 'w3'];
    // Far enough ahead for all four to have started and opened the store.
    const env = { COFFER_TEST_STORE: url, COFFER_TEST_START_AT: String(Date.now() + 2500) };
    const runs = await Promise.all(
      workers.map((worker) =>
        runToEnd({ script: CHILD, args: ['increment', worker, String(increments)], env }),
      ),
    );
    const conflicts = runs.reduce((sum, run) => sum + Number(run.acks[0]?.split(' ')[1] ?? Number.NaN), 0);
    assert.ok(Number.isInteger(conflicts), 'a worker did not report');
    const store = await openStorage(url);
    try {
      const total = workers.length * increments;
      assert.equal(dec.decode((await store.get('cas/counter'))!.value), String(total));
      const history = await store.list('cas/hist/');
      assert.deepEqual(
        history.map((r) => r.key),
        Array.from({ length: total }, (_, i) => historyKey('cas/hist/', i + 1)),
      );
      const perWorker = new Map<string, number>();
      for (const record of history) {
        const worker = dec.decode(record.value);
        perWorker.set(worker, (perWorker.get(worker) ?? 0) + 1);
      }
      assert.deepEqual(
        [...perWorker.entries()].sort(),
        workers.map((w) => [w, increments]),
      );
      for (let i = 1; i < history.length; i++) assert.ok(history[i]!.revision > history[i - 1]!.revision);
      t.diagnostic(`${conflicts} lost compare-and-swap races were retried`);
    } finally {
      await store.close();
    }
  });
}
