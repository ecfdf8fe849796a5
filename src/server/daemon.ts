// The daemon's keystore state (SPEC §10): one storage handle for the store, the Keystore once it has
// been unlocked, the unlock gate (lockout), and a short-lived cache of authenticated tokens. The daemon
// starts locked unless an auto-unlock protector (keyring, tpm2, pkcs11) opens it; a passphrase is only
// ever taken from POST /v1/unlock, through the gate.

import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { UnlockGate } from '../access/lockout.js';
import { authenticateWithRevision, type TokenInfo, touchToken } from '../access/tokens.js';
import { keyIdFromBytes } from '../core/ids.js';
import { readStoreHeader, type StoreHeader } from '../core/keyslots.js';
import { Keystore, type OpenOptions } from '../core/keystore.js';
import { insecureSeededRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import type { ProtectorConfig } from '../protect/configs.js';
import { RotationEventStream } from '../rotation/events.js';
import { RotationScheduler } from '../rotation/scheduler.js';
import { createWebhookSender, type WebhookSender } from '../rotation/webhook.js';
import type { Storage } from '../storage/types.js';
import { type DaemonMetrics, outcomeOf } from './metrics.js';
import { instrumentKeystore } from './metrics-keystore.js';
import type { WorkerPool } from './pool/pool.js';

/** How long an authenticated token is trusted before its record is read again (revocations through
 *  another process take effect within this; revocations through this daemon at once). */
const TOKEN_CACHE_MS = 1000;
/** `lastUsedAt` is written at most this often per token (a write per request would cost throughput). */
const TOUCH_EVERY_MS = 60_000;
const TOKEN_CACHE_MAX = 1024;

/** The in-daemon rotation scheduler: tick period, webhooks, a stable instance name. */
export interface RotationOptions {
  tickIntervalMs?: number;
  webhooks?: { url: string; secret: string }[];
  instanceId?: string;
}

export interface DaemonOptions {
  clock: () => number;
  insecureDeterministic: boolean;
  onBackgroundError: (error: unknown, what: string) => void;
  /** Rotation scheduler settings; false: no scheduler in this daemon (cron runs `coffer rotate due`). */
  rotation?: RotationOptions | false;
  /** Rollback anchor, acceptance and format upgrade for the keystore (SPEC §4.2, §4.3). */
  keystore?: Pick<OpenOptions, 'anchor' | 'acceptRollback' | 'upgrade'>;
  /** Where the keystore runs expensive crypto (docs/daemon.md "Worker pool"); closed with the daemon. */
  pool?: WorkerPool;
  /** Prometheus metrics (docs/metrics.md): operations are counted through an instrumented keystore. */
  metrics?: DaemonMetrics;
}

export class Daemon {
  readonly storage: Storage;
  readonly header: StoreHeader;
  readonly gate: UnlockGate;
  readonly clock: () => number;
  #ks: Keystore | undefined;
  /** The keystore as routes and the scheduler see it: #ks, with operations measured when metrics are on. */
  #view: Keystore | undefined;
  #options: DaemonOptions;
  #tokens = new Map<string, { info: TokenInfo; revision: number; until: number }>();
  #touched = new Map<string, number>();
  #background = new Set<Promise<void>>();
  /** Background sync starts still under way: lock waits for them, so none outlives the unlock. */
  #syncStarts = new Set<Promise<void>>();
  /** Rotation events for subscribers (server-sent events at /v1/rotation/events). */
  readonly rotationEvents = new RotationEventStream();
  #scheduler: RotationScheduler | undefined;
  #webhooks: WebhookSender[] = [];
  /** A key's app never changes, so key id → app is cached for scope checks without re-reading. */
  #apps = new Map<string, string>();

  private constructor(storage: Storage, header: StoreHeader, options: DaemonOptions) {
    this.storage = storage;
    this.header = header;
    this.clock = options.clock;
    this.#options = options;
    this.gate = new UnlockGate(storage, options.clock);
    if (options.rotation) {
      // Built (and their URLs and secrets checked) at start, so a bad webhook fails the start.
      this.#webhooks = (options.rotation.webhooks ?? []).map((hook) =>
        createWebhookSender({
          ...hook,
          onFailure: (_event, error) => options.onBackgroundError(error, 'rotation webhook'),
        }),
      );
    }
  }

  /** Starts the rotation scheduler on the unlocked keystore (SPEC §13 rotation policies). */
  #startScheduler(ks: Keystore): void {
    const rotation = this.#options.rotation;
    if (!rotation || this.#scheduler) return;
    this.#scheduler = new RotationScheduler(ks, {
      clock: this.clock,
      subscribers: [this.rotationEvents.subscriber, ...this.#webhooks.map((w) => w.subscriber)],
      ...(rotation.tickIntervalMs ? { tickIntervalMs: rotation.tickIntervalMs } : {}),
      ...(rotation.instanceId ? { instanceId: rotation.instanceId } : {}),
      onError: (error: unknown) => this.#options.onBackgroundError(error, 'rotation tick'),
    });
    this.#scheduler.start();
  }

  async #stopScheduler(): Promise<void> {
    const scheduler = this.#scheduler;
    this.#scheduler = undefined;
    await scheduler?.stop();
  }

  #streams = new Set<ServerResponse>();

  /** Keeps a long-lived response (SSE) so shutdown can end it instead of waiting for it. */
  holdStream(res: ServerResponse, start: () => void): void {
    this.#streams.add(res);
    res.once('close', () => this.#streams.delete(res));
    start();
  }

  /** Ends every long-lived response (graceful shutdown). */
  endStreams(): void {
    for (const res of this.#streams) res.end();
    this.#streams.clear();
  }

  /** The running scheduler, or an error saying why there is none. */
  scheduler(): RotationScheduler {
    this.keystore();
    if (!this.#scheduler)
      throw new CofferError(
        'EUNAVAIL',
        'this daemon runs no rotation scheduler (started with rotation disabled)',
      );
    return this.#scheduler;
  }

  static async open(storage: Storage, options: DaemonOptions): Promise<Daemon> {
    const header = await readStoreHeader(storage);
    if (!header)
      throw new CofferError('ENOENT', 'the store holds no keystore: create one first (coffer init)');
    return new Daemon(storage, header, options);
  }

  /** The worker pool, when the daemon has one (large JSON bodies and replies go through it too). */
  get pool(): WorkerPool | undefined {
    return this.#options.pool;
  }

  /** The daemon's Prometheus metrics, when it keeps them (docs/metrics.md). */
  get metrics(): DaemonMetrics | undefined {
    return this.#options.metrics;
  }

  /** Worker threads running this daemon's expensive crypto (0: all on the event loop). */
  get poolSize(): number {
    return this.#options.pool?.size ?? 0;
  }

  get locked(): boolean {
    return this.#ks === undefined || this.#ks.locked;
  }

  /** The unlocked keystore, or ELOCKED telling the caller how to unlock. */
  keystore(): Keystore {
    const ks = this.#view;
    if (ks === undefined || ks.locked)
      throw new CofferError(
        'ELOCKED',
        'the daemon is locked: unlock it with the passphrase (POST /v1/unlock)',
      );
    return ks;
  }

  async #open(protector: ProtectorConfig): Promise<void> {
    if (this.#ks === undefined) {
      this.#ks = await Keystore.open({
        store: this.storage,
        protector,
        actor: 'daemon',
        clock: this.clock,
        ...this.#options.keystore,
        ...(this.#options.pool ? { offload: this.#options.pool } : {}),
        ...(this.#options.insecureDeterministic
          ? {
              insecureDeterministic: true,
              rng: insecureSeededRng(new TextEncoder().encode('coffer daemon insecure deterministic mode')),
            }
          : {}),
        ...(this.#options.metrics ? { observer: this.#options.metrics } : {}),
      });
      const metrics = this.#options.metrics;
      this.#view = metrics ? instrumentKeystore(this.#ks, metrics) : this.#ks;
    } else {
      await this.#ks.unlock(protector);
    }
    this.#startScheduler(this.#view ?? this.#ks);
    this.startBackgroundSync();
  }

  /**
   * Background keychain sync (SPEC §17.10) when this store's device is in a circle: after every
   * unlock, and as soon as a route makes this device a member (create, join, recover).
   */
  startBackgroundSync(): void {
    const ks = this.#ks;
    if (ks === undefined || ks.locked) return;
    const pending: Promise<void> = (async () => {
      if ((await ks.sync.info()).accountId === undefined) return;
      await ks.sync.start();
    })()
      .catch((error: unknown) => this.#options.onBackgroundError(error, 'sync start'))
      .finally(() => {
        this.#background.delete(pending);
        this.#syncStarts.delete(pending);
      });
    this.#background.add(pending);
    this.#syncStarts.add(pending);
  }

  /** Unlock with a passphrase: serialised, counted, refused while locked out. */
  async unlockWithPassphrase(passphrase: string): Promise<void> {
    const metrics = this.#options.metrics;
    if (!metrics) return this.#unlockWithPassphrase(passphrase);
    // A wrong passphrase and a refusal during a lockout are both ELOCKED to the caller; the metrics
    // tell them apart by whether unlocking was locked out before this attempt.
    const lockedOutBefore = (await this.gate.lockedOutUntil().catch(() => undefined)) !== undefined;
    try {
      await this.#unlockWithPassphrase(passphrase);
      metrics.unlockAttempts.inc({ outcome: 'ok' });
    } catch (error) {
      const code = outcomeOf(error);
      const credential = code === 'ELOCKED' || code === 'EBADMSG';
      const outcome = !credential ? code : lockedOutBefore ? 'locked_out' : 'wrong_passphrase';
      metrics.unlockAttempts.inc({ outcome });
      // This wrong passphrase may have been the one that started a lockout.
      if (outcome === 'wrong_passphrase' && (await this.gate.lockedOutUntil().catch(() => undefined)))
        metrics.lockouts.inc();
      throw error;
    }
  }

  async #unlockWithPassphrase(passphrase: string): Promise<void> {
    if (!this.locked) throw new CofferError('EALREADY', 'the daemon is already unlocked');
    await this.gate.attempt(
      async () => {
        // Another request may have unlocked while this one waited its turn; nothing to try then.
        if (!this.locked) throw new CofferError('EALREADY', 'the daemon is already unlocked');
        await this.#open({ type: 'passphrase', passphrase });
      },
      (error) => error instanceof CofferError && (error.code === 'ELOCKED' || error.code === 'EBADMSG'),
    );
  }

  /** Auto-unlock through a platform protector at start (not counted: no guess is involved). */
  async unlockWithProtector(protector: ProtectorConfig): Promise<void> {
    await this.gate.exclusive(() => this.#open(protector));
  }

  async lock(): Promise<void> {
    await this.gate.exclusive(async () => {
      this.#tokens.clear();
      await this.#stopScheduler();
      await Promise.all(this.#syncStarts);
      if (this.#ks && !this.#ks.locked) await this.#ks.lock();
    });
  }

  /** The bearer's token (cached briefly), or EPERM; ELOCKED while locked. */
  async authenticate(bearer: string): Promise<TokenInfo> {
    const ks = this.keystore();
    const now = this.clock();
    let entry = this.#tokens.get(bearer);
    if (entry === undefined || entry.until <= now) {
      const { info, revision } = await authenticateWithRevision(ks, bearer);
      if (this.#tokens.size >= TOKEN_CACHE_MAX) this.#tokens.clear();
      entry = { info, revision, until: now + TOKEN_CACHE_MS };
      this.#tokens.set(bearer, entry);
    }
    const last = this.#touched.get(entry.info.id) ?? entry.info.lastUsedAt ?? 0;
    if (now - last >= TOUCH_EVERY_MS) {
      this.#touched.set(entry.info.id, now);
      const { info, revision } = entry;
      this.#tokens.delete(bearer); // its revision changes with the write
      const pending = touchToken(ks, info, revision, now)
        .catch((error) => this.#options.onBackgroundError(error, 'token touch'))
        .finally(() => this.#background.delete(pending));
      this.#background.add(pending);
    }
    return entry.info;
  }

  /** The app a key belongs to (for token scope checks), or undefined when there is no such key. */
  async keyApp(id: string): Promise<string | undefined> {
    const cached = this.#apps.get(id);
    if (cached !== undefined) return cached;
    let app: string;
    try {
      ({ app } = await this.keystore().getKey(id));
    } catch (error) {
      if (error instanceof CofferError && error.code === 'ENOENT') return undefined;
      throw error;
    }
    if (this.#apps.size >= 100_000) this.#apps.clear();
    this.#apps.set(id, app);
    return app;
  }

  /**
   * The lookup an unknown key id costs (a storage read that finds nothing), spent when a known key is
   * refused for being outside a token's apps: both answers then take the same path to the same 404.
   */
  async missedLookup(): Promise<void> {
    await this.keyApp(keyIdFromBytes(randomBytes(16))).catch(() => undefined);
  }

  /** Revocation through this daemon takes effect immediately. */
  forgetTokens(): void {
    this.#tokens.clear();
  }

  async status(version: string): Promise<{
    locked: boolean;
    lockedOutUntil?: number;
    keystoreId: string;
    version: string;
  }> {
    const lockedOutUntil = this.locked ? await this.gate.lockedOutUntil() : undefined;
    return {
      locked: this.locked,
      ...(lockedOutUntil !== undefined ? { lockedOutUntil } : {}),
      keystoreId: this.header.id,
      version,
    };
  }

  /** Flushes usage counters and audit, then closes the store. */
  async close(): Promise<void> {
    await Promise.all(this.#background);
    await this.gate.exclusive(async () => {
      this.#tokens.clear();
      await this.#stopScheduler();
      await Promise.all(this.#webhooks.map((w) => w.close()));
      try {
        if (this.#ks) await this.#ks.close();
        else await this.storage.close();
      } finally {
        await this.#options.pool?.close();
      }
    });
  }
}
