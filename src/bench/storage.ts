// Storage benchmarks for `npm run bench` (SPEC §9): for each backend, 100 000 records written in
// batches, then open time, get latency and listing one prefix among many. The listing figure is a
// ratio: the same 100-record prefix listed in the 100 000-record store and in a 1 000-record store,
// interleaved in rounds; an index-served listing keeps that ratio near 1 (a scan would be ~100× off).
// PostgreSQL runs when a throwaway cluster can be started here (src/testing/postgres.ts).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../storage/open.js';
import type { Storage, WriteOp } from '../storage/types.js';
import { startPostgres } from '../testing/postgres.js';
import { asyncOpsPerSecond, type BenchRow, compareAsync } from './harness.js';

export interface StorageBenchOptions {
  /** Records in the large store (default 100 000). */
  records?: number;
  /** Records per write batch (default 1 000). */
  batch?: number;
  /** Backends to run (default all three). */
  backends?: Array<'sqlite' | 'dir' | 'postgres'>;
}

const APPS = 100;
const PURPOSES = 10;

/** Key i spreads records over APPS × PURPOSES prefixes, `keystore/app<a>/p<p>/k<i>/meta`. */
function keyOf(i: number): string {
  return `keystore/app${i % APPS}/p${Math.floor(i / APPS) % PURPOSES}/k${i}/meta`;
}

async function fill(store: Storage, keys: string[], batch: number): Promise<number> {
  const value = randomBytes(200);
  const start = performance.now();
  for (let from = 0; from < keys.length; from += batch) {
    const ops: WriteOp[] = keys.slice(from, from + batch).map((key) => ({ op: 'put', key, value }));
    await store.write(ops);
  }
  return performance.now() - start;
}

const PREFIX = 'keystore/app42/p7/';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

async function latencies(fn: () => Promise<unknown>, count: number): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

const ms = (value: number) => Number(value.toFixed(3));

async function benchBackend(
  kind: string,
  bigUrl: string,
  smallUrl: string,
  records: number,
  batch: number,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  let big = await openStorage(bigUrl, { create: true });
  const bigKeys = Array.from({ length: records }, (_, i) => keyOf(i));
  const fillMs = await fill(big, bigKeys, batch);
  rows.push({
    group: 'storage',
    name: `storage.write ${kind}: ${records} records in batches of ${batch}`,
    opsPerSec: (records * 1000) / fillMs,
    extra: { seconds: ms(fillMs / 1000), batchesPerSec: ms((records / batch / fillMs) * 1000) },
  });
  await big.close();

  const openStart = performance.now();
  big = await openStorage(bigUrl);
  const openMs = performance.now() - openStart;
  rows.push({
    group: 'storage',
    name: `storage.open ${kind}: ${records} records`,
    opsPerSec: 1000 / openMs,
    extra: { ms: ms(openMs) },
  });

  const randomKey = () => keyOf(Math.floor(Math.random() * records));
  const getRate = await asyncOpsPerSecond(() => big.get(randomKey()), 500);
  const getLatency = await latencies(() => big.get(randomKey()), 2000);
  rows.push({
    group: 'storage',
    name: `storage.get ${kind}: random key of ${records}`,
    opsPerSec: getRate,
    extra: { p50ms: ms(getLatency.p50), p99ms: ms(getLatency.p99) },
  });

  // The small store holds exactly the big store's records under PREFIX plus others, to a total of
  // 1 000: the same listing, over a store 100× smaller.
  const prefixKeys = bigKeys.filter((key) => key.startsWith(PREFIX));
  const smallKeys = [
    ...prefixKeys,
    ...bigKeys.filter((key) => !key.startsWith(PREFIX)).slice(0, 1000 - prefixKeys.length),
  ];
  const small = await openStorage(smallUrl, { create: true });
  await fill(small, smallKeys, batch);
  const result = await compareAsync(
    () => big.list(PREFIX),
    () => small.list(PREFIX),
    { rounds: 5, ms: 200 },
  );
  const listLatency = await latencies(() => big.list(PREFIX), 200);
  rows.push({
    group: 'storage',
    name: `storage.list ${kind}: one prefix (${prefixKeys.length} records) among ${records}`,
    opsPerSec: result.subject,
    baseline: `the same prefix in a ${smallKeys.length}-record store`,
    baselineOpsPerSec: result.baseline,
    ratio: result.ratio,
    goal: 0.5,
    extra: { p50ms: ms(listLatency.p50), p99ms: ms(listLatency.p99) },
  });
  await small.close();
  await big.close();
  return rows;
}

export async function benchStorage(options: StorageBenchOptions = {}): Promise<BenchRow[]> {
  const records = options.records ?? 100_000;
  const batch = options.batch ?? 1000;
  const backends = options.backends ?? ['sqlite', 'dir', 'postgres'];
  const rows: BenchRow[] = [];
  const root = mkdtempSync(join(tmpdir(), 'coffer-bench-storage-'));
  try {
    if (backends.includes('sqlite')) {
      rows.push(
        ...(await benchBackend(
          'sqlite',
          `sqlite:${join(root, 'big.db')}`,
          `sqlite:${join(root, 'small.db')}`,
          records,
          batch,
        )),
      );
    }
    if (backends.includes('dir')) {
      rows.push(
        ...(await benchBackend(
          'dir',
          `dir:${join(root, 'big')}`,
          `dir:${join(root, 'small')}`,
          records,
          batch,
        )),
      );
    }
    if (backends.includes('postgres')) {
      let cluster: Awaited<ReturnType<typeof startPostgres>> | undefined;
      try {
        cluster = await startPostgres();
      } catch (error) {
        rows.push({
          group: 'storage',
          name: 'storage postgres: not run',
          opsPerSec: 0,
          extra: {
            reason: `no PostgreSQL cluster could be started: ${(error as Error).message.slice(0, 200)}`,
          },
        });
      }
      if (cluster !== undefined) {
        try {
          const big = await cluster.createDatabase('bench_big');
          const small = await cluster.createDatabase('bench_small');
          rows.push(...(await benchBackend('postgres', big, small, records, batch)));
        } finally {
          await cluster.stop();
        }
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}
