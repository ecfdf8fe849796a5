// The Keystore (SPEC §2 library contract): opens a store through a keyslot, manages keys through
// their lifecycle and performs operations on them. Key bytes never leave: callers get ids, public
// keys, signatures and ciphertexts. HSM-resident keys (SPEC §5.5) go through resident.ts: their
// private halves never exist here at all.

import { assertBytes } from '../crypto/bytes.js';
import type { PassphraseKdfParams } from '../crypto/passphrase-kdf.js';
import { type Rng, systemRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { type ProtectorConfig, validateProtectorConfig } from '../protect/configs.js';
import { openStorage } from '../storage/open.js';
import type { Storage, WriteOp } from '../storage/types.js';
import {
  type AppRecord,
  type AppRecordWrite,
  getAppRecord,
  listAppRecords,
  writeAppRecords,
} from './app-records.js';
import type { AuditEntry, AuditReport } from './audit.js';
import { openRecord } from './barrier.js';
import {
  dangerouslyExportKeyMaterial,
  dangerouslyImportKeyMaterial,
  type ExportedKey,
  type ExportFilter,
  type ImportMode,
} from './dangerous-material.js';
import { b64, b64url } from './encoding.js';
import { newKeyId } from './ids.js';
import { listKeysPage } from './key-pages.js';
import {
  addSlot,
  changePassphraseSlot,
  createSlot,
  discardSlot,
  encodeJson,
  HEADER_KEY,
  listSlots,
  outcomeUnknown,
  type ProtectorInfo,
  parseHeader,
  type RemovedProtector,
  removeSlot,
  type StoreHeader,
  touchSlotOp,
  unlockWith,
  verifySlot,
} from './keyslots.js';
import {
  type Actor,
  applyKeyAction,
  applyMinDecryptionVersion,
  applyRotation,
  applyVersionAction,
  effectiveKey,
} from './lifecycle.js';
import { MasterKeys } from './master-key.js';
import { generateMaterial, hasPublicKey, wrapSecret } from './material.js';
import { assertMetadataString, assertName, validateCreateSpec } from './names.js';
import type { KeystoreObserver } from './observer.js';
import type { CryptoOffload } from './offload.js';
import * as ops from './operations.js';
import { exportPublicKey, type PublicKeyFormat } from './public-key.js';
import {
  type Pkcs11TokenConfig,
  ResidentKeys,
  residentAlgorithm,
  signWithResidentKey,
  validateTokenConfig,
} from './resident.js';
import { idKey, metaKey, Session, type VersionRecord, versionKey } from './session.js';
import * as streams from './stream-seal.js';
import type { KeyOperations, KeyPage, KeyPageRequest, SignatureCheck } from './surface.js';
import { type CreateKeySpec, type KeyInfo, type KeyResidency, LIMITS } from './types.js';
import { rewrap as rewrapAny, unseal as unsealAny } from './unseal.js';

export interface OpenOptions {
  /** `sqlite:PATH`, `dir:PATH`, `postgres://…`, or an already opened Storage. */
  store: string | Storage;
  protector: ProtectorConfig;
  /** Create the keystore (with this protector as its first keyslot) when the store has none. */
  create?: boolean;
  /** Who the audit log names for changes made through this handle (default 'library'). */
  actor?: string;
  /** Injectable clock in milliseconds (tests, scheduler). */
  clock?: () => number;
  /** Randomness; a seeded RNG is refused unless insecureDeterministic is set. */
  rng?: Rng;
  /** Deterministic test mode (SPEC §2): requires rng; every key created is marked insecure. */
  insecureDeterministic?: boolean;
  /** How long this process may reuse key metadata before re-reading it (default 1000 ms). */
  cacheTtlMs?: number;
  /** Open a specific keyslot of the protector's type. */
  slotId?: string;
  /** Also audit every sign/seal/unseal/encapsulate/mac (batched; off by default). */
  auditOperations?: boolean;
  /**
   * The PKCS#11 token for HSM-resident keys (`createKey({ …, residency: 'pkcs11' })`). When absent
   * and the keystore is opened with a pkcs11 protector, that protector's token is used.
   */
  pkcs11?: Pkcs11TokenConfig;
  /**
   * Runs expensive crypto (ML-DSA, X-Wing, large payloads) off this thread: the daemon passes its
   * worker pool (docs/daemon.md "Worker pool"). Absent: everything runs in the calling thread.
   */
  offload?: CryptoOffload;
  /** Told about failures worth counting, e.g. audit appends (core/observer.ts; the daemon's metrics). */
  observer?: KeystoreObserver;
}

/** A resident key's token pair made before the write that records it. */
interface ResidentVersion {
  residency: KeyResidency;
  tokenKeyId: string;
  publicKey: Uint8Array;
}

function validateOpenOptions(options: OpenOptions): void {
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'options must be an object');
  if (options.rng?.insecure && options.insecureDeterministic !== true) {
    throw new CofferError(
      'EINVAL',
      'a seeded (insecure) RNG needs insecureDeterministic: true: it makes every key predictable',
    );
  }
  if (options.insecureDeterministic === true && !options.rng?.insecure) {
    throw new CofferError('EINVAL', 'insecureDeterministic needs a seeded rng (insecureSeededRng(seed))');
  }
  if (options.actor !== undefined) assertMetadataString('actor', options.actor);
}

/** The keystore in this process; its operations are the shared surface of core/surface.ts. */
export class Keystore implements KeyOperations {
  #session: Session;
  #header: StoreHeader;
  #resident: ResidentKeys;
  /** Key id → whether it is HSM-resident; residency is fixed at creation, so this never goes stale. */
  #residentIds = new Map<string, boolean>();
  #closed = false;

  private constructor(session: Session, header: StoreHeader, resident: ResidentKeys) {
    this.#session = session;
    this.#header = header;
    this.#resident = resident;
  }

  static async open(options: OpenOptions): Promise<Keystore> {
    validateOpenOptions(options);
    await validateProtectorConfig(options.protector);
    const resident = new ResidentKeys(
      options.pkcs11 === undefined ? undefined : await validateTokenConfig(options.pkcs11),
    );
    const storage =
      typeof options.store === 'string'
        ? await openStorage(options.store, { create: options.create === true })
        : options.store;
    try {
      const rng = options.rng ?? systemRng;
      if (options.insecureDeterministic) {
        process.emitWarning(
          'coffer: insecure deterministic mode: keys are predictable and marked insecure; never use it for real keys',
        );
      }
      const session = new Session(
        storage,
        rng,
        options.clock ?? Date.now,
        options.actor ?? 'library',
        options.cacheTtlMs ?? 1000,
        options.insecureDeterministic === true,
      );
      session.auditOperations = options.auditOperations === true;
      session.offload = options.offload;
      session.observer = options.observer;
      const headerRecord = await storage.get(HEADER_KEY);
      if (!headerRecord) {
        if (!options.create)
          throw new CofferError('ENOENT', 'no keystore in this store (pass create: true to make one)');
        return await Keystore.#initialize(session, options.protector, resident);
      }
      const header = parseHeader(headerRecord.value);
      const ks = new Keystore(session, header, resident);
      await ks.unlock(options.protector, options.slotId);
      return ks;
    } catch (error) {
      if (typeof options.store === 'string') await storage.close().catch(() => {});
      throw error;
    }
  }

  static async #initialize(
    session: Session,
    protector: ProtectorConfig,
    resident: ResidentKeys,
  ): Promise<Keystore> {
    const now = session.now();
    const header: StoreHeader = {
      format: 'coffer-keystore',
      version: 1,
      id: b64url(session.rng.randomBytes(16)),
      createdAt: now,
    };
    const master = session.rng.randomBytes(32);
    const keys = new MasterKeys(master, Buffer.from(header.id, 'base64url'));
    master.fill(0);
    const { slot, op } = await createSlot(keys, header, protector, session.rng, now);
    session.setKeys(keys);
    try {
      await session.commit(async () => ({
        ops: [{ op: 'put', key: HEADER_KEY, value: encodeJson(header), expectRevision: 0 }, op],
        events: [{ event: 'keystore.create', details: { slot: slot.id, protector: slot.type } }],
        result: undefined,
      }));
    } catch (error) {
      session.lock();
      if (!outcomeUnknown(error)) await discardSlot(slot, protector);
      throw error;
    }
    if (protector.type === 'pkcs11') await resident.adoptFromProtector(protector);
    return new Keystore(session, header, resident);
  }

  get id(): string {
    return this.#header.id;
  }

  get locked(): boolean {
    return !this.#session.unlocked;
  }

  #open(): Session {
    if (this.#closed) throw new CofferError('EUNAVAIL', 'the keystore is closed');
    return this.#session;
  }

  #who(): Actor {
    const s = this.#open();
    return { actor: s.actor, now: s.now() };
  }

  /** Unlocks with any one keyslot; a wrong passphrase is ELOCKED and changes nothing. */
  async unlock(protector: ProtectorConfig, slotId?: string): Promise<void> {
    const s = this.#open();
    await validateProtectorConfig(protector);
    if (slotId !== undefined && typeof slotId !== 'string')
      throw new CofferError('EINVAL', 'slotId must be a string');
    const { master, slot } = await unlockWith(s.storage, this.#header, protector, slotId);
    const keys = new MasterKeys(master, Buffer.from(this.#header.id, 'base64url'));
    master.fill(0);
    if (!verifySlot(keys, this.#header, slot.slot)) {
      keys.wipe();
      throw new CofferError('EBADMSG', `keyslot ${slot.slot.id} or the keystore header was altered`);
    }
    s.setKeys(keys);
    await s
      .commit(async () => ({
        ops: [await touchSlotOp(s.storage, keys, this.#header, slot.slot.id, s.now())],
        events: [{ event: 'keystore.unlock', details: { slot: slot.slot.id, protector: slot.slot.type } }],
        result: undefined,
      }))
      .catch((error) => {
        s.lock();
        throw error;
      });
    if (protector.type === 'pkcs11') await this.#resident.adoptFromProtector(protector);
  }

  /** Wipes the master key and every cached secret and logs out of the token; operations then fail with ELOCKED. */
  async lock(): Promise<void> {
    const s = this.#open();
    try {
      await s.flushPending();
    } finally {
      s.lock();
      await this.#resident.close();
    }
  }

  /**
   * Forgets cached key metadata and unwrapped secrets (memory hygiene for long-running processes);
   * the next operation re-reads and re-authenticates what it needs.
   */
  dropCaches(): void {
    this.#open().dropCaches();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const s = this.#session;
    try {
      await s.flushPending();
    } finally {
      s.lock();
      this.#closed = true;
      await this.#resident.close().catch(() => {});
      await s.storage.close();
    }
  }

  // ---- keys -------------------------------------------------------------------------------------

  #buildKey(
    spec: ReturnType<typeof validateCreateSpec>,
    now: number,
    resident?: ResidentVersion & { id: string },
  ): { info: KeyInfo; ops: WriteOp[] } {
    const s = this.#open();
    const id = resident?.id ?? newKeyId(spec.app, spec.purpose, now, s.rng);
    const preActive = spec.preActive === true && !(spec.activatesAt !== undefined && spec.activatesAt <= now);
    const state = preActive ? 'pre-active' : 'active';
    const info: KeyInfo = {
      id,
      app: spec.app,
      purpose: spec.purpose,
      algorithm: spec.algorithm,
      uses: spec.uses,
      labels: spec.labels,
      state,
      createdAt: now,
      updatedAt: now,
      ...(preActive && spec.activatesAt !== undefined ? { activatesAt: spec.activatesAt } : {}),
      primaryVersion: 1,
      minDecryptionVersion: 1,
      versions: [
        { version: 1, state, createdAt: now, ...(resident ? { tokenKeyId: resident.tokenKeyId } : {}) },
      ],
      ...(spec.rotation ? { rotation: spec.rotation } : {}),
      ...(s.insecure ? { insecure: true } : {}),
      ...(spec.backupAllowed === false ? { backupAllowed: false as const } : {}),
      ...(resident ? { residency: resident.residency } : {}),
      history: [],
    };
    return { info, ops: [...this.#versionOps(info, 1, resident), ...this.#metaOps(info, 0)] };
  }

  #metaOps(info: KeyInfo, revision: number, withIndex = revision === 0): WriteOp[] {
    const s = this.#open();
    const out: WriteOp[] = [
      { op: 'put', key: metaKey(info), value: s.sealRecord(metaKey(info), info), expectRevision: revision },
    ];
    if (withIndex) {
      const key = idKey(info.id);
      out.push({
        op: 'put',
        key,
        value: s.sealRecord(key, { app: info.app, purpose: info.purpose }),
        expectRevision: 0,
      });
    }
    return out;
  }

  #versionOps(info: KeyInfo, version: number, resident?: ResidentVersion): WriteOp[] {
    const s = this.#open();
    const key = versionKey(info, version);
    if (resident) {
      // SPEC §5.5: a resident version's record holds its public key only; the private half is in the token.
      const record: VersionRecord = { version, publicKey: b64.encode(resident.publicKey) };
      return [{ op: 'put', key, value: s.sealRecord(key, record), expectRevision: 0 }];
    }
    const material = generateMaterial(info.algorithm, s.rng);
    const wrapped = wrapSecret(
      s.keys.keyWrap,
      material.secret,
      { app: info.app, purpose: info.purpose, keyId: info.id, version, algorithm: info.algorithm },
      s.rng,
    );
    material.secret.fill(0);
    const record: VersionRecord = {
      version,
      wrapped: b64.encode(wrapped),
      ...(material.publicKey ? { publicKey: b64.encode(material.publicKey) } : {}),
    };
    return [{ op: 'put', key, value: s.sealRecord(key, record), expectRevision: 0 }];
  }

  async createKey(spec: CreateKeySpec): Promise<KeyInfo> {
    const [info] = await this.createKeys([spec]);
    return info!;
  }

  /** Creates many keys in one durable batch (one fsync for all of them). */
  async createKeys(specs: CreateKeySpec[]): Promise<KeyInfo[]> {
    const s = this.#open();
    if (!Array.isArray(specs) || specs.length === 0)
      throw new CofferError('EINVAL', 'specs must be a non-empty array');
    // Each key is 4 records; a storage batch holds at most 10 000 operations (SPEC §9.3).
    if (specs.length > 2000) throw new CofferError('E2BIG', 'at most 2000 keys per batch');
    const valid = specs.map(validateCreateSpec);
    s.keys; // fail with ELOCKED before doing any work
    if (valid.some((spec) => spec.residency !== undefined)) return this.#createWithResident(valid);
    const infos = await s.commit(async () => {
      const now = s.now();
      const built = valid.map((spec) => this.#buildKey(spec, now));
      return {
        ops: built.flatMap((b) => b.ops),
        events: built.map(({ info }) => ({
          event: 'key.create',
          keyId: info.id,
          details: { app: info.app, purpose: info.purpose, algorithm: info.algorithm, state: info.state },
        })),
        result: built.map((b) => b.info),
      };
    });
    for (const info of infos) s.remember(info, 0);
    // Revisions are the batch's generation; re-read lazily on the next fresh load.
    return infos.map((info) => structuredClone(info));
  }

  /**
   * createKeys for a batch holding resident keys: the token pairs are made first (the token is slow
   * and must not run inside a write that may be retried), then every key is written in one batch;
   * if that write fails, the pairs are deleted again.
   */
  async #createWithResident(valid: ReturnType<typeof validateCreateSpec>[]): Promise<KeyInfo[]> {
    const s = this.#open();
    const residency = await this.#resident.residency();
    const now = s.now();
    const made: string[] = [];
    let writing = false;
    try {
      const pre: ((ResidentVersion & { id: string }) | undefined)[] = [];
      for (const spec of valid) {
        if (spec.residency === undefined) {
          pre.push(undefined);
          continue;
        }
        const id = newKeyId(spec.app, spec.purpose, now, s.rng);
        const pair = await this.#resident.generate(residency, residentAlgorithm(spec.algorithm), id);
        made.push(pair.tokenKeyId);
        pre.push({ id, residency, ...pair });
      }
      writing = true;
      const infos = await s.commit(async () => {
        const built = valid.map((spec, i) => this.#buildKey(spec, now, pre[i]));
        return {
          ops: built.flatMap((b) => b.ops),
          events: built.map(({ info }) => ({
            event: 'key.create',
            keyId: info.id,
            details: {
              app: info.app,
              purpose: info.purpose,
              algorithm: info.algorithm,
              state: info.state,
              ...(info.residency ? { residency: info.residency.type } : {}),
            },
          })),
          result: built.map((b) => b.info),
        };
      });
      for (const info of infos) {
        s.remember(info, 0);
        this.#residentIds.set(info.id, info.residency !== undefined);
      }
      return infos.map((info) => structuredClone(info));
    } catch (error) {
      if (!(writing && outcomeUnknown(error))) await this.#resident.destroy(residency, made).catch(() => {});
      throw error;
    }
  }

  /** The key's metadata when it is HSM-resident, else undefined (cached per id after the first look). */
  async #residentKey(id: string): Promise<KeyInfo | undefined> {
    if (this.#residentIds.get(id) === false) return undefined;
    const { info } = await this.#open().loadKey(id);
    this.#residentIds.set(id, info.residency !== undefined);
    return info.residency ? info : undefined;
  }

  async getKey(id: string): Promise<KeyInfo> {
    const s = this.#open();
    const { info } = await s.loadKey(id, true);
    return structuredClone(effectiveKey(info, s.now()));
  }

  async listKeys(filter: { app?: string; purpose?: string } = {}): Promise<KeyInfo[]> {
    const s = this.#open();
    const keys = s.keys;
    if (filter.app !== undefined) assertName('app', filter.app);
    if (filter.purpose !== undefined) {
      assertName('purpose', filter.purpose);
      if (filter.app === undefined) throw new CofferError('EINVAL', 'filtering by purpose needs an app');
    }
    const prefix = `keystore/${filter.app ? `${filter.app}/` : ''}${filter.purpose ? `${filter.purpose}/` : ''}`;
    const now = s.now();
    const out: KeyInfo[] = [];
    for (const record of await s.storage.list(prefix)) {
      if (!record.key.endsWith('/meta')) continue;
      out.push(effectiveKey(openRecord<KeyInfo>(keys.barrier, record.key, record.value), now));
    }
    return out;
  }

  /** One page of keys and a cursor for the next (src/core/key-pages.ts). */
  async listKeysPage(request: KeyPageRequest = {}): Promise<KeyPage> {
    return listKeysPage(this.#open(), request, effectiveKey);
  }

  /** Loads fresh, applies `change`, writes with CAS; re-runs on a concurrent change. */
  async #change(
    id: string,
    change: (
      info: KeyInfo,
      who: Actor,
    ) => { info: KeyInfo; extraOps?: WriteOp[]; event: string; details?: Record<string, unknown> },
  ): Promise<KeyInfo> {
    const s = this.#open();
    const next = await s.commit(async () => {
      const { info, revision } = await s.loadKey(id, true);
      const result = change(info, this.#who());
      return {
        ops: [...this.#metaOps(result.info, revision, false), ...(result.extraOps ?? [])],
        events: [{ event: result.event, keyId: id, ...(result.details ? { details: result.details } : {}) }],
        result: result.info,
      };
    });
    // The cached revision is stale after our own write; force the next lifecycle read to storage.
    s.remember(next, -1);
    return structuredClone(next);
  }

  /**
   * Rotation of a resident key: the new version's pair is made in the token before the write (after a
   * dry run of the rotation, so a revoked or suspended key never gets one), and deleted again if the
   * write fails. A concurrent rotation just attaches the pair to whichever version number it gets.
   */
  async #rotateResident(
    info: KeyInfo,
    apply: (info: KeyInfo, who: Actor) => KeyInfo,
    describe: (next: KeyInfo, previous: KeyInfo) => { event: string; details: Record<string, unknown> },
  ): Promise<KeyInfo> {
    const residency = info.residency;
    if (residency === undefined) throw new CofferError('EINTERNAL', `key ${info.id} is not HSM-resident`);
    apply(info, this.#who());
    const pair = await this.#resident.generate(residency, residentAlgorithm(info.algorithm), info.id);
    try {
      return await this.#change(info.id, (fresh, who) => {
        const rotated = apply(fresh, who);
        const next: KeyInfo = {
          ...rotated,
          versions: rotated.versions.map((v) =>
            v.version === rotated.primaryVersion ? { ...v, tokenKeyId: pair.tokenKeyId } : v,
          ),
        };
        return {
          info: next,
          extraOps: this.#versionOps(next, next.primaryVersion, { residency, ...pair }),
          ...describe(next, fresh),
        };
      });
    } catch (error) {
      if (!outcomeUnknown(error)) await this.#resident.destroy(residency, [pair.tokenKeyId]).catch(() => {});
      throw error;
    }
  }

  async rotate(id: string, options: { reason?: string } = {}): Promise<KeyInfo> {
    if (options.reason !== undefined) assertMetadataString('reason', options.reason);
    const resident = await this.#residentKey(id);
    if (resident) {
      return this.#rotateResident(
        resident,
        (info, who) => applyRotation(info, who, options),
        (next) => ({
          event: 'key.rotate',
          details: { version: next.primaryVersion, ...(options.reason ? { reason: options.reason } : {}) },
        }),
      );
    }
    return this.#change(id, (info, who) => {
      const next = applyRotation(info, who, options);
      return {
        info: next,
        extraOps: this.#versionOps(next, next.primaryVersion),
        event: 'key.rotate',
        details: { version: next.primaryVersion, ...(options.reason ? { reason: options.reason } : {}) },
      };
    });
  }

  /** Rotates and marks the old version compromised in one write (SPEC §2 emergency rotation). */
  async emergencyRotate(id: string, incident: { id?: string; description: string }): Promise<KeyInfo> {
    if (typeof incident !== 'object' || incident === null)
      throw new CofferError('EINVAL', 'incident must be an object');
    assertMetadataString('incident.description', incident.description);
    if (incident.description.length === 0)
      throw new CofferError('EINVAL', 'an emergency rotation needs an incident description');
    if (incident.id !== undefined) assertMetadataString('incident.id', incident.id);
    const resident = await this.#residentKey(id);
    if (resident) {
      const result = await this.#rotateResident(
        resident,
        (info, who) => applyRotation(info, who, { compromiseOld: true, reason: incident.description }),
        (next, previous) => ({
          event: 'key.emergency-rotate',
          details: { version: next.primaryVersion, compromised: previous.primaryVersion, incident },
        }),
      );
      this.#session.forgetVersions(id);
      return result;
    }
    const result = await this.#change(id, (info, who) => {
      const next = applyRotation(info, who, { compromiseOld: true, reason: incident.description });
      return {
        info: next,
        extraOps: this.#versionOps(next, next.primaryVersion),
        event: 'key.emergency-rotate',
        details: { version: next.primaryVersion, compromised: info.primaryVersion, incident },
      };
    });
    this.#session.forgetVersions(id);
    return result;
  }

  async activate(id: string): Promise<KeyInfo> {
    return this.#change(id, (info, who) => ({
      info: applyKeyAction(info, 'activate', who),
      event: 'key.activate',
    }));
  }

  async suspend(id: string, options: { reason?: string } = {}): Promise<KeyInfo> {
    if (options.reason !== undefined) assertMetadataString('reason', options.reason);
    return this.#change(id, (info, who) => ({
      info: applyKeyAction(info, 'suspend', who, options.reason),
      event: 'key.suspend',
      ...(options.reason ? { details: { reason: options.reason } } : {}),
    }));
  }

  async resume(id: string): Promise<KeyInfo> {
    return this.#change(id, (info, who) => ({
      info: applyKeyAction(info, 'resume', who),
      event: 'key.resume',
    }));
  }

  /** Marks the key (or one version) compromised: every private operation then fails with EKEYREVOKED. */
  async revoke(id: string, reason: string, options: { version?: number } = {}): Promise<KeyInfo> {
    assertMetadataString('reason', reason);
    if (reason.trim().length === 0) throw new CofferError('EINVAL', 'revoking a key needs a reason');
    const result = await this.#change(id, (info, who) => ({
      info:
        options.version === undefined
          ? applyKeyAction(info, 'revoke', who, reason)
          : applyVersionAction(info, 'revoke', options.version, who, reason),
      event: 'key.revoke',
      details: { reason, ...(options.version !== undefined ? { version: options.version } : {}) },
    }));
    this.#session.forgetVersions(id);
    return result;
  }

  /**
   * Wipes the key's (or one version's) secret material; metadata and audit trail stay. For a resident
   * key the token pairs are deleted first: an unreachable token is EUNAVAIL with nothing changed
   * (revoke needs no token), and a retry after a failed write finishes the job.
   */
  async destroy(id: string, options: { version?: number; reason?: string } = {}): Promise<KeyInfo> {
    if (options.reason !== undefined) assertMetadataString('reason', options.reason);
    const s = this.#open();
    const resident = await this.#residentKey(id);
    if (resident?.residency) {
      const { info } = await s.loadKey(id, true);
      const planned =
        options.version === undefined
          ? applyKeyAction(info, 'destroy', this.#who(), options.reason)
          : applyVersionAction(info, 'destroy', options.version, this.#who(), options.reason);
      const pairs = planned.versions.flatMap((v) =>
        v.state === 'destroyed' && v.tokenKeyId !== undefined ? [v.tokenKeyId] : [],
      );
      await this.#resident.destroy(resident.residency, pairs);
    }
    // Public keys survive destruction (old signatures stay attributable): read them before the change.
    const publicKeys = new Map<number, string>();
    {
      const { info } = await s.loadKey(id, true);
      if (hasPublicKey(info.algorithm)) {
        for (const v of info.versions) {
          const publicKey = await s.publicKey(info, v.version).catch(() => undefined);
          if (publicKey) publicKeys.set(v.version, b64.encode(publicKey));
        }
      }
    }
    const result = await this.#change(id, (info, who) => {
      const next =
        options.version === undefined
          ? applyKeyAction(info, 'destroy', who, options.reason)
          : applyVersionAction(info, 'destroy', options.version, who, options.reason);
      const wiped = next.versions.filter((v) => v.state === 'destroyed').map((v) => v.version);
      return {
        info: next,
        extraOps: wiped.map((version) => {
          const key = versionKey(next, version);
          // The public key stays so old signatures can still be attributed; the secret is gone.
          const publicKey = publicKeys.get(version);
          return {
            op: 'put' as const,
            key,
            value: s.sealRecord(key, { version, destroyed: true, ...(publicKey ? { publicKey } : {}) }),
          };
        }),
        event: 'key.destroy',
        details: { versions: wiped, ...(options.reason ? { reason: options.reason } : {}) },
      };
    });
    s.forgetVersions(id);
    return result;
  }

  async setMinDecryptionVersion(id: string, version: number): Promise<KeyInfo> {
    return this.#change(id, (info, who) => ({
      info: applyMinDecryptionVersion(info, version, who),
      event: 'key.min-decryption-version',
      details: { version },
    }));
  }

  async usage(id: string): Promise<Record<string, number>> {
    const s = this.#open();
    await s.loadKey(id);
    return s.usage.read(id);
  }

  // ---- operations ---------------------------------------------------------------------------------

  async sign(
    id: string,
    data: Uint8Array,
    options?: { encoding?: ops.SignatureEncoding; context?: Uint8Array },
  ): Promise<{ signature: Uint8Array; version: number }> {
    const s = this.#open();
    if (this.#residentIds.get(id) !== false) {
      // First sign with this id in this handle: check the message before the metadata read.
      assertBytes('data', data);
      if (data.length > LIMITS.signMessageBytes)
        throw new CofferError('E2BIG', `data is larger than ${LIMITS.signMessageBytes} bytes`);
      const resident = await this.#residentKey(id);
      if (resident) return signWithResidentKey(s, this.#resident, resident, data, options);
    }
    return ops.sign(s, id, data, options);
  }
  async verify(
    id: string,
    data: Uint8Array,
    signature: Uint8Array,
    options?: { version?: number; encoding?: ops.SignatureEncoding; context?: Uint8Array },
  ) {
    return ops.verify(this.#open(), id, data, signature, options);
  }
  /** Verification as a public operation: compromised keys answer too, with their state (SPEC §2). */
  async checkSignature(
    id: string,
    data: Uint8Array,
    signature: Uint8Array,
    options?: { version?: number; encoding?: ops.SignatureEncoding; context?: Uint8Array },
  ): Promise<SignatureCheck> {
    return ops.checkSignature(this.#open(), id, data, signature, options);
  }
  async seal(id: string, plaintext: Uint8Array, options?: { aad?: Uint8Array | string }) {
    return ops.seal(this.#open(), id, plaintext, options);
  }
  async unseal(id: string, sealed: Uint8Array, options?: { aad?: Uint8Array | string }) {
    return unsealAny(this.#open(), id, sealed, options);
  }
  async rewrap(id: string, sealed: Uint8Array, options?: { aad?: Uint8Array | string }) {
    return rewrapAny(this.#open(), id, sealed, options);
  }

  /**
   * Seals an input of any size in constant memory (SPEC §6.2) under the primary version. Resolves once
   * the key and its state are checked, with a pull-driven async iterable of sealed pieces (header,
   * then one piece per chunk); `.version` is the version used.
   */
  async sealStream(
    id: string,
    source: streams.ByteSource,
    options?: streams.SealStreamOptions,
  ): Promise<streams.ByteStream> {
    return streams.sealStream(this.#open(), id, source, options);
  }
  /**
   * Opens a sealed stream (or a one-shot blob) in constant memory (SPEC §6.2). Resolves once the header
   * is read and its data key unwrapped; each plaintext piece is released only after its chunk
   * verified, and a truncated stream fails with EBADMSG at its end: treat output as provisional until
   * the iteration finished without an error.
   */
  async unsealStream(
    id: string,
    sealed: streams.ByteSource,
    options?: streams.UnsealStreamOptions,
  ): Promise<streams.ByteStream> {
    return streams.unsealStream(this.#open(), id, sealed, options);
  }
  /** A sealed stream with a new header for the primary version and the same body (SPEC §6.2.3). */
  async rewrapStream(
    id: string,
    sealed: streams.ByteSource,
    options?: streams.UnsealStreamOptions,
  ): Promise<streams.ByteStream> {
    return streams.rewrapStream(this.#open(), id, sealed, options);
  }
  async generateDataKey(id: string, options?: { aad?: Uint8Array | string; includePlaintext?: boolean }) {
    return ops.generateDataKey(this.#open(), id, options);
  }
  async encapsulate(id: string) {
    return ops.encapsulate(this.#open(), id);
  }
  async decapsulate(id: string, ciphertext: Uint8Array, options?: { version?: number }) {
    return ops.decapsulate(this.#open(), id, ciphertext, options);
  }
  async mac(id: string, data: Uint8Array) {
    return ops.computeMac(this.#open(), id, data);
  }
  async verifyMac(id: string, data: Uint8Array, tag: Uint8Array, options?: { version?: number }) {
    return ops.verifyMac(this.#open(), id, data, tag, options);
  }

  async publicKey(
    id: string,
    format: PublicKeyFormat = 'raw',
    options: { version?: number } = {},
  ): Promise<Uint8Array | string | object> {
    const s = this.#open();
    const { info } = await s.loadKey(id);
    const version = options.version ?? info.primaryVersion;
    if (!info.versions.some((v) => v.version === version))
      throw new CofferError('ENOENT', `key ${id} has no version ${version}`);
    return exportPublicKey(info.algorithm, await s.publicKey(info, version), format, {
      comment: `${info.app}/${info.purpose}/${id}`,
    });
  }

  // ---- keyslots -----------------------------------------------------------------------------------

  /** Adds a keyslot: the protector makes its platform key and wraps the master key (SPEC §5). */
  async addProtector(config: ProtectorConfig): Promise<ProtectorInfo> {
    return addSlot(this.#open(), this.#header, config);
  }

  /** Every keyslot: id, type, capabilities as the protector reported them, created and last used. */
  async listProtectors(): Promise<ProtectorInfo[]> {
    return listSlots(this.#open(), this.#header);
  }

  /**
   * Removes a keyslot, never the last one (EPERM), and deletes the key its protector keeps outside
   * the record (keyring entry, token key; the token PIN comes from `config` or from the token this
   * handle was opened with). See removeSlot in keyslots.ts and SPEC §5 "Removing a keyslot".
   */
  async removeProtector(
    slotId: string,
    options: { config?: ProtectorConfig; keepPlatformKey?: boolean } = {},
  ): Promise<RemovedProtector> {
    return removeSlot(this.#open(), this.#header, slotId, options, this.#resident.config);
  }

  /** New passphrase for a passphrase slot: fresh salt, rewrapped master key; keys are not re-encrypted. */
  async changePassphrase(
    newPassphrase: string,
    options: { slotId?: string; kdf?: PassphraseKdfParams } = {},
  ): Promise<ProtectorInfo> {
    return changePassphraseSlot(this.#open(), this.#header, newPassphrase, options);
  }

  // ---- backup (DANGEROUS: secret material crosses the API here, for encrypted backups only) ----

  /** Yields keys with their secrets for an encrypted backup; see dangerous-material.ts. */
  dangerouslyExportKeyMaterial(filter?: ExportFilter): AsyncGenerator<ExportedKey> {
    return dangerouslyExportKeyMaterial(this.#open(), filter);
  }

  /** Restores keys from a decrypted backup, keeping ids, versions and states. */
  async dangerouslyImportKeyMaterial(
    keys: ExportedKey[],
    mode: ImportMode = 'fail',
  ): Promise<{ restored: string[]; skipped: string[] }> {
    const s = this.#open();
    const result = await dangerouslyImportKeyMaterial(s, keys, mode);
    for (const id of result.restored) {
      s.forgetVersions(id);
      this.#residentIds.delete(id);
    }
    s.dropCaches();
    return result;
  }

  // ---- records of the layers above (daemon tokens, scheduler, sync) ----

  /** A sealed record under `ext/<namespace>/<name>`; undefined when absent. */
  getRecord<T>(namespace: string, name: string): Promise<AppRecord<T> | undefined> {
    return getAppRecord<T>(this.#open(), namespace, name);
  }

  listRecords<T>(namespace: string, prefix?: string): Promise<AppRecord<T>[]> {
    return listAppRecords<T>(this.#open(), namespace, prefix);
  }

  /** Writes sealed records (and audit events) in one atomic batch; a lost CAS is ECONFLICT. */
  writeRecords(
    namespace: string,
    writes: AppRecordWrite[],
    events?: { event: string; keyId?: string; details?: Record<string, unknown> }[],
  ) {
    return writeAppRecords(this.#open(), namespace, writes, events);
  }

  /** Appends audit events on their own (e.g. a daemon's token changes). */
  async appendAudit(
    events: { event: string; keyId?: string; details?: Record<string, unknown> }[],
  ): Promise<void> {
    await this.#open().commit(async () => ({ ops: [], events, result: undefined }));
  }

  // ---- audit --------------------------------------------------------------------------------------

  verifyAudit(): Promise<AuditReport> {
    return this.#open().audit.verify();
  }

  auditTail(count = 20): Promise<AuditEntry[]> {
    if (!Number.isSafeInteger(count) || count < 1 || count > 10_000)
      throw new CofferError('EINVAL', 'count must be 1..10000');
    return this.#open().audit.tail(count);
  }

  /** The store-wide generation (for incremental backups). */
  generation(): Promise<number> {
    return this.#open().storage.generation();
  }
}
