// A worker of the daemon's crypto pool (docs/daemon.md "Worker pool"): runs operation kernels
// (src/core/kernels.ts) on behalf of the event-loop thread. It holds the key versions installed into
// it until told to forget them (destroy, lock, close), keeps the crypto layer's prepared keys for
// them, and wipes every input buffer it was given once a job is done — the inputs are its own copies.
import { parentPort } from 'node:worker_threads';
import { KERNELS, type KernelName } from '../../core/kernels.js';
import { clearCache as clearKemCache } from '../../crypto/kem.js';
import { clearKeyCache } from '../../crypto/sig.js';
import { asCofferError } from '../../errors.js';
import { bytesIn } from '../codec.js';
import { type FromWorker, type JobMessage, type JobResult, ownsBuffer, type ToWorker } from './protocol.js';
import { TASKS } from './tasks.js';

const port = parentPort;
if (port === null) throw new Error('coffer pool worker: not started as a worker thread');

// Every Buffer this thread makes owns its memory: results can then be moved back whole, and no answer
// can carry a shared slab holding bytes of another job.
Buffer.poolSize = 0;

const keys = new Map<number, Uint8Array>();

function forgetAll(): void {
  for (const secret of keys.values()) secret.fill(0);
  keys.clear();
  clearKeyCache();
  clearKemCache();
}

function runJob(job: JobMessage): JobResult {
  const args = job.args;
  try {
    if (job.key !== undefined) {
      const secret = keys.get(job.key);
      if (secret === undefined)
        return { id: job.id, ok: false, code: 'EINTERNAL', message: 'key not installed' };
      args[0] = secret;
    }
    const kernel = (KERNELS[job.name as KernelName] ?? TASKS[job.name as keyof typeof TASKS]) as unknown as
      | ((...a: unknown[]) => unknown)
      | undefined;
    if (kernel === undefined) return { id: job.id, ok: false, code: 'EINTERNAL', message: 'unknown kernel' };
    return { id: job.id, ok: true, value: kernel(...args) };
  } catch (caught) {
    const error = asCofferError(caught);
    return { id: job.id, ok: false, code: error.code, message: error.message };
  }
}

/** Plaintexts, messages and AADs arrive as this thread's own copies: wiped once answered (never the key). */
function wipeInputs(job: JobMessage): void {
  for (let i = job.key !== undefined ? 1 : 0; i < job.args.length; i++) {
    const arg = job.args[i];
    if (arg instanceof Uint8Array) arg.fill(0);
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'install':
      keys.get(message.handle)?.fill(0);
      keys.set(message.handle, message.secret);
      return;
    case 'forget':
      for (const handle of message.handles) {
        keys.get(handle)?.fill(0);
        keys.delete(handle);
      }
      // Prepared keys (KeyObjects, expanded ML-DSA keys) are cached by content: drop them all.
      clearKeyCache();
      clearKemCache();
      return;
    case 'forgetAll':
      forgetAll();
      return;
    case 'close':
      forgetAll();
      port.close();
      return;
    case 'jobs': {
      const results = message.jobs.map(runJob);
      const transfer: ArrayBuffer[] = [];
      const copied: Uint8Array[] = [];
      for (const result of results) {
        if (!result.ok) continue;
        for (const bytes of bytesIn(result.value)) {
          if (ownsBuffer(bytes) && !transfer.includes(bytes.buffer as ArrayBuffer))
            transfer.push(bytes.buffer as ArrayBuffer);
          else copied.push(bytes);
        }
      }
      port.postMessage({ type: 'results', results } satisfies FromWorker, transfer);
      // What could not be moved was copied into the message: this thread's copy is wiped, and so are
      // the inputs (only now: a result could share memory with one).
      for (const bytes of copied) bytes.fill(0);
      for (const job of message.jobs) wipeInputs(job);
      return;
    }
  }
});
