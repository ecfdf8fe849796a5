// The open keystore's state: storage (verified against the record tree, SPEC §4.1), master keys, clock,
// RNG, caches, the rollback anchor (SPEC §4.2) and the one write path (`commit`) that applies a change
// and its audit entries in a single compare-and-swap batch, retrying the whole change when another
// writer got there first, then seals the anchor past it. Concurrent changes of this process share
// one batch (group commit, SPEC §4.1).
import { AsyncLocalStorage } from 'node:async_hooks';
import { clearCache as clearKemCache } from '../crypto/kem.js';
import type { Rng } from '../crypto/rng.js';
import { clearKeyCache } from '../crypto/sig.js';
import { asCofferError, CofferError } from '../errors.js';
import { MAX_BATCH_OPS } from '../storage/keys.js';
import type { Storage, WriteOp } from '../storage/types.js';
import type { AnchorGuard } from './anchors.js';
import { type AuditEvent, AuditLog } from './audit.js';
import { openRecord, sealRecord } from './barrier.js';
import { b64 } from './encoding.js';
import { outcomeUnknown } from './keyslots.js';
import type { MasterKeys } from './master-key.js';
import { unwrapSecret } from './material.js';
import { assertKeyId } from './names.js';
import type { KeystoreObserver } from './observer.js';
import type { CryptoOffload } from './offload.js';
import type { KeyInfo } from './types.js';
import { UsageCounter } from './usage.js';
import { type Anchors, VerifiedStorage } from './verified-storage.js';
import { VersionCache } from './version-cache.js';

export interface VersionRecord {
  version: number;
  /** b64(nonce ‖ ct ‖ tag) of the secret; absent once destroyed. */
  wrapped?: string;
  publicKey?: string;
}

export interface LoadedKey {
  info: KeyInfo;
  revision: number;
  fetchedAt: number;
}

export function metaKey(info: { app: string; purpose: string; id: string }): string {
  return `keystore/${info.app}/${info.purpose}/${info.id}/meta`;
}
export function versionKey(info: { app: string; purpose: string; id: string }, version: number): string {
  return `keystore/${info.app}/${info.purpose}/${info.id}/v/${version}`;
}
export function idKey(id: string): string {
  return `ids/${id}`;
}

const MAX_COMMIT_ATTEMPTS = 64;

/**
 * Bound of the metadata and location caches: a keystore of 100 000 keys must not keep every key's
 * metadata in memory because a batch created them or a listing touched them; evicting the oldest
 * entry only costs a re-read on its next use. (Unwrapped versions are bounded by bytes instead:
 * version-cache.ts.)
 */
export const CACHE_ENTRIES = 10_000;

/** Inserts into a Map used as a bounded FIFO cache, evicting the oldest entries. */
function boundedSet<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > CACHE_ENTRIES) map.delete(map.keys().next().value as K);
}

export interface CommitOptions {
  /** Seal the anchor after the write (default true: every change with audit entries, SPEC §4.2). */
  seal?: boolean;
  /** Rewrites the root's anchor entries in the same batch. */
  anchors?: (current: Anchors) => Anchors;
  /**
   * The build reads nothing and only creates records that did not exist (expectRevision 0 on new
   * names) or only appends audit events: it is correct in any order, so any number of such changes
   * may share a batch with one change that reads state (group commit, SPEC §4.1).
   */
  independent?: boolean;
}

export class Session {
  /** Every record the keystore reads or writes after unlock goes through here (SPEC §4.1). */
  readonly storage: VerifiedStorage;
  /** The backend itself: header and keyslots before unlock, and the format upgrade. */
  readonly raw: Storage;
  /** The rollback anchor, when one is configured (SPEC §4.2). */
  anchor: AnchorGuard | undefined;
  readonly audit: AuditLog;
  readonly usage: UsageCounter;
  #keys: MasterKeys | undefined;
  #meta = new Map<string, LoadedKey>();
  #location = new Map<string, { app: string; purpose: string }>();
  /** Key id → version → unwrapped secret and public key, bounded by bytes, until lock, close or destroy. */
  readonly versions = new VersionCache();
  /** Per-operation audit (off by default): events wait here and are appended in batches. */
  #opEvents: Omit<AuditEvent, 'actor'>[] = [];
  #opTimer: NodeJS.Timeout | undefined;
  auditOperations = false;
  /** Where expensive kernels run (the daemon's worker pool); undefined: in this thread. */
  offload: CryptoOffload | undefined;
  /** Told about failures worth counting (core/observer.ts); undefined: nobody listens. */
  observer: KeystoreObserver | undefined;

  constructor(
    raw: Storage,
    readonly rng: Rng,
    readonly clock: () => number,
    readonly actor: string,
    readonly cacheTtlMs: number,
    readonly insecure: boolean,
  ) {
    this.raw = raw;
    this.storage = new VerifiedStorage(raw, () => this.keys.tree, {
      onWrite: () => this.anchor?.noteWrite(),
    });
    const storage = this.storage;
    this.audit = new AuditLog(storage, () => this.keys, rng);
    this.usage = new UsageCounter(
      storage,
      () => this.keys.barrier,
      rng,
      (error) => {
        process.emitWarning(`coffer: usage counts could not be persisted: ${(error as Error).message}`);
      },
    );
  }

  get keys(): MasterKeys {
    if (!this.#keys) throw new CofferError('ELOCKED', 'the keystore is locked');
    return this.#keys;
  }

  get unlocked(): boolean {
    return this.#keys !== undefined;
  }

  setKeys(keys: MasterKeys): void {
    this.#keys = keys;
  }

  /** Forgets every secret this process holds (lock and close). */
  lock(): void {
    this.dropCaches();
    this.#keys?.wipe();
    this.#keys = undefined;
  }

  /** Records one operation (sign, seal, …) when per-operation audit is on; appended in batches. */
  auditOperation(event: string, keyId: string, version: number): void {
    if (!this.auditOperations) return;
    this.#opEvents.push({ event, keyId, at: this.now(), details: { version } });
    if (this.#opEvents.length >= 1000) {
      void this.flushOperationAudit().catch((error) =>
        process.emitWarning(`coffer: operation audit failed: ${(error as Error).message}`),
      );
    } else if (!this.#opTimer) {
      this.#opTimer = setTimeout(() => {
        void this.flushOperationAudit().catch((error) =>
          process.emitWarning(`coffer: operation audit failed: ${(error as Error).message}`),
        );
      }, 1000);
      this.#opTimer.unref();
    }
  }

  /** Writes what is counted or queued in memory (usage, operation audit) before lock or close. */
  async flushPending(): Promise<void> {
    if (!this.unlocked) return;
    await this.usage.flush();
    await this.flushOperationAudit();
    await this.anchor?.sealIfDirty();
  }

  async flushOperationAudit(): Promise<void> {
    if (this.#opTimer) clearTimeout(this.#opTimer);
    this.#opTimer = undefined;
    if (this.#opEvents.length === 0) return;
    const batch = this.#opEvents;
    this.#opEvents = [];
    // Sealed with the next change or within the anchor's sealEveryMs, not one seal per batch.
    await this.commit(async () => ({ ops: [], events: batch, result: undefined }), {
      seal: false,
      independent: true,
    });
  }

  /** Forgets cached metadata and unwrapped secrets; the next use re-reads and re-authenticates them. */
  dropCaches(): void {
    this.versions.clear();
    this.#meta.clear();
    this.#location.clear();
    this.storage.dropCache();
    // The crypto layer keeps prepared keys (KeyObjects, expanded ML-KEM/ML-DSA keys) for speed.
    clearKeyCache();
    clearKemCache();
    this.offload?.forgetAll();
  }

  now(): number {
    return this.clock();
  }

  async #locate(id: string): Promise<{ app: string; purpose: string }> {
    const known = this.#location.get(id);
    if (known) return known;
    const record = await this.storage.get(idKey(id));
    if (!record) throw new CofferError('ENOENT', `no key ${id}`);
    const location = openRecord<{ app: string; purpose: string }>(this.keys.barrier, idKey(id), record.value);
    boundedSet(this.#location, id, location);
    return location;
  }

  /**
   * The key's metadata. `fresh` reads storage (every lifecycle change does); otherwise a copy read
   * within cacheTtlMs is reused, so another process's revoke takes effect here within that window.
   */
  async loadKey(id: string, fresh = false): Promise<LoadedKey> {
    const keys = this.keys;
    if (!fresh) {
      // Only ids that passed assertKeyId are ever cached, so a hit needs no second check.
      const cached = this.#meta.get(id);
      const now = this.now();
      if (cached && now - cached.fetchedAt < this.cacheTtlMs && cached.fetchedAt <= now) return cached;
    }
    assertKeyId(id);
    const location = await this.#locate(id);
    const key = metaKey({ ...location, id });
    const record = await this.storage.get(key);
    if (!record) throw new CofferError('ENOENT', `no key ${id}`);
    const info = openRecord<KeyInfo>(keys.barrier, key, record.value);
    if (info.id !== id) throw new CofferError('EBADMSG', `record ${key} holds another key`);
    const loaded = { info, revision: record.revision, fetchedAt: this.now() };
    boundedSet(this.#meta, id, loaded);
    return loaded;
  }

  remember(info: KeyInfo, revision: number): void {
    boundedSet(this.#meta, info.id, { info, revision, fetchedAt: this.now() });
    boundedSet(this.#location, info.id, { app: info.app, purpose: info.purpose });
  }

  forgetVersions(id: string): void {
    clearKeyCache();
    clearKemCache();
    this.versions.forget(id);
    this.offload?.forget(id);
  }

  async #versionRecord(info: KeyInfo, version: number): Promise<VersionRecord> {
    const key = versionKey(info, version);
    const record = await this.storage.get(key);
    if (!record) throw new CofferError('ENOENT', `key ${info.id} has no stored version ${version}`);
    const value = openRecord<VersionRecord>(this.keys.barrier, key, record.value);
    if (value.version !== version) throw new CofferError('EBADMSG', `record ${key} holds another version`);
    return value;
  }

  /** The unwrapped secret of a version, cached until lock/close/destroy. */
  async secret(info: KeyInfo, version: number): Promise<Uint8Array> {
    const cached = this.versions.get(info.id, version)?.secret;
    if (cached) return cached;
    const record = await this.#versionRecord(info, version);
    if (!record.wrapped)
      throw new CofferError('EKEYREVOKED', `version ${version} of key ${info.id} was destroyed`);
    const secret = unwrapSecret(this.keys.keyWrap, b64.decode(record.wrapped), {
      app: info.app,
      purpose: info.purpose,
      keyId: info.id,
      version,
      algorithm: info.algorithm,
    });
    // A concurrent call may have unwrapped it too; its copy is not wiped here, as its caller may be
    // about to use it.
    this.versions.set(
      info.id,
      version,
      record.publicKey ? { secret, publicKey: b64.decode(record.publicKey) } : { secret },
    );
    return secret;
  }

  async publicKey(info: KeyInfo, version: number): Promise<Uint8Array> {
    const cached = this.versions.get(info.id, version)?.publicKey;
    if (cached) return cached;
    const record = await this.#versionRecord(info, version);
    if (!record.publicKey)
      throw new CofferError('EINVAL', `key ${info.id} (${info.algorithm}) has no public key`);
    const publicKey = b64.decode(record.publicKey);
    this.versions.set(info.id, version, { publicKey });
    return publicKey;
  }

  sealRecord(key: string, value: unknown): Uint8Array {
    return sealRecord(this.keys.barrier, key, value, this.rng);
  }

  /** Tells the observer that audit entries were not appended (SPEC: the audit log is fail-closed). */
  #auditFailed(error: unknown): void {
    try {
      this.observer?.auditAppendFailed?.(asCofferError(error));
    } catch {
      // An observer's own failure must not replace the error the caller sees.
    }
  }

  /**
   * Runs `build` (which reads what it needs fresh and returns the ops of one change plus its audit
   * events), appends the audit entries, and writes all of it atomically. A lost compare-and-swap
   * (another writer) re-runs `build` on the new state; nothing is written unless everything is.
   *
   * Within this process, commits are group-committed (issue 14, goal 5): while one write is in
   * flight, the commits that arrive queue up, and the next write carries all of them — their ops,
   * then their audit entries in arrival order — under one tree root and one audit head. Each caller
   * still gets its own result or its own error: a build that throws fails only its caller, and a
   * merged write that fails for any reason but a lost race or an unknown outcome is retried member by
   * member. Changes with anchor rewrites, and commits made from inside a build or a seal, run alone.
   */
  commit<T>(build: CommitBuild<T>, options: CommitOptions = {}): Promise<T> {
    if (options.anchors || insideCommit.getStore()) return this.#commitAlone(build, options);
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({
        build,
        seal: options.seal !== false,
        independent: options.independent === true,
        resolve: resolve as (value: unknown) => void,
        reject,
      } as QueuedCommit);
      if (!this.#draining) void this.#drain();
    });
  }

  #queue: QueuedCommit[] = [];
  #draining = false;

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue.splice(0, this.#queue.length);
        await insideCommit.run(true, () => this.#commitGroup(group));
      }
    } finally {
      this.#draining = false;
    }
  }

  /** Builds and writes one group; members that cannot join it this time go back to the queue's head. */
  async #commitGroup(members: QueuedCommit[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const joined: { member: QueuedCommit; built: Built<unknown> }[] = [];
      const deferred: QueuedCommit[] = [];
      const touched = new Set<string>();
      let opCount = 0;
      let eventCount = 0;
      let readsState = false;
      for (const member of members) {
        // A change that reads state was built on the store as committed; a second one could have
        // read what the first writes, so it waits for the next write (serialisable, as if alone).
        if (!member.independent && readsState) {
          deferred.push(member);
          continue;
        }
        let built: Built<unknown>;
        try {
          built = await member.build();
        } catch (error) {
          member.reject(error);
          continue;
        }
        // Two changes of one record cannot share a batch (the second was built on the state before
        // the first), and a group stays within one storage batch: its ops, one audit entry per event
        // and the audit head (SPEC §4.1, §9.1). A change too big even alone goes alone and fails there.
        const overlaps = built.ops.some((op) => touched.has(op.key));
        const tooBig =
          joined.length > 0 &&
          opCount + built.ops.length + eventCount + built.events.length + 1 > MAX_BATCH_OPS;
        if (overlaps || tooBig) {
          deferred.push(member);
          continue;
        }
        for (const op of built.ops) touched.add(op.key);
        if (!member.independent) readsState = true;
        opCount += built.ops.length;
        eventCount += built.events.length;
        joined.push({ member, built });
      }
      // Deferred members are built again on the state after this write.
      this.#queue.unshift(...deferred);
      if (joined.length === 0) return;
      const outcome = await this.#write(
        joined.map((j) => j.built),
        joined.some((j) => j.member.seal),
      );
      if (outcome.ok) {
        for (const { member, built } of joined) member.resolve(built.result);
        return;
      }
      const { error } = outcome;
      if (error instanceof AuditAppendError) {
        for (const { member } of joined) member.reject(error.cause);
        return;
      }
      const lostRace = error instanceof CofferError && error.code === 'ECONFLICT';
      // A group that keeps losing may hold one change whose own condition cannot hold: after a few
      // rounds, each member goes on alone (and retries alone, as before group commit).
      if (lostRace && attempt < (joined.length > 1 ? GROUP_CONFLICT_ROUNDS : MAX_COMMIT_ATTEMPTS)) {
        members = joined.map((j) => j.member);
        await backoff(attempt);
        continue;
      }
      if (joined.length > 1 && !outcomeUnknown(error)) {
        // One member's ops may be what the store refused: each alone gets its own outcome.
        for (const { member } of joined) {
          await this.#commitAlone(member.build, { seal: member.seal }).then(member.resolve, member.reject);
        }
        return;
      }
      for (const { member, built } of joined) {
        if (built.events.length > 0) this.#auditFailed(error);
        member.reject(error);
      }
      return;
    }
  }

  /** Appends the audit entries of `parts` and writes everything in one batch; seals when asked. */
  async #write(
    parts: Built<unknown>[],
    seal: boolean,
    options: CommitOptions = {},
  ): Promise<{ ok: true } | { ok: false; error: unknown }> {
    const at = this.now();
    const events = parts.flatMap((part) => part.events.map((e) => ({ ...e, actor: this.actor, at })));
    let auditOps: WriteOp[];
    try {
      auditOps = await this.audit.prepareAppend(events);
    } catch (error) {
      this.#auditFailed(error);
      // Not a lost race: fail every member (each would fail the same way alone).
      return { ok: false, error: new AuditAppendError(error) };
    }
    try {
      const ops = parts.length === 1 ? parts[0]!.ops : parts.flatMap((part) => part.ops);
      await this.storage.write(
        [...ops, ...auditOps],
        options.anchors ? { anchors: options.anchors, quiet: true } : {},
      );
    } catch (error) {
      return { ok: false, error };
    }
    // SPEC §4.2: an acknowledged change is sealed before it returns (a failed seal only warns).
    if (seal && events.length > 0) await this.anchor?.seal();
    return { ok: true };
  }

  /** One change in its own batch, retried on a lost compare-and-swap (the path before group commit). */
  async #commitAlone<T>(build: CommitBuild<T>, options: CommitOptions): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const built = await build();
      const outcome = await this.#write([built], options.seal !== false, options);
      if (outcome.ok) return built.result;
      const { error } = outcome;
      if (error instanceof AuditAppendError) throw error.cause;
      if (!(error instanceof CofferError && error.code === 'ECONFLICT') || attempt >= MAX_COMMIT_ATTEMPTS) {
        if (built.events.length > 0) this.#auditFailed(error);
        throw error;
      }
      await backoff(attempt);
    }
  }
}

type CommitBuild<T> = () => Promise<Built<T>>;

interface Built<T> {
  ops: WriteOp[];
  events: Omit<AuditEvent, 'actor' | 'at'>[];
  result: T;
}

interface QueuedCommit {
  build: CommitBuild<unknown>;
  seal: boolean;
  independent: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Set while a group is being built and written: a commit made from inside one runs alone. */
const insideCommit = new AsyncLocalStorage<boolean>();

/** Lost compare-and-swaps a group of several changes retries together before splitting up. */
const GROUP_CONFLICT_ROUNDS = 4;

/** An audit append that failed before anything was written (already reported to the observer). */
class AuditAppendError extends Error {
  constructor(override readonly cause: unknown) {
    super('audit append failed');
  }
}

/** Back off a little, randomly, so concurrent writers stop colliding in lock step. */
function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * Math.min(50, attempt * 3))));
}
