// The rotation scheduler (SPEC §2 rotation policy; SPEC §13.3–13.5): on an injectable clock, `tick(now)`
// does everything due at `now` — advance warnings, rotations (or requests for confirmation), grace-period
// expiries — exactly once across restarts and across several instances sharing one store. Each event is
// decided by a compare-and-swap on the key's sealed scheduler record, written in the same atomic batch
// as its audit entry; a rotation is claimed by an intent written *before* `ks.rotate`, and declared
// done only from the key itself (primaryVersion moved past the intent), so a crash anywhere between the
// two writes neither loses nor repeats it.
import { randomBytes } from 'node:crypto';
import type { AppRecord } from '../core/app-records.js';
import type { Keystore } from '../core/keystore.js';
import type { KeyInfo } from '../core/types.js';
import { CofferError, type ErrorCode } from '../errors.js';
import { auditDetails, auditName, dispatch, type RotationEvent, type RotationSubscriber } from './events.js';
import {
  emergencyIntent,
  type KeyPlan,
  type KeyScheduleRecord,
  minVersionToEnforce,
  nextWake,
  planKey,
} from './plan.js';
import { effectivePolicy } from './policy.js';

export const RECORD_NAMESPACE = 'rotation';
const RECORD_PREFIX = 'key/';
/** Records per storage batch: well under the 10 000-op bound with two audit ops per event. */
const BATCH_KEYS = 500;
const MAX_CONFLICT_RETRIES = 8;

export interface SchedulerOptions {
  /** Milliseconds since the epoch; give the keystore the same clock (new versions get its time). */
  clock?: () => number;
  subscribers?: RotationSubscriber[];
  /** Period of the timer started by start() (default 60 s). */
  tickIntervalMs?: number;
  /** How long a claimed rotation belongs to its instance before another may take it over (default 5 min). */
  leaseMs?: number;
  /** Stable name of this instance (e.g. host:port): a restart with the same name resumes its claims at once. */
  instanceId?: string;
  /** Re-read usage counts of max-uses keys at least this often even when the store did not change (default 60 s). */
  usagePollMs?: number;
  /** Failures of subscribers and of timer-driven ticks (default: process warning). */
  onError?: (error: unknown) => void;
}

export interface TickFailure {
  keyId: string;
  code: ErrorCode;
  message: string;
}

export interface TickReport {
  at: number;
  /** Every event this tick committed and emitted, in order. */
  events: RotationEvent[];
  rotated: { keyId: string; from: number; to: number }[];
  /** Keys whose minDecryptionVersion was raised to enforce a default grace period. */
  archived: { keyId: string; minDecryptionVersion: number }[];
  failures: TickFailure[];
  /** Keys skipped because another instance holds a live rotation claim on them. */
  busy: string[];
}

function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0)
    throw new CofferError('EINVAL', `${name} must be a positive integer`);
  return value;
}

function failureOf(keyId: string, error: unknown): TickFailure {
  const e = error instanceof CofferError ? error : undefined;
  return {
    keyId,
    code: e?.code ?? 'EINTERNAL',
    message: error instanceof Error ? error.message : String(error),
  };
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof CofferError && error.code === code;
}

/**
 * One compare-and-swap step retried on a lost race: `prepare` reads and decides (its errors, even an
 * ECONFLICT, go straight out) and returns the write; only an ECONFLICT from that write is retried.
 */
async function retryOnConflict<T>(prepare: (attempt: number) => Promise<() => Promise<T>>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const write = await prepare(attempt);
    try {
      return await write();
    } catch (error) {
      if (!isCode(error, 'ECONFLICT') || attempt >= MAX_CONFLICT_RETRIES) throw error;
    }
  }
}

/** The event a confirm/emergency rotation of `keyId` produced, or the error its failure recorded. */
function outcome(report: TickReport, keyId: string, type: 'rotated' | 'alert'): RotationEvent {
  const done = report.events.find((e) => e.type === type && e.keyId === keyId);
  if (done) return done;
  const failure = report.failures.find((f) => f.keyId === keyId);
  throw new CofferError(failure?.code ?? 'EINTERNAL', failure?.message ?? 'rotation did not complete');
}

export class RotationScheduler {
  readonly instanceId: string;
  readonly #ks: Keystore;
  readonly #clock: () => number;
  readonly #subscribers: RotationSubscriber[];
  readonly #tickIntervalMs: number;
  readonly #leaseMs: number;
  readonly #usagePollMs: number;
  readonly #onError: (error: unknown) => void;

  // Cache of the store, valid while the store generation is the one we expect (SPEC §13.5).
  #keys = new Map<string, KeyInfo>();
  #records = new Map<string, AppRecord<KeyScheduleRecord>>();
  #usage = new Map<string, Record<string, number>>();
  /** Per key: when planKey next has something to do (see nextWake); usage changes reset it. */
  #wake = new Map<string, number>();
  #expectedGeneration = -1;
  #usageReadAt = Number.NEGATIVE_INFINITY;

  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #started = false;
  #deliveries = new Set<Promise<void>>();

  constructor(ks: Keystore, options: SchedulerOptions = {}) {
    if (typeof ks !== 'object' || ks === null) throw new CofferError('EINVAL', 'a keystore is required');
    if (typeof options !== 'object' || options === null)
      throw new CofferError('EINVAL', 'options must be an object');
    if (options.clock !== undefined && typeof options.clock !== 'function')
      throw new CofferError('EINVAL', 'clock must be a function');
    const subscribers = options.subscribers ?? [];
    if (!Array.isArray(subscribers) || !subscribers.every((s) => typeof s === 'function'))
      throw new CofferError('EINVAL', 'subscribers must be an array of functions');
    if (options.instanceId !== undefined && !/^[A-Za-z0-9._:@-]{1,128}$/.test(options.instanceId))
      throw new CofferError('EINVAL', 'instanceId must be 1..128 characters of [A-Za-z0-9._:@-]');
    this.#ks = ks;
    this.#clock = options.clock ?? Date.now;
    this.#subscribers = [...subscribers];
    this.#tickIntervalMs = positiveInt('tickIntervalMs', options.tickIntervalMs, 60_000);
    this.#leaseMs = positiveInt('leaseMs', options.leaseMs, 5 * 60_000);
    this.#usagePollMs = positiveInt('usagePollMs', options.usagePollMs, 60_000);
    this.#onError =
      options.onError ??
      ((error) =>
        process.emitWarning(`coffer rotation: ${error instanceof Error ? error.message : String(error)}`));
    this.instanceId = options.instanceId ?? `sched-${randomBytes(8).toString('hex')}`;
  }

  /** Adds a subscriber (e.g. the daemon's event stream); returns a function that removes it. */
  subscribe(subscriber: RotationSubscriber): () => void {
    if (typeof subscriber !== 'function') throw new CofferError('EINVAL', 'subscriber must be a function');
    this.#subscribers.push(subscriber);
    return () => {
      const i = this.#subscribers.indexOf(subscriber);
      if (i >= 0) this.#subscribers.splice(i, 1);
    };
  }

  /** Does all work due at `now` (default: the clock). Ticks never overlap within one instance. */
  tick(now?: number): Promise<TickReport> {
    const at = now ?? this.#clock();
    if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0)
      throw new CofferError('EINVAL', 'now must be a non-negative integer of milliseconds');
    return this.#exclusive(() => this.#tick(at));
  }

  /** Rotates a key that is awaiting confirmation (its policy has requireConfirmation). */
  confirm(keyId: string): Promise<RotationEvent> {
    if (typeof keyId !== 'string' || keyId.length === 0)
      throw new CofferError('EINVAL', 'keyId must be a string');
    return this.#exclusive(async () => {
      const now = this.#clock();
      const report = this.#emptyReport(now);
      await retryOnConflict(async () => {
        const { key, record } = await this.#refresh(keyId);
        const plan = planKey(key, record?.value, this.#ctx(now, true, true));
        if (plan.busy)
          throw new CofferError('ECONFLICT', `key ${keyId} is being rotated by another scheduler`);
        if (plan.rotate?.trigger !== 'confirmed')
          throw new CofferError('ESTATE', `key ${keyId} has no rotation awaiting confirmation`);
        return () => this.#commit([{ plan, revision: record?.revision ?? 0 }], report);
      });
      await this.#rotateAll([keyId], now, report);
      return outcome(report, keyId, 'rotated');
    });
  }

  /**
   * Emergency rotation (SPEC §2): the primary is marked compromised and replaced at once, and an
   * `alert` event names the incident. Uses the same intent record as scheduled rotations.
   */
  emergencyRotate(keyId: string, incident: { id?: string; description: string }): Promise<RotationEvent> {
    if (typeof keyId !== 'string' || keyId.length === 0)
      throw new CofferError('EINVAL', 'keyId must be a string');
    if (typeof incident !== 'object' || incident === null || typeof incident.description !== 'string')
      throw new CofferError('EINVAL', 'incident must be { id?, description }');
    if (incident.description.trim().length === 0)
      throw new CofferError('EINVAL', 'an emergency rotation needs an incident description');
    if (incident.id !== undefined && (typeof incident.id !== 'string' || incident.id.length === 0))
      throw new CofferError('EINVAL', 'incident.id must be a non-empty string');
    return this.#exclusive(async () => {
      const now = this.#clock();
      const report = this.#emptyReport(now);
      await retryOnConflict(async () => {
        const { key, record } = await this.#refresh(keyId);
        if (key.state !== 'active' && key.state !== 'suspended')
          throw new CofferError(
            key.state === 'compromised' || key.state === 'destroyed' ? 'EKEYREVOKED' : 'ESTATE',
            `cannot rotate key ${keyId}: it is ${key.state}`,
          );
        const value = emergencyIntent(key, record?.value, incident, { now, instanceId: this.instanceId });
        return async () => {
          const generation = await this.#ks.writeRecords(RECORD_NAMESPACE, [
            { name: RECORD_PREFIX + keyId, value, expectRevision: record?.revision ?? 0 },
          ]);
          this.#countWrite(generation);
          this.#records.set(keyId, { name: RECORD_PREFIX + keyId, value, revision: generation });
        };
      });
      await this.#rotateAll([keyId], now, report);
      return outcome(report, keyId, 'alert');
    });
  }

  /** Starts ticking every tickIntervalMs (the daemon); the timer never keeps the process alive. */
  start(): void {
    if (this.#started) throw new CofferError('EALREADY', 'the scheduler is already started');
    this.#started = true;
    const loop = () => {
      this.#timer = undefined;
      if (!this.#started) return;
      this.tick()
        .catch((error) => this.#onError(error))
        .finally(() => {
          if (this.#started) {
            this.#timer = setTimeout(loop, this.#tickIntervalMs);
            this.#timer.unref();
          }
        });
    };
    this.#timer = setTimeout(loop, 0);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a tick in progress and for subscriber deliveries. */
  async stop(): Promise<void> {
    this.#started = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
    await this.idle();
  }

  /** Resolves when every async subscriber call made so far has settled. */
  async idle(): Promise<void> {
    while (this.#deliveries.size > 0) await Promise.allSettled([...this.#deliveries]);
  }

  // ---- internals --------------------------------------------------------------------------------

  async #exclusive<T>(work: () => Promise<T>): Promise<T> {
    while (this.#running) await this.#running.catch(() => {});
    const run = work();
    this.#running = run;
    try {
      return await run;
    } finally {
      if (this.#running === run) this.#running = undefined;
    }
  }

  /** Reads one key and its record afresh into the cache (confirm, emergency): no full reload needed. */
  async #refresh(keyId: string) {
    const key = await this.#ks.getKey(keyId);
    const record = await this.#ks.getRecord<KeyScheduleRecord>(RECORD_NAMESPACE, RECORD_PREFIX + keyId);
    this.#keys.set(keyId, key);
    if (record) this.#records.set(keyId, record);
    else this.#records.delete(keyId);
    this.#wake.delete(keyId);
    return { key, record };
  }

  /** Accounts for one batch of our own: the cache stays valid only if nobody else wrote meanwhile. */
  #countWrite(generation?: number): void {
    if (this.#expectedGeneration < 0) return;
    const next = this.#expectedGeneration + 1;
    this.#expectedGeneration = generation === undefined || generation === next ? next : -1;
  }

  #emptyReport(at: number): TickReport {
    return { at, events: [], rotated: [], archived: [], failures: [], busy: [] };
  }

  #ctx(now: number, claim: boolean, confirm = false) {
    return {
      now,
      instanceId: this.instanceId,
      leaseMs: this.#leaseMs,
      claim,
      ...(confirm ? { confirm } : {}),
    };
  }

  /** Re-reads keys, records and usage unless the store is exactly as our own writes left it. */
  async #sync(now: number, force: boolean): Promise<boolean> {
    let reloaded = false;
    const generation = await this.#ks.generation();
    if (force || generation !== this.#expectedGeneration) {
      const [keys, records] = await Promise.all([
        this.#ks.listKeys(),
        this.#ks.listRecords<KeyScheduleRecord>(RECORD_NAMESPACE, RECORD_PREFIX),
      ]);
      this.#keys = new Map(keys.map((k) => [k.id, k]));
      this.#records = new Map(records.map((r) => [r.value.keyId, r]));
      this.#expectedGeneration = generation;
      this.#usageReadAt = Number.NEGATIVE_INFINITY;
      this.#wake.clear();
      reloaded = true;
    }
    if (now - this.#usageReadAt >= this.#usagePollMs) {
      // The keystore's usage counter drops a batch from its in-memory counts before the batch's write
      // lands; yielding one macrotask lets such a flush finish so no count is missed (see N report).
      await new Promise((resolve) => setImmediate(resolve));
      const previous = this.#usage;
      this.#usage = new Map();
      for (const key of this.#keys.values()) {
        if (key.state !== 'active' || effectivePolicy(key).maxUses === undefined) continue;
        const usage = await this.#ks.usage(key.id);
        this.#usage.set(key.id, usage);
        const version = String(key.primaryVersion);
        if (previous.get(key.id)?.[version] !== usage[version]) this.#wake.delete(key.id);
      }
      this.#usageReadAt = now;
    }
    return reloaded;
  }

  #plan(keyIds: Iterable<string>, now: number, claim: boolean, all = false): KeyPlan[] {
    const plans: KeyPlan[] = [];
    for (const id of keyIds) {
      const key = this.#keys.get(id);
      if (!key) continue;
      if (all && (this.#wake.get(id) ?? Number.NEGATIVE_INFINITY) > now) continue;
      const usage = this.#usage.get(id);
      plans.push(
        planKey(key, this.#records.get(id)?.value, { ...this.#ctx(now, claim), ...(usage ? { usage } : {}) }),
      );
    }
    return plans;
  }

  /** Writes the changed records with their audit events (CAS per record), then emits the events. */
  async #commit(items: { plan: KeyPlan; revision: number }[], report: TickReport): Promise<void> {
    const writes = items.filter((i) => i.plan.record);
    for (let start = 0; start < writes.length; start += BATCH_KEYS) {
      const chunk = writes.slice(start, start + BATCH_KEYS);
      const events = chunk.flatMap((i) => i.plan.events);
      const generation = await this.#ks.writeRecords(
        RECORD_NAMESPACE,
        chunk.map((i) => ({
          name: RECORD_PREFIX + i.plan.keyId,
          value: i.plan.record,
          expectRevision: i.revision,
        })),
        events.map((e) => ({ event: auditName(e.type), keyId: e.keyId, details: auditDetails(e) })),
      );
      this.#countWrite(generation);
      for (const i of chunk) {
        const record = i.plan.record as KeyScheduleRecord;
        this.#records.set(i.plan.keyId, {
          name: RECORD_PREFIX + i.plan.keyId,
          value: record,
          revision: generation,
        });
      }
      report.events.push(...events);
      this.#emit(events);
    }
  }

  #emit(events: RotationEvent[]): void {
    if (events.length === 0 || this.#subscribers.length === 0) return;
    for (const p of dispatch(this.#subscribers, events, (error) => this.#onError(error))) {
      this.#deliveries.add(p);
      void p.finally(() => this.#deliveries.delete(p));
    }
  }

  /** Plans the given keys (all when undefined) and commits, re-reading the store on a lost CAS. */
  async #planAndCommit(keyIds: string[] | undefined, now: number, claim: boolean, report: TickReport) {
    return retryOnConflict(async (attempt) => {
      // After a lost CAS a chunk may have landed before the conflict: its events are in the report
      // already and the re-read store shows its records, so the next plan does not repeat them.
      if (attempt > 0) await this.#sync(now, true);
      const plans = this.#plan(keyIds ?? this.#keys.keys(), now, claim, keyIds === undefined);
      return async () => {
        await this.#commit(
          plans.map((plan) => ({ plan, revision: this.#records.get(plan.keyId)?.revision ?? 0 })),
          report,
        );
        for (const plan of plans) {
          const key = this.#keys.get(plan.keyId);
          if (key) this.#wake.set(plan.keyId, nextWake(key, this.#records.get(plan.keyId)?.value, now));
        }
        return plans;
      };
    });
  }

  async #tick(now: number): Promise<TickReport> {
    const report = this.#emptyReport(now);
    const reloaded = await this.#sync(now, false);
    const plans = await this.#planAndCommit(undefined, now, true, report);
    for (const plan of plans) if (plan.busy) report.busy.push(plan.keyId);
    const toRotate = plans.filter((p) => p.rotate).map((p) => p.keyId);
    if (toRotate.length > 0) await this.#rotateAll(toRotate, now, report);
    // After a reload every key is checked, so an expiry committed just before a crash is still enforced.
    const expiredNow = new Set(report.events.filter((e) => e.type === 'expired').map((e) => e.keyId));
    await this.#enforceGrace(reloaded ? [...this.#keys.keys()] : [...expiredNow], report);
    return report;
  }

  /** Performs the claimed rotations, then records them as done (from the keys' new versions). */
  async #rotateAll(keyIds: string[], now: number, report: TickReport): Promise<void> {
    const done: string[] = [];
    for (const id of keyIds) {
      const intent = this.#records.get(id)?.value.intent;
      if (!intent || intent.owner !== this.instanceId) continue;
      try {
        let info: KeyInfo;
        if (intent.trigger === 'emergency') {
          info = await this.#ks.emergencyRotate(id, intent.incident ?? { description: 'emergency rotation' });
          this.#countWrite();
          // A scheduled rotation that landed first would have left the compromised version merely
          // deactivated; the incident concerns the version that was primary when it was declared.
          const old = info.versions.find((v) => v.version === intent.from);
          if (old && old.state !== 'compromised' && old.state !== 'destroyed') {
            info = await this.#ks.revoke(id, intent.incident?.description ?? 'emergency rotation', {
              version: intent.from,
            });
            this.#countWrite();
          }
        } else {
          const current = this.#keys.get(id);
          if (current && current.primaryVersion > intent.from) {
            done.push(id);
            continue;
          }
          info = await this.#ks.rotate(id, { reason: `scheduled rotation (${intent.trigger})` });
          this.#countWrite();
        }
        this.#keys.set(id, info);
        this.#wake.delete(id);
        report.rotated.push({ keyId: id, from: intent.from, to: info.primaryVersion });
        done.push(id);
      } catch (error) {
        report.failures.push(failureOf(id, error));
        if (isCode(error, 'EUNAVAIL')) this.#expectedGeneration = -1;
        // A key that can no longer rotate (revoked, destroyed) drops its intent in the pass below.
        if (isCode(error, 'EKEYREVOKED') || isCode(error, 'ESTATE') || isCode(error, 'ENOENT')) {
          this.#expectedGeneration = -1;
          done.push(id);
        }
      }
    }
    if (done.length === 0) return;
    if (this.#expectedGeneration < 0) await this.#sync(now, true);
    await this.#planAndCommit(done, now, false, report);
  }

  /** Raises minDecryptionVersion past versions whose default (unstamped) grace period ended. */
  async #enforceGrace(keyIds: string[], report: TickReport): Promise<void> {
    for (const id of keyIds) {
      const key = this.#keys.get(id);
      if (!key) continue;
      const min = minVersionToEnforce(key, this.#records.get(id)?.value);
      if (min === undefined) continue;
      try {
        const info = await this.#ks.setMinDecryptionVersion(id, min);
        this.#countWrite();
        this.#keys.set(id, info);
        this.#wake.delete(id);
        report.archived.push({ keyId: id, minDecryptionVersion: min });
      } catch (error) {
        this.#expectedGeneration = -1;
        if (!isCode(error, 'EALREADY')) report.failures.push(failureOf(id, error));
      }
    }
  }
}

/** One tick for `coffer rotate due` (cron without a daemon): everything due at `now`, then stop. */
export async function rotateDue(
  ks: Keystore,
  options: { now?: number; subscribers?: RotationSubscriber[]; instanceId?: string; leaseMs?: number } = {},
): Promise<TickReport> {
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'options must be an object');
  const scheduler = new RotationScheduler(ks, {
    // `!== undefined`, not truthiness: a 0 lease or an empty id must be refused, not silently defaulted.
    ...(options.subscribers !== undefined ? { subscribers: options.subscribers } : {}),
    ...(options.instanceId !== undefined ? { instanceId: options.instanceId } : {}),
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
  });
  try {
    return await scheduler.tick(options.now);
  } finally {
    await scheduler.idle();
  }
}
