// The daemon's Prometheus metrics (docs/metrics.md): one prom-client registry per daemon, so several
// daemons in one process (tests) never share counters. Everything is instrumented from the daemon's
// side — the keystore's operations through a wrapper (metrics-keystore.ts), the storage through a
// wrapper around the backend the daemon opened, audit appends through the core's observer hook
// (core/observer.ts) — so the core and the storage layer never depend on prom-client. Label values come
// from fixed sets (operation names, algorithms, error codes, backend kinds, route templates): no key
// id, app or token ever becomes a label, so a metrics reader learns nothing about tenants.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { KeystoreObserver } from '../core/observer.js';
import type { KeyInfo } from '../core/types.js';
import { asCofferError } from '../errors.js';
import { dueAt, effectivePolicy } from '../rotation/policy.js';
import type { Storage } from '../storage/types.js';

/** Latency buckets (seconds) for operations: from a cached HMAC (~µs) to an HSM or Argon2 (seconds). */
const OPERATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
/** Storage writes are fsync-bound: from a fast SSD (~0.5 ms) to a slow network database. */
const WRITE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
/** A key past its rotation time for longer than this is overdue: the scheduler ticks every minute. */
export const OVERDUE_AFTER_MS = 60 * 60 * 1000;
/** Rotation gauges list every key; a scrape reuses a count this young instead of listing again. */
const ROTATION_COUNT_TTL_MS = 15_000;

/** 'ok', or the CofferError code of a failure (a fixed set: SPEC §10.1). */
export function outcomeOf(error: unknown): string {
  return error === undefined ? 'ok' : asCofferError(error).code;
}

/** What the daemon exposes to the scrape-time gauges (kept narrow so tests can read it too). */
export interface MetricsSource {
  locked(): boolean;
  /** The unlocked keystore's keys, or undefined while locked. */
  listKeys(): Promise<KeyInfo[]> | undefined;
  unlockAttempts(): Promise<{ failures: number; lockedOutUntil?: number }>;
  poolQueueDepth(): number | undefined;
  clock(): number;
}

export class DaemonMetrics implements KeystoreObserver {
  readonly registry = new Registry();
  readonly operations: Counter<'operation' | 'algorithm' | 'outcome'>;
  readonly operationSeconds: Histogram<'operation' | 'algorithm' | 'outcome'>;
  readonly persistence: Counter<'backend' | 'operation' | 'outcome'>;
  readonly writeSeconds: Histogram<'backend' | 'outcome'>;
  readonly unlockAttempts: Counter<'outcome'>;
  readonly lockouts: Counter;
  readonly auditAppendFailures: Counter<'code'>;
  readonly requests: Counter<'route' | 'status'>;
  #lag = monitorEventLoopDelay({ resolution: 10 });
  #source: MetricsSource | undefined;
  /**
   * When each active key's primary is due, from the last key list: while locked nothing can rotate
   * here, so due and overdue are still counted from these times (numbers only, no key metadata).
   */
  #dueTimes: { listedAt: number; times: number[] } | undefined;

  constructor() {
    const registers = [this.registry];
    this.operations = new Counter({
      name: 'coffer_operations_total',
      help: 'Keystore operations by operation, key algorithm and outcome (ok or the error code)',
      labelNames: ['operation', 'algorithm', 'outcome'],
      registers,
    });
    this.operationSeconds = new Histogram({
      name: 'coffer_operation_duration_seconds',
      help: 'Latency of keystore operations, including the queue of the worker pool',
      labelNames: ['operation', 'algorithm', 'outcome'],
      buckets: OPERATION_BUCKETS,
      registers,
    });
    this.persistence = new Counter({
      name: 'coffer_persistence_operations_total',
      help: 'Storage backend calls by backend, operation (read, list, write) and outcome (ok or the error code)',
      labelNames: ['backend', 'operation', 'outcome'],
      registers,
    });
    this.writeSeconds = new Histogram({
      name: 'coffer_persistence_write_duration_seconds',
      help: 'Latency of durable storage writes (one atomic batch, fsync included)',
      labelNames: ['backend', 'outcome'],
      buckets: WRITE_BUCKETS,
      registers,
    });
    this.unlockAttempts = new Counter({
      name: 'coffer_unlock_attempts_total',
      help: 'Passphrase unlock attempts by outcome: ok, wrong_passphrase, locked_out (refused during a lockout), or an error code',
      labelNames: ['outcome'],
      registers,
    });
    this.lockouts = new Counter({
      name: 'coffer_unlock_lockouts_total',
      help: 'Unlock lockouts started by this daemon (5 failed passphrases lock unlocking out for 15 minutes)',
      registers,
    });
    this.auditAppendFailures = new Counter({
      name: 'coffer_audit_append_failures_total',
      help: 'Audit entries that could not be appended (the change carrying them failed with them)',
      labelNames: ['code'],
      registers,
    });
    this.requests = new Counter({
      name: 'coffer_http_requests_total',
      help: 'HTTP requests by route template and status code',
      labelNames: ['route', 'status'],
      registers,
    });
    const metrics = this;
    new Gauge({
      name: 'coffer_locked',
      help: '1 while the daemon is locked (no master key in memory), else 0',
      registers,
      collect() {
        if (metrics.#source) this.set(metrics.#source.locked() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'coffer_unlock_failures',
      help: 'Failed unlock attempts in the current window (a lockout starts at 5)',
      registers,
      async collect() {
        const attempts = await metrics.#source?.unlockAttempts();
        if (attempts) this.set(attempts.failures);
      },
    });
    new Gauge({
      name: 'coffer_unlock_locked_out',
      help: '1 while unlocking is locked out, else 0',
      registers,
      async collect() {
        const attempts = await metrics.#source?.unlockAttempts();
        if (attempts) this.set(attempts.lockedOutUntil !== undefined ? 1 : 0);
      },
    });
    new Gauge({
      name: 'coffer_rotations_due',
      help: 'Active keys whose primary version has reached its rotation time (while locked: from the last key list)',
      registers,
      async collect() {
        const count = await metrics.#rotations();
        if (count) this.set(count.due);
      },
    });
    new Gauge({
      name: 'coffer_rotations_overdue',
      help: 'Active keys past their rotation time by more than an hour: the scheduler is not rotating them',
      registers,
      async collect() {
        const count = await metrics.#rotations();
        if (count) this.set(count.overdue);
      },
    });
    new Gauge({
      name: 'coffer_worker_pool_queue_depth',
      help: 'Crypto jobs waiting in the worker pool queue for a worker',
      registers,
      collect() {
        const depth = metrics.#source?.poolQueueDepth();
        if (depth !== undefined) this.set(depth);
      },
    });
    this.#lag.enable();
    new Gauge({
      name: 'coffer_event_loop_lag_seconds',
      help: 'Event-loop delay since the previous scrape, by statistic (mean, p50, p99, max)',
      labelNames: ['stat'],
      registers,
      collect() {
        const lag = metrics.#lag;
        // Before the first sample the histogram reports NaN / huge sentinels: report zeros instead.
        const seconds = (ns: number) => (lag.count > 0 && Number.isFinite(ns) ? ns / 1e9 : 0);
        this.set({ stat: 'mean' }, seconds(lag.mean));
        this.set({ stat: 'p50' }, seconds(lag.percentile(50)));
        this.set({ stat: 'p99' }, seconds(lag.percentile(99)));
        this.set({ stat: 'max' }, seconds(lag.max));
        lag.reset();
      },
    });
  }

  /** Connects the scrape-time gauges to the daemon (the daemon is built after its storage). */
  attach(source: MetricsSource): void {
    this.#source = source;
  }

  /** The text a Prometheus scrape receives. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** core/observer.ts: a change with audit entries failed, or a batch of operation audits did. */
  auditAppendFailed(error: { code: string }): void {
    this.auditAppendFailures.inc({ code: error.code });
  }

  /** Times one keystore operation and counts its outcome. */
  async timeOperation<T>(operation: string, algorithm: () => string, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let failure: unknown;
    try {
      return await run();
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      const labels = { operation, algorithm: algorithm(), outcome: outcomeOf(failure) };
      this.operations.inc(labels);
      this.operationSeconds.observe(labels, (performance.now() - started) / 1000);
    }
  }

  /**
   * The storage the daemon (and its keystore) use, counting every call by outcome. A proxy, not a
   * subclass: the backends are classes with private fields, so methods are bound to the real object.
   */
  instrumentStorage(storage: Storage): Storage {
    const backend = storage.kind;
    const count = async <T>(operation: string, call: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      let failure: unknown;
      try {
        return await call();
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        const outcome = outcomeOf(failure);
        this.persistence.inc({ backend, operation, outcome });
        if (operation === 'write')
          this.writeSeconds.observe({ backend, outcome }, (performance.now() - started) / 1000);
      }
    };
    const measured: Partial<Storage> = {
      get: (key) => count('read', () => storage.get(key)),
      list: (prefix, options) => count('list', () => storage.list(prefix, options)),
      write: (ops) => count('write', () => storage.write(ops)),
      changedSince: (generation) => count('list', () => storage.changedSince(generation)),
    };
    return new Proxy(storage, {
      get(target, property) {
        if (typeof property === 'string' && property in measured)
          return measured[property as keyof typeof measured];
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** Due and overdue counts now; the key list is read at most every ROTATION_COUNT_TTL_MS. */
  async #rotations(): Promise<{ due: number; overdue: number } | undefined> {
    const source = this.#source;
    if (!source) return undefined;
    const now = source.clock();
    const cached = this.#dueTimes;
    const fresh = cached && now >= cached.listedAt && now - cached.listedAt < ROTATION_COUNT_TTL_MS;
    if (!fresh && !source.locked()) {
      const keys = await source.listKeys()?.catch(() => undefined);
      if (keys) {
        const times: number[] = [];
        for (const key of keys) {
          if (key.state !== 'active') continue;
          try {
            times.push(dueAt(key, effectivePolicy(key)));
          } catch {
            // A key whose policy cannot be resolved is the scheduler's to report, not a count here.
          }
        }
        this.#dueTimes = { listedAt: now, times };
      }
    }
    const times = this.#dueTimes?.times;
    if (!times) return undefined;
    return {
      due: times.filter((at) => now >= at).length,
      overdue: times.filter((at) => now >= at + OVERDUE_AFTER_MS).length,
    };
  }

  /** Forgets the due times (after a rotation through this daemon), so the next scrape lists again. */
  invalidateRotations(): void {
    this.#dueTimes = undefined;
  }

  close(): void {
    this.#lag.disable();
  }
}
