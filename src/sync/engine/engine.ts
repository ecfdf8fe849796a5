// The device-side sync engine (SPEC §17.10): one `now()` pulls what changed (one round trip when
// little did), pushes the outgoing queue with compare-and-swap, merges conflicts, and — after a
// write, on a timer, or when asked — checks the other devices' signed manifests and publishes its
// own. Concurrent `now()` calls share one run; `start()` syncs on push events and on a timer with
// backoff after failures. An attack by the server is a CofferError EBADMSG naming it, kept for
// `status()`.
import { CofferError } from '../../errors.js';
import type { KeychainSyncAccess } from '../../keychain/sync-access.js';
import { DEFAULT_MAX_SKEW_MS } from '../hlc.js';
import type { SyncMembership, SyncTransport } from '../transport.js';
import { attack, SyncAttackError } from './attacks.js';
import { checkAgainstView, floorsOf, publishManifest, readManifests } from './audit.js';
import { reachOf } from './device-manifest.js';
import { enqueueExisting } from './enqueue.js';
import { type PullContext, pull } from './pull.js';
import { push } from './push.js';
import { newState, noteWrites, readState, ServerView, type SyncState, stateOp } from './state.js';

/** What `ks.sync.now()` answers. */
export interface SyncReport {
  pushed: number;
  pulled: number;
  conflicts: number;
  bytesUp: number;
  bytesDown: number;
  roundTrips: number;
}

export interface SyncStatus {
  accountId: string;
  deviceId: string;
  running: boolean;
  lastSync?: number;
  /** Local writes not yet acknowledged by the server. */
  queued: number;
  seq: number;
  generation: number;
  lastError?: { code: string; message: string; at: number };
  attack?: { name: string; message: string; at: number };
}

export interface SyncEngineOptions {
  /** The keychain to sync (`ks.keychain`), or its sync access. */
  keychain: { syncAccess(): KeychainSyncAccess } | KeychainSyncAccess;
  transport: SyncTransport;
  membership: SyncMembership;
  maxSkewMs?: number;
  /** Check the other devices' manifests at least this often (default 5 minutes). */
  auditIntervalMs?: number;
  /** Background sync period (default 60 s) and the longest backoff after failures (10 minutes). */
  intervalMs?: number;
  maxBackoffMs?: number;
}

export class SyncEngine {
  readonly #access: KeychainSyncAccess;
  readonly #transport: SyncTransport;
  readonly #membership: SyncMembership;
  readonly #maxSkewMs: number;
  readonly #auditIntervalMs: number;
  readonly #intervalMs: number;
  readonly #maxBackoffMs: number;
  #state: SyncState | undefined;
  #view: ServerView | undefined;
  #running: Promise<SyncReport> | undefined;
  #again: Promise<SyncReport> | undefined;
  #againAudit = false;
  #lastError: SyncStatus['lastError'];
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #failures = 0;
  #stopped = true;

  constructor(options: SyncEngineOptions) {
    const k = options.keychain;
    this.#access = 'syncAccess' in k ? k.syncAccess() : k;
    this.#transport = options.transport;
    this.#membership = options.membership;
    this.#maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    this.#auditIntervalMs = options.auditIntervalMs ?? 5 * 60_000;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 10 * 60_000;
  }

  async #init(): Promise<{ state: SyncState; view: ServerView }> {
    if (this.#state && this.#view) return { state: this.#state, view: this.#view };
    const meta = await this.#access.meta();
    if (meta.deviceId !== this.#membership.deviceId)
      throw new CofferError(
        'EINVAL',
        `the circle knows this device as ${this.#membership.deviceId}, the keychain as ${meta.deviceId}`,
      );
    let stored = await readState(this.#access);
    if (!stored) {
      const state = newState(this.#membership.accountId, meta.deviceId);
      // From this commit on, every keychain write queues itself (SPEC §17.10.2).
      await this.#access
        .commit(async () => ({
          ops: [stateOp(this.#access, state, 0)],
          events: [{ event: 'sync.setup', details: { account: state.accountId } }],
          result: undefined,
        }))
        .catch((error) => {
          if (!(error instanceof CofferError && error.code === 'ECONFLICT')) throw error;
        });
      stored = await readState(this.#access);
      if (!stored) throw new CofferError('EINTERNAL', 'sync state vanished');
    }
    if (stored.state.accountId !== this.#membership.accountId)
      throw new CofferError('EINVAL', `this keychain syncs with account ${stored.state.accountId}`);
    this.#state = stored.state;
    this.#view = await ServerView.load(this.#access);
    if (!this.#state.enqueued) {
      await enqueueExisting(this.#access);
      this.#state.enqueued = true;
      await this.#save();
    }
    return { state: this.#state, view: this.#view };
  }

  /** Writes the state (one engine per store: the latest word of this engine is the state). */
  async #save(): Promise<void> {
    const state = this.#state!;
    await this.#access.commit(async () => ({
      ops: [stateOp(this.#access, state)],
      events: [],
      result: undefined,
    }));
  }

  /** One sync now; concurrent calls share a run (and a call during a run gets the next one). */
  now(options: { audit?: boolean } = {}): Promise<SyncReport> {
    if (!this.#running) {
      this.#running = this.#run(options.audit === true).finally(() => {
        this.#running = undefined;
      });
      return this.#running;
    }
    this.#againAudit ||= options.audit === true;
    this.#again ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#again = undefined;
        const audit = this.#againAudit;
        this.#againAudit = false;
        return this.now({ audit });
      });
    return this.#again;
  }

  async #run(forceAudit: boolean): Promise<SyncReport> {
    const before = { ...this.#transport.stats };
    const { state, view } = await this.#init();
    const ctx: PullContext = {
      access: this.#access,
      membership: this.#membership,
      view,
      maxSkewMs: this.#maxSkewMs,
      transport: this.#transport,
    };
    try {
      const now = this.#access.host.now();
      const audit =
        forceAudit || state.lastAudit === undefined || now - state.lastAudit >= this.#auditIntervalMs;
      const auditCtx = { transport: this.#transport, membership: this.#membership, view };
      // Manifests first, so a record below what a device signed it wrote is refused before it is installed.
      const manifests = audit ? await readManifests(auditCtx, state) : [];
      if (audit) ctx.floors = floorsOf(manifests);
      const pulled = await this.#pullConsistent(ctx, state);
      const pushed = await push(ctx);
      noteWrites(state, pushed.wrote);
      // When this push's writes took exactly the next positions of the log, no other write came in
      // between: the view is the server's set at the last of them, so the next pull need not read
      // them back (a server lying about positions is still caught by the next digest check).
      const seqs = pushed.wrote.map((w) => w.seq).sort((x, y) => x - y);
      if (
        state.seen &&
        pushed.conflicts === 0 &&
        seqs.length > 0 &&
        seqs.every((q, i) => q === state.seq + 1 + i)
      ) {
        state.seq = seqs[seqs.length - 1]!;
        state.seen = { digest: view.digest(), count: view.size };
      }
      if (audit) {
        if (manifests.some((body) => reachOf(body) > state.seq)) {
          // Another device read further than this pull: catch up once, then it must be within reach.
          await this.#pullConsistent(ctx, state);
          for (const body of manifests)
            if (reachOf(body) > state.seq)
              throw attack(
                'rolled-back-log',
                `device ${body.deviceId} read the change log up to ${reachOf(body)}; the server's ends at ${state.seq}`,
              );
        }
        for (const body of manifests) checkAgainstView(view, state, body);
        state.lastAudit = now;
      }
      if ((audit || pushed.pushed > 0) && state.seen) {
        state.generation += 1;
        await this.#save(); // the generation is spent before it is published: a restart never reuses it
        await publishManifest({ transport: this.#transport, membership: this.#membership, view }, state);
      }
      state.lastSync = now;
      this.#lastError = undefined;
      await this.#save();
      const after = this.#transport.stats;
      return {
        pushed: pushed.pushed,
        pulled: pulled.pulled,
        conflicts: pulled.conflicts + pushed.conflicts,
        bytesUp: after.bytesUp - before.bytesUp,
        bytesDown: after.bytesDown - before.bytesDown,
        roundTrips: after.roundTrips - before.roundTrips,
      };
    } catch (error) {
      const at = this.#access.host.now();
      const code = error instanceof CofferError ? error.code : 'EINTERNAL';
      this.#lastError = { code, message: (error as Error).message, at };
      if (error instanceof SyncAttackError) {
        state.attack = { message: error.message, at };
        await this.#save().catch(() => undefined);
      }
      throw error;
    }
  }

  /** Pulls until the view's digest is the server's at the position read (at most three tries). */
  async #pullConsistent(ctx: PullContext, state: SyncState): Promise<{ pulled: number; conflicts: number }> {
    let pulled = 0;
    let conflicts = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = await pull(ctx, state.seq);
      pulled += result.pulled;
      conflicts += result.conflicts;
      state.seq = result.seq;
      const consistent = result.repaired === 0 && result.deferred === 0;
      state.seen = consistent ? { digest: ctx.view.digest(), count: ctx.view.size } : undefined;
      if (consistent || result.deferred > 0) break;
    }
    await this.#save();
    return { pulled, conflicts };
  }

  async status(): Promise<SyncStatus> {
    const { state } = await this.#init();
    const queued = (await this.#access.list('kc/q/')).length;
    const attackName = state.attack
      ? (/\(([a-z-]+)\)/.exec(state.attack.message)?.[1] ?? 'unknown')
      : undefined;
    return {
      accountId: state.accountId,
      deviceId: state.deviceId,
      running: this.#running !== undefined,
      ...(state.lastSync !== undefined ? { lastSync: state.lastSync } : {}),
      queued,
      seq: state.seq,
      generation: state.generation,
      ...(this.#lastError ? { lastError: { ...this.#lastError } } : {}),
      ...(state.attack ? { attack: { name: attackName!, ...state.attack } } : {}),
    };
  }

  /** Background sync: on every push event from another device, and on a timer with backoff. */
  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#unsubscribe = await this.#transport.subscribe(
      (event) => {
        if (event.deviceId !== this.#membership.deviceId) this.#kick();
      },
      () => {
        this.#unsubscribe = undefined;
      },
    );
    this.#kick();
  }

  #kick(): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.now()
      .then(() => {
        this.#failures = 0;
      })
      .catch(() => {
        this.#failures += 1;
      })
      .finally(() => this.#schedule());
  }

  #schedule(): void {
    if (this.#stopped || this.#timer) return;
    const delay = Math.min(this.#intervalMs * 2 ** this.#failures, this.#maxBackoffMs);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, delay);
    this.#timer.unref?.();
  }

  /** Stops background sync and waits for a run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#running?.catch(() => undefined);
  }
}
