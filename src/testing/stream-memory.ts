// Runs the bounded-memory worker of sealed streams (workers/stream-memory.ts) in a child process, so
// its peak RSS is its own and not the test runner's, and returns the JSON line it prints.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

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
