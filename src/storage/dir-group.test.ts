// Group commit in the dir: backend (SPEC §9.6): writes from concurrent callers that arrive while a
// commit is in flight share the next commit, yet each keeps its own generation and its own
// compare-and-swap outcome, and kill -9 amid group commits loses no acknowledged batch and shows no
// partial one. The commit counter proves grouping without timing anything.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { crashLoop, siblingScript } from '../testing/crash.js';
import { expectCode } from '../testing/storage-conformance.js';
import {
  GROUP_LANES,
  GROUP_RECORDS,
  laneHead,
  laneKey,
  laneValue,
} from '../testing/workers/dir-group-commit.js';
import { dirStats, openDirStorage } from './dir.js';
import type { Storage } from './types.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-dir-group-'));
after(() => rmSync(root, { recursive: true, force: true }));
const enc = new TextEncoder();
const dec = new TextDecoder();

async function sixteenCreations(store: Storage): Promise<number[]> {
  return Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      store.write([{ op: 'put', key: `c/k${i}`, value: enc.encode(`v${i}`), expectRevision: 0 }]),
    ),
  );
}

test('dir: 16 concurrent single-record creations share commits; each gets its own generation', async () => {
  const grouped = await openDirStorage(join(root, 'grouped'), { create: true });
  const generations = await sixteenCreations(grouped);
  // One commit for the first caller, one for the 15 that arrived while it was in flight (all 16
  // may even share the first). Without group commit this is 16 (below).
  assert.ok(dirStats(grouped).commits <= 2, `${dirStats(grouped).commits} commits for 16 concurrent writes`);
  assert.equal(dirStats(grouped).batches, 16);
  assert.deepEqual(
    [...generations].sort((a, b) => a - b),
    Array.from({ length: 16 }, (_, i) => i + 1),
  );
  for (let i = 0; i < 16; i++) assert.equal((await grouped.get(`c/k${i}`))?.revision, generations[i]);
  assert.equal(await grouped.generation(), 16);
  await grouped.close();

  const single = await openDirStorage(join(root, 'single'), { create: true }, { groupCommit: false });
  await sixteenCreations(single);
  assert.equal(dirStats(single).commits, 16);
  await single.close();
});

test('dir: in one group, a failed condition refuses only its own batch', async () => {
  const store = await openDirStorage(join(root, 'cas'), { create: true });
  const base = await store.write([{ op: 'put', key: 'cas/shared', value: enc.encode('0') }]);
  const results = await Promise.allSettled([
    // Eight callers race to create the same record: exactly one may win.
    ...Array.from({ length: 8 }, (_, i) =>
      store.write([{ op: 'put', key: 'cas/once', value: enc.encode(`w${i}`), expectRevision: 0 }]),
    ),
    // Eight callers move the same record from the same revision: exactly one may win.
    ...Array.from({ length: 8 }, (_, i) =>
      store.write([
        { op: 'put', key: 'cas/shared', value: enc.encode(`s${i}`), expectRevision: base },
        { op: 'put', key: `cas/mine/${i}`, value: enc.encode('side effect'), expectRevision: 0 },
      ]),
    ),
    // Independent callers in the same rounds are unaffected.
    ...Array.from({ length: 8 }, (_, i) =>
      store.write([{ op: 'put', key: `cas/free/${i}`, value: enc.encode('f') }]),
    ),
  ]);
  assert.ok(dirStats(store).commits <= 3, `${dirStats(store).commits} commits`);
  const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code?: string }).code));
  assert.equal(codes.slice(0, 8).filter((c) => c === 'ok').length, 1);
  assert.equal(codes.slice(8, 16).filter((c) => c === 'ok').length, 1);
  assert.deepEqual(
    codes.filter((c) => c !== 'ok'),
    Array(14).fill('ECONFLICT'),
  );
  assert.deepEqual(codes.slice(16), Array(8).fill('ok'));
  const once = await store.get('cas/once');
  const winner = codes.slice(0, 8).indexOf('ok');
  assert.equal(dec.decode(once!.value), `w${winner}`);
  assert.equal(once!.revision, (results[winner] as PromiseFulfilledResult<number>).value);
  // The losing movers wrote nothing, not even their side-effect records.
  const mover = codes.slice(8, 16).indexOf('ok');
  assert.deepEqual(
    (await store.list('cas/mine/')).map((r) => r.key),
    [`cas/mine/${mover}`],
  );
  assert.equal(dec.decode((await store.get('cas/shared'))!.value), `s${mover}`);
  // Generations are consecutive over the accepted batches only: refused ones use none.
  const accepted = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  assert.deepEqual(
    [...accepted].sort((a, b) => a - b),
    Array.from({ length: 10 }, (_, i) => base + 1 + i),
  );
  assert.equal(await store.generation(), base + 10);
  await store.close();
});

test('dir: writes queued before close are committed; close waits for them', async () => {
  const store = await openDirStorage(join(root, 'close'), { create: true });
  const writes = Array.from({ length: 10 }, (_, i) =>
    store.write([{ op: 'put', key: `q/${i}`, value: enc.encode('x') }]),
  );
  await store.close();
  const generations = await Promise.all(writes);
  assert.equal(new Set(generations).size, 10);
  await expectCode(() => store.write([{ op: 'put', key: 'q/late', value: enc.encode('x') }]), 'EUNAVAIL');
  const reopened = await openDirStorage(join(root, 'close'));
  assert.equal((await reopened.list('q/')).length, 10);
  await reopened.close();
});

const CHILD = siblingScript(import.meta.url, '../testing/workers/dir-group-commit.js');

test('dir: kill -9 amid group commits from 8 concurrent callers loses no acknowledged batch', async (t) => {
  const path = join(root, 'kill');
  await (await openDirStorage(path, { create: true })).close();
  const acked = new Map<string, number>();
  const summary = await crashLoop({
    script: CHILD,
    env: { COFFER_TEST_STORE: path },
    rounds: 20,
    timeFrom: 'ack',
    killWindowMs: [0, 150],
    startupKillEvery: 7,
    verify: async (run) => {
      for (const ack of run.acks) {
        const [lane, batch, generation] = ack.split(' ').map(Number);
        acked.set(`${lane}/${batch}`, generation!);
      }
      const store = await openDirStorage(path);
      try {
        const generation = await store.generation();
        for (let lane = 0; lane < GROUP_LANES; lane++) {
          const head = await store.get(laneHead(lane));
          const last = head === undefined ? -1 : Number(dec.decode(head.value));
          const records = await store.list(`grp/${lane}/0`);
          const byBatch = new Map<number, typeof records>();
          for (const record of records) {
            const batch = Number(record.key.split('/')[2]);
            byBatch.set(batch, [...(byBatch.get(batch) ?? []), record]);
          }
          assert.deepEqual(
            [...byBatch.keys()].filter((b) => b > last),
            [],
            `lane ${lane}: records past its head ${last} (a partial batch)`,
          );
          for (let batch = 0; batch <= last; batch++) {
            const group = byBatch.get(batch) ?? [];
            assert.deepEqual(
              group.map((r) => r.key),
              Array.from({ length: GROUP_RECORDS }, (_, j) => laneKey(lane, batch, j)),
              `lane ${lane} batch ${batch} incomplete`,
            );
            for (const [j, record] of group.entries()) {
              assert.equal(record.revision, group[0]!.revision, `lane ${lane} batch ${batch} split`);
              assert.deepEqual(record.value, laneValue(lane, batch, j));
            }
            const ackedAt = acked.get(`${lane}/${batch}`);
            if (ackedAt !== undefined)
              assert.equal(group[0]!.revision, ackedAt, `lane ${lane} batch ${batch} moved`);
            if (batch === last) assert.equal(head!.revision, group[0]!.revision);
          }
          for (const [key, ackedAt] of acked) {
            const [ackLane, ackBatch] = key.split('/').map(Number);
            if (ackLane === lane)
              assert.ok(ackBatch! <= last, `acknowledged ${key} (gen ${ackedAt}) was lost`);
          }
        }
        // The changes index agrees with the files after every kill.
        const all = await store.list('');
        for (const since of [0, Math.max(0, generation - 5), generation]) {
          assert.deepEqual(
            (await store.changedSince(since)).map((r) => [r.key, r.revision]),
            all.filter((r) => r.revision > since).map((r) => [r.key, r.revision]),
            `changedSince(${since}) disagrees with the files`,
          );
        }
      } finally {
        await store.close();
      }
    },
  });
  t.diagnostic(`${summary.rounds} kills, ${summary.acks} acknowledged batches from ${GROUP_LANES} lanes`);
  assert.ok(summary.killedMidWork >= 10, 'too few kills landed amid writes');
});
