// Entry point of `npm run bench` (node dist/bench/index.js [--only <group>] [--keys N]): runs every benchmark
// group, prints a readable table (name, ops/s, baseline, ratio, goal, ✓/✗) and then one JSON line
// `{"node": …, "rows": [...]}` for machines. A missed goal is printed clearly but does not fail the
// command: timings on shared machines are noisy, and the numbers are for people to read.
import { pathToFileURL } from 'node:url';
import { benchBackup } from './backup.js';
import { benchCli } from './cli.js';
import { benchKem } from './crypto-kem.js';
import { benchSig } from './crypto-sig.js';
import { benchSymmetric } from './crypto-symmetric.js';
import { benchDaemon } from './daemon.js';
import { benchDir } from './dir.js';
import type { BenchRow } from './harness.js';
import { benchKeyImport } from './key-import.js';
import { benchKeychain } from './keychain.js';
import { benchKeystore } from './keystore.js';
import { benchPaging } from './paging.js';
import { benchScale } from './scale.js';
import { benchStorage } from './storage.js';
import { benchStream } from './stream.js';
import { benchSync } from './sync.js';
import { benchSyncServer } from './sync-server.js';
import { benchTree } from './tree.js';
import { benchUnlock } from './unlock.js';

/** Set by `--keys N` before the groups run: the size of the scale group's large keystore. */
const scaleOptions: { keys?: number } = {};

export const BENCH_GROUPS: Readonly<Record<string, () => Promise<BenchRow[]>>> = {
  symmetric: benchSymmetric,
  sig: benchSig,
  keyimport: benchKeyImport,
  kem: benchKem,
  storage: benchStorage,
  dir: benchDir,
  tree: benchTree,
  keystore: benchKeystore,
  scale: () => benchScale(scaleOptions),
  unlock: benchUnlock,
  daemon: benchDaemon,
  backup: benchBackup,
  stream: benchStream,
  cli: benchCli,
  keychain: benchKeychain,
  syncserver: benchSyncServer,
  paging: benchPaging,
  sync: benchSync,
};

function parseArgs(argv: string[]): { only: string | undefined; keys: number | undefined } {
  let only: string | undefined;
  let keys: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--keys' || arg?.startsWith('--keys=')) {
      const value = arg === '--keys' ? argv[++i] : arg.slice('--keys='.length);
      keys = Number(value);
      if (!Number.isSafeInteger(keys) || keys < 2000) throw new Error('--keys needs an integer ≥ 2000');
    } else if (arg === '--only') {
      only = argv[++i];
      if (only === undefined) throw new Error('--only needs a group name');
    } else if (arg?.startsWith('--only=')) {
      only = arg.slice('--only='.length);
    } else {
      throw new Error(`unknown argument ${arg}; usage: bench [--only <group>] [--keys N]`);
    }
  }
  if (only !== undefined && !(only in BENCH_GROUPS)) {
    throw new Error(`unknown group ${only}; one of ${Object.keys(BENCH_GROUPS).join(', ')}`);
  }
  return { only, keys };
}

/** ✓ when the goal is met, ✗ when missed, blank when the row has no goal. */
export function verdict(row: BenchRow): '✓' | '✗' | '' {
  if (row.goal === undefined || row.ratio === undefined) return '';
  return row.ratio >= row.goal ? '✓' : '✗';
}

function formatRate(value: number | undefined): string {
  if (value === undefined) return '';
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3);
}

function formatExtra(extra: BenchRow['extra']): string {
  if (extra === undefined) return '';
  return Object.entries(extra)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

/** The rows as an aligned text table, one line per row, extras after the verdict. */
export function formatTable(rows: BenchRow[]): string {
  const header = ['group', 'name', 'ops/s', 'baseline', 'baseline ops/s', 'ratio', 'goal', '', 'extra'];
  const cells = rows.map((r) => [
    r.group,
    r.name,
    formatRate(r.opsPerSec),
    r.baseline ?? '',
    formatRate(r.baselineOpsPerSec),
    r.ratio === undefined ? '' : r.ratio.toFixed(2),
    r.goal === undefined ? '' : `≥ ${r.goal}`,
    verdict(r),
    formatExtra(r.extra),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const numeric = new Set([2, 4, 5]);
  const line = (c: string[]) =>
    c
      .map((cell, i) =>
        i === c.length - 1 ? cell : numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export async function main(argv: string[]): Promise<BenchRow[]> {
  const { only, keys } = parseArgs(argv);
  if (keys !== undefined) scaleOptions.keys = keys;
  const rows: BenchRow[] = [];
  for (const [group, run] of Object.entries(BENCH_GROUPS)) {
    if (only !== undefined && group !== only) continue;
    process.stderr.write(`bench: ${group}…\n`);
    const started = performance.now();
    rows.push(...(await run()));
    process.stderr.write(`bench: ${group} took ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
  process.stdout.write(`${formatTable(rows)}\n`);
  const missed = rows.filter((r) => verdict(r) === '✗');
  process.stdout.write(
    missed.length === 0
      ? `\nall ${rows.filter((r) => r.goal !== undefined).length} goals met\n`
      : `\nGOALS MISSED (${missed.length}): ${missed.map((r) => `${r.name} (${r.ratio!.toFixed(2)} < ${r.goal})`).join('; ')}\n`,
  );
  process.stdout.write(`${JSON.stringify({ node: process.versions.node, rows })}\n`);
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    process.exitCode = 2;
  }
}
