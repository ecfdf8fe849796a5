// Runs the bounded-memory worker of sealed streams (workers/stream-memory.ts) in a child process, so
// its peak RSS is its own and not the test runner's, and returns the JSON line it prints.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

// The bound is on growth over the process's own baseline (the runtime, the keystore, and for the
// daemon its worker pool), which differs by Node version: 146 MiB on Node 24 against 90 MiB on Node 20.
// Buffering even a sixth of the 1 GiB input would cross it; streaming measured 60–110 MiB.
export const MAX_GROWTH_MIB = 176;

const worker = new URL('./workers/stream-memory.js', import.meta.url).pathname;

export interface StreamMemoryResult {
  mode: 'library' | 'daemon';
  bytes: number;
  ms: number;
  baselineRssMiB: number;
  maxRssMiB: number;
}

export async function runStreamMemoryWorker(
  mode: 'library' | 'daemon',
  bytes: number,
): Promise<StreamMemoryResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [worker, mode, String(bytes)], {
    timeout: 10 * 60_000,
  });
  return JSON.parse(stdout.trim()) as StreamMemoryResult;
}

const cliWorker = new URL('./workers/cli-stream-memory.js', import.meta.url).pathname;

/** Peak RSS (MiB) of the two CLI processes of the pipeline `coffer seal | coffer unseal`. */
export interface CliPeaks {
  seal: number;
  unseal: number;
}

export interface CliStreamMemoryResult {
  mode: 'direct' | 'daemon';
  bytes: number;
  /** The same pipeline on 1 MiB with --stream. */
  baseline: CliPeaks;
  peak: CliPeaks;
}

/** Runs the real CLI binary on `bytes` generated as a stream (workers/cli-stream-memory.ts). */
export async function runCliStreamMemoryWorker(
  mode: 'direct' | 'daemon',
  bytes: number,
): Promise<CliStreamMemoryResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [cliWorker, mode, String(bytes)], {
    timeout: 10 * 60_000,
  });
  return JSON.parse(stdout.trim()) as CliStreamMemoryResult;
}
