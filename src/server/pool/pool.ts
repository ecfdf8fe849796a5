// The daemon's crypto worker pool (docs/daemon.md "Worker pool"): a CryptoOffload (src/core/offload.ts)
// that runs expensive operation kernels — ML-DSA, X-Wing, AEAD and HMAC over large payloads — on
// `node:worker_threads`, one per core by default, so no request holds the event loop for long and a
// batch uses every core. Cheap kernels (an Ed25519 signature costs about what a message to a worker
// and back does) are declined and run inline.
//
// Jobs wait in one FIFO queue and go out in chunks (one message per worker carries several jobs) to the
// least loaded worker; each worker gets at most about MAX_BUSY_US of queued work, so a request arriving
// later waits behind little. Key bytes cross to a worker once per key version (transferred, so this
// thread keeps no extra copy) and are named by handle afterwards; forget/forgetAll (destroy, lock,
// close) make every worker wipe its copies. A worker that dies fails its jobs with EINTERNAL and is
// replaced; close() fails queued jobs with EUNAVAIL and terminates every worker.
import { availableParallelism } from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { KernelName } from '../../core/kernels.js';
import type { CryptoOffload, KernelArgs, KernelResult, SecretRef } from '../../core/offload.js';
import { CofferError, isErrorCode } from '../../errors.js';
import { bytesIn, copyForTransfer } from '../codec.js';
import { type FromWorker, type JobMessage, ownsBuffer, type ToWorker } from './protocol.js';
import type { TaskName } from './tasks.js';

export interface PoolOptions {
  /** Worker threads (default: one per available core; 0 is refused — use no pool instead). */
  workers?: number;
  /** Kernels estimated below this many µs run inline (default 150). */
  minCostUs?: number;
}

/** Work queued on one worker before further jobs wait in the pool's queue (µs of estimated cost). */
const MAX_BUSY_US = 15_000;
/** Jobs per message: enough to amortise a message, few enough that results come back steadily. */
const CHUNK_US = 4_000;
const CHUNK_JOBS = 64;
/** How long close() lets a worker finish its current job and wipe its keys before terminating it. */
const CLOSE_GRACE_MS = 2_000;

interface Pending {
  id: number;
  name: KernelName | TaskName;
  args: unknown[];
  key: SecretRef | undefined;
  /** The key's handle, taken when the job was queued (while its bytes were known to be live). */
  handle: Handle | undefined;
  cost: number;
  transfer: ArrayBuffer[];
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface Slot {
  worker: Worker;
  busy: number;
  inflight: Map<number, Pending>;
  /** Handles installed in this worker (a replaced worker starts with none). */
  installed: Set<number>;
}

interface Handle {
  id: number;
  keyId: string;
  /**
   * Set by forget (the key was destroyed) or forgetAll (the keystore locked or closed): the workers
   * wiped their copies and so did the Keystore — a job still queued on this handle is refused, never
   * installed again from bytes that are now zeros.
   */
  dead: undefined | 'destroyed' | 'locked';
}

/** A private copy of a byte argument in its own buffer, so it can be transferred (not cloned with its neighbours). */
function ownCopy(bytes: Uint8Array, transfer: ArrayBuffer[]): Uint8Array {
  const copy = new Uint8Array(bytes);
  transfer.push(copy.buffer);
  return copy;
}

export class WorkerPool implements CryptoOffload {
  readonly size: number;
  readonly #minCost: number;
  readonly #slots: Slot[] = [];
  #queue: Pending[] = [];
  #nextJob = 1;
  #nextHandle = 1;
  #handles = new WeakMap<Uint8Array, Handle>();
  #byKey = new Map<string, Set<Handle>>();
  #flushScheduled = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #stats = { jobs: 0, installs: 0, forgets: 0 };

  constructor(options: PoolOptions = {}) {
    const size = options.workers ?? Math.max(1, availableParallelism());
    if (!Number.isSafeInteger(size) || size < 1 || size > 64)
      throw new CofferError('EINVAL', 'workers must be an integer in 1..64');
    this.size = size;
    this.#minCost = options.minCostUs ?? 150;
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn());
  }

  /** Thread ids of the live workers (tests check that close() ends them). */
  get threadIds(): number[] {
    return this.#slots.map((slot) => slot.worker.threadId);
  }

  /** Jobs sent to workers, key versions installed in a worker, and forget messages, since the start. */
  get stats(): Readonly<{ jobs: number; installs: number; forgets: number }> {
    return { ...this.#stats };
  }

  /** For tests: ends worker `index` the way a crash would (its jobs fail, a new worker takes its place). */
  async _crashForTests(index: number): Promise<void> {
    await this.#slots[index]?.worker.terminate();
  }

  #spawn(): Slot {
    // The parent's own flags (`--input-type`, `--eval …`) describe its entry point, not this one.
    const worker = new Worker(new URL('./worker.js', import.meta.url), { execArgv: [] });
    // The pool must not keep a process alive on its own: close() ends the workers explicitly.
    worker.unref();
    const slot: Slot = { worker, busy: 0, inflight: new Map(), installed: new Set() };
    worker.on('message', (message: FromWorker) => this.#onResults(slot, message));
    worker.on('error', (error) => this.#onDeath(slot, error));
    worker.on('exit', (code) => this.#onDeath(slot, new Error(`exited with code ${code}`)));
    return slot;
  }

  #onDeath(slot: Slot, cause: Error): void {
    const index = this.#slots.indexOf(slot);
    if (index < 0) return; // already replaced (error, then exit)
    for (const job of slot.inflight.values())
      job.reject(
        this.#closed
          ? new CofferError('EUNAVAIL', 'the daemon is shutting down')
          : new CofferError('EINTERNAL', `a crypto worker failed: ${cause.message}`),
      );
    slot.inflight.clear();
    if (this.#closed) {
      this.#slots.splice(index, 1);
      return;
    }
    void slot.worker.terminate().catch(() => {});
    this.#slots[index] = this.#spawn();
    this.#flush();
  }

  #onResults(slot: Slot, message: FromWorker): void {
    for (const result of message.results) {
      const job = slot.inflight.get(result.id);
      if (job === undefined) continue;
      slot.inflight.delete(result.id);
      slot.busy -= job.cost;
      if (result.ok) job.resolve(result.value);
      else job.reject(new CofferError(isErrorCode(result.code) ? result.code : 'EINTERNAL', result.message));
    }
    if (slot.inflight.size === 0) slot.busy = 0;
    this.#flush();
  }

  run<N extends KernelName>(
    name: N,
    args: KernelArgs<N>,
    key: SecretRef | undefined,
    cost: number,
  ): Promise<KernelResult<N>> | undefined {
    if (cost < this.#minCost) return undefined;
    if (this.#closed) return Promise.reject(new CofferError('EUNAVAIL', 'the daemon is shutting down'));
    const transfer: ArrayBuffer[] = [];
    // Each byte argument is copied once into a buffer of its own and moved: a view of a larger buffer
    // (a request body, Node's shared small-buffer slab) would otherwise be cloned whole.
    const sent = (args as unknown[]).map((arg, i) =>
      key !== undefined && i === 0 ? null : arg instanceof Uint8Array ? ownCopy(arg, transfer) : arg,
    );
    return new Promise<KernelResult<N>>((resolve, reject) => {
      this.#queue.push({
        id: this.#nextJob++,
        name,
        args: sent,
        key,
        handle: key === undefined ? undefined : this.#handleFor(key),
        cost,
        transfer,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.#scheduleFlush();
    });
  }

  /**
   * Runs server work (tasks.ts: a large body's decoding, a large reply's encoding) in a worker; `cost`
   * is in µs as for kernels. With `move`, byte arguments that own their buffer are moved (the caller
   * gives them up: a request body it has no further use for); otherwise everything is copied, so a
   * buffer shared with a cache can never be detached under it.
   */
  task(name: TaskName, args: unknown[], cost: number, move = false): Promise<unknown> {
    if (this.#closed) return Promise.reject(new CofferError('EUNAVAIL', 'the daemon is shutting down'));
    const transfer: ArrayBuffer[] = [];
    let sent = args;
    if (move) {
      for (const bytes of bytesIn(args))
        if (ownsBuffer(bytes) && !transfer.includes(bytes.buffer as ArrayBuffer))
          transfer.push(bytes.buffer as ArrayBuffer);
    } else {
      sent = copyForTransfer(args, transfer) as unknown[];
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({
        id: this.#nextJob++,
        name,
        args: sent,
        key: undefined,
        handle: undefined,
        cost,
        transfer,
        resolve,
        reject,
      });
      this.#scheduleFlush();
    });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // Jobs started in the same turn of the loop (a slice of a batch) go out together.
    void nextTurn().then(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#queue.length > 0) {
      let slot: Slot | undefined;
      for (const candidate of this.#slots)
        if (slot === undefined || candidate.busy < slot.busy) slot = candidate;
      if (slot === undefined || slot.busy >= MAX_BUSY_US) return;
      const jobs: JobMessage[] = [];
      const transfer: ArrayBuffer[] = [];
      let chunkCost = 0;
      while (this.#queue.length > 0 && chunkCost < CHUNK_US && jobs.length < CHUNK_JOBS) {
        const job = this.#queue.shift() as Pending;
        if (job.handle?.dead) {
          job.reject(
            job.handle.dead === 'locked'
              ? new CofferError('ELOCKED', 'the keystore was locked while this operation waited')
              : new CofferError('EKEYREVOKED', 'the key was destroyed while this operation waited'),
          );
          continue;
        }
        const message: JobMessage = { id: job.id, name: job.name, args: job.args };
        if (job.key !== undefined && job.handle !== undefined)
          message.key = this.#install(slot, job.key, job.handle);
        jobs.push(message);
        transfer.push(...job.transfer);
        slot.inflight.set(job.id, job);
        chunkCost += job.cost;
      }
      slot.busy += chunkCost;
      this.#stats.jobs += jobs.length;
      slot.worker.postMessage({ type: 'jobs', jobs } satisfies ToWorker, transfer);
    }
  }

  /** The handle of a live key version (a new one for bytes not seen, or seen before a forget). */
  #handleFor(key: SecretRef): Handle {
    let handle = this.#handles.get(key.secret);
    if (handle === undefined || handle.dead) {
      handle = { id: this.#nextHandle++, keyId: key.keyId, dead: undefined };
      this.#handles.set(key.secret, handle);
      let handles = this.#byKey.get(key.keyId);
      if (handles === undefined) {
        handles = new Set();
        this.#byKey.set(key.keyId, handles);
      }
      handles.add(handle);
    }
    return handle;
  }

  /** Sends a key version's bytes to a worker that lacks them; its handle names them afterwards. */
  #install(slot: Slot, key: SecretRef, handle: Handle): number {
    if (!slot.installed.has(handle.id)) {
      const secret = new Uint8Array(key.secret);
      slot.worker.postMessage({ type: 'install', handle: handle.id, secret } satisfies ToWorker, [
        secret.buffer,
      ]);
      slot.installed.add(handle.id);
      this.#stats.installs++;
    }
    return handle.id;
  }

  forget(keyId: string): void {
    const handles = this.#byKey.get(keyId);
    if (handles === undefined) return;
    this.#byKey.delete(keyId);
    // A secret of this key may still map to its handle: marked dead, a later use installs afresh
    // instead of naming a key the workers wiped.
    const list: number[] = [];
    for (const handle of handles) {
      handle.dead = 'destroyed';
      list.push(handle.id);
    }
    this.#stats.forgets++;
    for (const slot of this.#slots) {
      for (const h of list) slot.installed.delete(h);
      slot.worker.postMessage({ type: 'forget', handles: list } satisfies ToWorker);
    }
  }

  forgetAll(): void {
    for (const handles of this.#byKey.values()) for (const handle of handles) handle.dead = 'locked';
    this.#byKey.clear();
    this.#stats.forgets++;
    for (const slot of this.#slots) {
      slot.installed.clear();
      slot.worker.postMessage({ type: 'forgetAll' } satisfies ToWorker);
    }
  }

  /** Fails queued jobs (EUNAVAIL), has every worker wipe its keys, and ends the threads. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      const queued = this.#queue;
      this.#queue = [];
      for (const job of queued) job.reject(new CofferError('EUNAVAIL', 'the daemon is shutting down'));
      for (const handles of this.#byKey.values()) for (const handle of handles) handle.dead = 'locked';
      this.#byKey.clear();
      const slots = [...this.#slots];
      // 'close' makes a worker wipe its keys and end on its own; terminate() is the fallback.
      await Promise.all(
        slots.map(
          (slot) =>
            new Promise<void>((done) => {
              const timer = setTimeout(() => void slot.worker.terminate().catch(() => 0), CLOSE_GRACE_MS);
              slot.worker.once('exit', () => {
                clearTimeout(timer);
                done();
              });
              slot.worker.postMessage({ type: 'close' } satisfies ToWorker);
            }),
        ),
      );
      for (const slot of slots) this.#onDeath(slot, new Error('closed'));
    })();
    return this.#closing;
  }
}
