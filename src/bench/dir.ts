// dir: backend benchmarks for `npm run bench --only dir` (SPEC §9.6), each a ratio measured side by
// side in the same run:
//   - single-record creations (expectRevision 0) from 16 concurrent callers, with group commit
//     against the same handle type committing each batch on its own (the path before group commit);
//   - key creations from 16 concurrent callers through the Keystore on a dir: store, against one
//     caller at a time on the same keystore (goal ≥ 1 and ≥ 100 keys/s): the session queues commits
//     that arrive while one is in flight and writes them as one batch under one tree root and audit
//     head (session.ts), and the dir handle's own group commit makes that batch durable;
//   - changedSince on a 10 000-record store with 10 changes, served by `@changes`, against the walk
//     it used to be (every record file read: the same cost as listing the whole store).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keystore } from '../core/keystore.js';
import { openDirStorage } from '../storage/dir.js';
import type { Storage, WriteOp } from '../storage/types.js';
import { passphrase } from '../testing/keystore.js';
import { type BenchRow, compareAsync } from './harness.js';

const CALLERS = 16;
const PER_CALLER = 4;
const ROUNDS = 3;

/** 16 callers each creating PER_CALLER records one batch at a time; returns creations per second. */
async function concurrentCreations(store: Storage, tag: string): Promise<number> {
  const value = randomBytes(300);
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, caller) => {
      for (let i = 0; i < PER_CALLER; i++) {
        await store.write([{ op: 'put', key: `c/${tag}/${caller}/${i}`, value, expectRevision: 0 }]);
      }
    }),
  );
  return (CALLERS * PER_CALLER * 1000) / (performance.now() - start);
}

async function benchCreations(root: string): Promise<BenchRow> {
  const grouped = await openDirStorage(join(root, 'grouped'), { create: true });
  const single = await openDirStorage(join(root, 'single'), { create: true }, { groupCommit: false });
  let best = 0;
  let bestOld = 0;
  for (let round = 0; round < ROUNDS; round++) {
    bestOld = Math.max(bestOld, await concurrentCreations(single, `r${round}`));
    best = Math.max(best, await concurrentCreations(grouped, `r${round}`));
  }
  await grouped.close();
  await single.close();
  return {
    group: 'dir',
    name: `dir.write: single-record creations from ${CALLERS} concurrent callers (group commit)`,
    opsPerSec: best,
    baseline: 'the same, one commit per batch',
    baselineOpsPerSec: bestOld,
    ratio: best / bestOld,
    extra: { goalKeysPerSec: 100 },
  };
}

async function benchKeyCreations(root: string): Promise<BenchRow> {
  const ks = await Keystore.open({
    store: `dir:${join(root, 'keystore')}`,
    protector: passphrase(),
    create: true,
  });
  const create = (n: number) => ks.createKey({ app: 'bench', purpose: `p${n % 8}`, algorithm: 'ed25519' });
  let bestConcurrent = 0;
  let bestSequential = 0;
  let n = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      let start = performance.now();
      for (let i = 0; i < CALLERS; i++) await create(n++);
      bestSequential = Math.max(bestSequential, (CALLERS * 1000) / (performance.now() - start));
      start = performance.now();
      await Promise.all(Array.from({ length: CALLERS }, () => create(n++)));
      bestConcurrent = Math.max(bestConcurrent, (CALLERS * 1000) / (performance.now() - start));
    }
  } finally {
    await ks.close();
  }
  return {
    group: 'dir',
    name: `dir keystore.createKey: ${CALLERS} concurrent callers`,
    opsPerSec: bestConcurrent,
    baseline: 'one caller at a time, same keystore',
    baselineOpsPerSec: bestSequential,
    ratio: bestConcurrent / bestSequential,
    goal: 1,
    extra: { goalKeysPerSec: 100 },
  };
}

async function benchChangedSince(root: string): Promise<BenchRow> {
  const store = await openDirStorage(join(root, 'changes'), { create: true });
  const value = randomBytes(200);
  for (let from = 0; from < 10_000; from += 1000) {
    const ops: WriteOp[] = Array.from({ length: 1000 }, (_, i) => ({
      op: 'put',
      key: `keystore/app${(from + i) % 100}/p${Math.floor((from + i) / 100) % 10}/k${from + i}/meta`,
      value,
    }));
    await store.write(ops);
  }
  const since = await store.generation();
  for (let i = 0; i < 10; i++) {
    await store.write([{ op: 'put', key: `keystore/app${i}/p0/k${i * 7}/meta`, value: randomBytes(200) }]);
  }
  const walk = async () => (await store.list('')).filter((r) => r.revision > since);
  const [a, b] = [await store.changedSince(since), await walk()];
  if (a.length !== 10 || b.length !== 10) throw new Error('changedSince and the walk disagree');
  const result = await compareAsync(() => store.changedSince(since), walk, { rounds: 3, ms: 300 });
  await store.close();
  return {
    group: 'dir',
    name: 'dir.changedSince: 10 changes in a 10 000-record store (@changes index)',
    opsPerSec: result.subject,
    baseline: 'walking every record file',
    baselineOpsPerSec: result.baseline,
    ratio: result.ratio,
  };
}

export async function benchDir(): Promise<BenchRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'coffer-bench-dir-'));
  try {
    return [await benchCreations(root), await benchKeyCreations(root), await benchChangedSince(root)];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
