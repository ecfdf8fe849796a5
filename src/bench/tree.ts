// Record tree benchmarks for `npm run bench` (SPEC §4.1): what anti-rollback costs, as ratios against
// the same storage operation without the tree, measured side by side on one sqlite store holding
// COFFER_BENCH_TREE_KEYS keys' worth of records (default 50 000 keys: meta, version, id index, usage).
//   - a point read: VerifiedStorage.get (root read + record read + path check, nodes cached) vs get;
//   - a read after another writer moved the root (the top node is re-fetched) vs get;
//   - a one-record durable write (nodes on its path + root, one fsync) vs the same write;
//   - a createKeys-sized batch (1 000 keys × 3 records) vs the same batch;
//   - open cost: the first read of a cold handle (root MAC + path of nodes) vs a cold get.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VerifiedStorage } from '../core/verified-storage.js';
import { openStorage } from '../storage/open.js';
import type { WriteOp } from '../storage/types.js';
import { type BenchRow, compareAsync, row } from './harness.js';

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** A distinct, valid key id per index (base32 digits of i, padded). */
function keyId(i: number): string {
  let out = '';
  let n = i;
  do {
    out = B32[n & 31] + out;
    n = Math.floor(n / 32);
  } while (n > 0);
  return `k_${out.padStart(26, 'a')}`;
}

const metaOf = (i: number) => `keystore/app${i % 100}/p${i % 7}/${keyId(i)}/meta`;

/** The records of key i, as the keystore lays them out (one group per key in the tree). */
function keyRecords(i: number, value: Uint8Array): WriteOp[] {
  const id = keyId(i);
  const base = `keystore/app${i % 100}/p${i % 7}/${id}`;
  return [
    { op: 'put', key: `${base}/meta`, value },
    { op: 'put', key: `${base}/v/1`, value },
    { op: 'put', key: `ids/${id}`, value },
  ];
}

export async function benchTree(options: { keys?: number } = {}): Promise<BenchRow[]> {
  const keys = options.keys ?? Number(process.env.COFFER_BENCH_TREE_KEYS ?? 50_000);
  const root = mkdtempSync(join(tmpdir(), 'coffer-bench-tree-'));
  const rows: BenchRow[] = [];
  const treeKey = randomBytes(32);
  const value = randomBytes(400);
  const url = `sqlite:${join(root, 'tree.db')}`;
  const raw = await openStorage(url, { create: true });
  const tree = new VerifiedStorage(raw, () => treeKey);
  tree.allowMissingRoot(true);
  try {
    const fillStart = performance.now();
    for (let from = 0; from < keys; from += 1000) {
      const ops: WriteOp[] = [];
      for (let i = from; i < Math.min(keys, from + 1000); i++) ops.push(...keyRecords(i, value));
      await tree.write(ops);
    }
    const fillMs = performance.now() - fillStart;
    tree.allowMissingRoot(false);
    const pick = () => metaOf(Math.floor(Math.random() * keys));

    const read = await compareAsync(
      () => tree.get(pick()),
      () => raw.get(pick()),
    );
    rows.push(row('tree', `verified get, ${keys * 3} records (nodes cached)`, read, 'storage.get (no tree)'));

    // Another writer commits between reads: the root and the top node change every time.
    const other = new VerifiedStorage(raw, () => treeKey);
    let n = 0;
    const churn = await compareAsync(
      async () => {
        await other.write([{ op: 'put', key: `bench/other/${n++ % 50}`, value }]);
        await tree.get(pick());
      },
      async () => {
        await other.write([{ op: 'put', key: `bench/other/${n++ % 50}`, value }]);
        await raw.get(pick());
      },
      { rounds: 3, ms: 300 },
    );
    rows.push(
      row('tree', 'write by another handle + verified get', churn, 'same write + storage.get (no tree)'),
    );

    let w = 0;
    const one = await compareAsync(
      () => tree.write([{ op: 'put', key: `usage/${keyId(w++ % keys)}`, value }]),
      () => raw.write([{ op: 'put', key: `bench/raw/${w++ % 1000}`, value }]),
      { rounds: 3, ms: 400 },
    );
    rows.push(row('tree', 'one-record durable write with tree', one, 'storage.write (no tree)'));

    let b = keys;
    const batchOps = (i: number) => {
      const ops: WriteOp[] = [];
      for (let k = i; k < i + 1000; k++) ops.push(...keyRecords(k, value));
      return ops;
    };
    const batch = await compareAsync(
      async () => {
        await tree.write(batchOps(b));
        b += 1000;
      },
      async () => {
        await raw.write(batchOps(b).map((op) => ({ ...op, key: `bench/batch/${op.key}` })));
        b += 1000;
      },
      { rounds: 3, ms: 1500 },
    );
    rows.push(
      row('tree', 'batch of 1 000 keys × 3 records with tree', batch, 'storage.write (no tree)', undefined, {
        fillKeysPerSec: Math.round((keys * 1000) / fillMs),
      }),
    );

    const cold = await compareAsync(
      async () => {
        const fresh = new VerifiedStorage(raw, () => treeKey);
        await fresh.get(pick());
      },
      () => raw.get(pick()),
      { rounds: 3, ms: 300 },
    );
    rows.push(
      row('tree', 'first verified get of a new handle (root MAC, path)', cold, 'storage.get (no tree)'),
    );
  } finally {
    await raw.close();
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}
