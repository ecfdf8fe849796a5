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
