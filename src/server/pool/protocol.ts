// Messages between the daemon's worker pool and its workers (docs/daemon.md "Worker pool"). Key bytes
// travel only in `install` (once per key version per worker, in a buffer that is transferred, so the
// sending thread keeps no copy); a job on a secret kernel names the installed key by handle and carries
// null in its place.
import type { KernelName } from '../../core/kernels.js';
import type { TaskName } from './tasks.js';

export interface JobMessage {
  id: number;
  name: KernelName | TaskName;
  args: unknown[];
  /** Handle of the installed key that replaces args[0] (secret kernels only). */
  key?: number;
}

export type ToWorker =
  | { type: 'install'; handle: number; secret: Uint8Array }
  | { type: 'jobs'; jobs: JobMessage[] }
  | { type: 'forget'; handles: number[] }
  | { type: 'forgetAll' }
  /** Wipe every key and end (the worker's port closes, so its thread exits). */
  | { type: 'close' };

export type JobResult =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; code: string; message: string };

export type FromWorker = { type: 'results'; results: JobResult[] };

/** True when `bytes` spans its whole ArrayBuffer, so transferring it moves nothing else along. */
export function ownsBuffer(bytes: Uint8Array): boolean {
  return (
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer
  );
}
