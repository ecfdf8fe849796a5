// Keys and their lifecycle (SPEC §2): building a key's records, creating keys in durable batches
// (HSM-resident ones through the token first, SPEC §5.5), listing them, and every state change —
// rotate, emergency rotate, activate, suspend, resume, revoke, destroy, minimum decryption version,
// usage repair — as one compare-and-swap write each. The Keystore facade (keystore.ts) hands calls
// here; operations on keys live in operations.ts.
import { wipe } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import type { KeyInput } from '../format/key-import.js';
import type { WriteOp } from '../storage/types.js';
import { openRecord } from './barrier.js';
import { b64 } from './encoding.js';
import { newKeyId } from './ids.js';
import { type ImportKeySpec, prepareImport, prepareTrustAnchor, type TrustAnchorSpec } from './imported.js';
import { outcomeUnknown } from './keyslots.js';
import {
  type Actor,
  applyKeyAction,
  applyMinDecryptionVersion,
  applyRotation,
  applyVersionAction,
  effectiveKey,
} from './lifecycle.js';
import { generateMaterial, hasPublicKey, wrapSecret } from './material.js';
import { assertMetadataString, assertName, validateCreateSpec } from './names.js';
import { type ResidentKeys, residentAlgorithm } from './resident.js';
import { idKey, metaKey, type Session, type VersionRecord, versionKey } from './session.js';
import type { CreateKeySpec, KeyInfo, KeyOrigin, KeyResidency } from './types.js';
import { usageKey } from './usage.js';

/**
 * Keys per createKeys call: each writes 4 ops (meta, version, id index, audit entry), plus the audit
 * head, so 2 000 keys are 8 001 of a batch's 10 000 caller ops; the record tree's nodes are counted
 * apart and never limit it (SPEC §4.1, §9.1).
 */
export const MAX_CREATE_BATCH = 2000;

/**
 * New keys read no state and write only records under a fresh random id (expectRevision 0), so
 * concurrent creations share one write with each other and with one other change (SPEC §4.1).
 */
const CREATION = { independent: true } as const;

/** Material brought in from outside (SPEC §14.15): an imported secret, or a trust anchor's public key. */
interface SuppliedVersion {
  origin: KeyOrigin;
  secret?: Uint8Array;
  publicKey?: Uint8Array;
}

/** Rotation makes new material; a key whose material came from outside gets new versions by import. */
function refuseRotation(info: KeyInfo): void {
  if (info.origin === 'imported')
    throw new CofferError(
      'EPERM',
      `key ${info.id} was imported: import its next version with \`coffer key import --replaces ${info.id}\``,
    );
  if (info.origin === 'trust-anchor')
    throw new CofferError(
      'EPERM',
      `key ${info.id} is a trust anchor: add its next public key with \`coffer anchor add --replaces ${info.id}\``,
    );
}

/** A resident key's token pair made before the write that records it. */
interface ResidentVersion {
  residency: KeyResidency;
  tokenKeyId: string;
  publicKey: Uint8Array;
}

export class KeyManager {
  readonly #session: () => Session;
  readonly #resident: ResidentKeys;
  /** Key id → whether it is HSM-resident; residency is fixed at creation, so this never goes stale. */
  readonly #residentIds = new Map<string, boolean>();

  /** `session` returns the open session or throws (EUNAVAIL once the keystore is closed). */
  constructor(session: () => Session, resident: ResidentKeys) {
    this.#session = session;
    this.#resident = resident;
  }

  #open(): Session {
    return this.#session();
  }

  #who(): Actor {
    const s = this.#open();
    return { actor: s.actor, now: s.now() };
  }

  /** Whether `id` is known not to be HSM-resident (so a sign can skip the residency look-up). */
  knownNotResident(id: string): boolean {
    return this.#residentIds.get(id) === false;
  }

  /** Forgets what is cached about `id` (after a restore replaced it). */
  forget(id: string): void {
    this.#residentIds.delete(id);
  }

  #buildKey(
    spec: ReturnType<typeof validateCreateSpec>,
    now: number,
    resident?: ResidentVersion & { id: string },
    supplied?: SuppliedVersion,
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
      ...(spec.syncable === true ? { syncable: true as const } : {}),
      ...(resident ? { residency: resident.residency } : {}),
      ...(supplied ? { origin: supplied.origin } : {}),
      history: [],
    };
    return { info, ops: [...this.#versionOps(info, 1, resident, supplied), ...this.#metaOps(info, 0)] };
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

  #versionOps(
    info: KeyInfo,
    version: number,
    resident?: ResidentVersion,
    supplied?: SuppliedVersion,
  ): WriteOp[] {
    const s = this.#open();
    const key = versionKey(info, version);
    if (supplied && supplied.secret === undefined) {
      // A trust anchor's version holds its public key only; there is no private half anywhere.
      const record: VersionRecord = { version, publicKey: b64.encode(supplied.publicKey!) };
      return [{ op: 'put', key, value: s.sealRecord(key, record), expectRevision: 0 }];
    }
    if (resident) {
      // SPEC §5.5: a resident version's record holds its public key only; the private half is in the token.
      const record: VersionRecord = { version, publicKey: b64.encode(resident.publicKey) };
      return [{ op: 'put', key, value: s.sealRecord(key, record), expectRevision: 0 }];
    }
    const material = supplied
      ? { secret: Uint8Array.from(supplied.secret!), publicKey: supplied.publicKey }
      : generateMaterial(info.algorithm, s.rng);
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
    // Each key is 4 records plus its path in the record tree; a batch holds at most 10 000 ops (SPEC §4.1).
    if (specs.length > MAX_CREATE_BATCH)
      throw new CofferError('E2BIG', `at most ${MAX_CREATE_BATCH} keys per createKeys call`);
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
    }, CREATION);
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
      }, CREATION);
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
  async residentKey(id: string): Promise<KeyInfo | undefined> {
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
    // Meta records only (SPEC §4.6): version records are neither read nor checked against the tree.
    for (const record of await s.storage.listEnding(prefix, '/meta')) {
      out.push(effectiveKey(openRecord<KeyInfo>(keys.barrier, record.key, record.value), now));
    }
    return out;
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
    const resident = await this.residentKey(id);
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
      refuseRotation(info);
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
    const resident = await this.residentKey(id);
    if (resident) {
      const result = await this.#rotateResident(
        resident,
        (info, who) => applyRotation(info, who, { compromiseOld: true, reason: incident.description }),
        (next, previous) => ({
          event: 'key.emergency-rotate',
          details: { version: next.primaryVersion, compromised: previous.primaryVersion, incident },
        }),
      );
      this.#open().forgetVersions(id);
      return result;
    }
    const result = await this.#change(id, (info, who) => {
      refuseRotation(info);
      const next = applyRotation(info, who, { compromiseOld: true, reason: incident.description });
      return {
        info: next,
        extraOps: this.#versionOps(next, next.primaryVersion),
        event: 'key.emergency-rotate',
        details: { version: next.primaryVersion, compromised: info.primaryVersion, incident },
      };
    });
    this.#open().forgetVersions(id);
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
    this.#open().forgetVersions(id);
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
    const resident = await this.residentKey(id);
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

  /**
   * Rewrites a key's usage record whose stored count cannot be trusted (SPEC §4.5: damaged or rolled
   * back; the key's counting operations are refused until then). `counts` maps version numbers to the
   * uses the operator knows of; the rewrite is audited (`key.usage-repair`) with the reason.
   */
  async repairUsage(id: string, counts: Record<string, number>, reason: string): Promise<void> {
    const s = this.#open();
    assertMetadataString('reason', reason);
    if (reason.trim().length === 0) throw new CofferError('EINVAL', 'repairing a use count needs a reason');
    if (typeof counts !== 'object' || counts === null || Array.isArray(counts))
      throw new CofferError('EINVAL', 'counts must be an object of version → uses');
    const { info } = await s.loadKey(id, true);
    const clean: Record<string, number> = {};
    for (const [version, n] of Object.entries(counts)) {
      if (!info.versions.some((v) => String(v.version) === version))
        throw new CofferError('EINVAL', `key ${id} has no version ${version}`);
      if (!Number.isSafeInteger(n) || n < 0) throw new CofferError('EINVAL', 'uses must be integers ≥ 0');
      clean[version] = n;
    }
    const key = usageKey(id);
    await s.commit(async () => {
      // The stored record is what cannot be trusted: replace it whatever it holds (CAS on its revision).
      const current = await s.raw.get(key);
      return {
        ops: [
          {
            op: 'put',
            key,
            value: s.sealRecord(key, { counts: clean }),
            expectRevision: current?.revision ?? 0,
          },
        ],
        events: [{ event: 'key.usage-repair', keyId: id, details: { reason, counts: clean } }],
        result: undefined,
      };
    });
    s.usage.repaired(id);
  }

  // ---- keys whose material comes from outside (SPEC §14.15) ----

  async importKey(
    spec: ImportKeySpec,
    key: KeyInput,
    options: { passphrase?: string } = {},
  ): Promise<KeyInfo> {
    const s = this.#open();
    s.keys; // ELOCKED before parsing (an encrypted key's KDF is work)
    const prepared = prepareImport(spec, key, options);
    try {
      const supplied: SuppliedVersion = {
        origin: 'imported',
        secret: prepared.secret,
        ...(prepared.publicKey ? { publicKey: prepared.publicKey } : {}),
      };
      const details = {
        app: prepared.spec.app,
        purpose: prepared.spec.purpose,
        algorithm: prepared.spec.algorithm,
      };
      if (prepared.replaces !== undefined)
        return await this.#supplyVersion(prepared.replaces, prepared.spec, supplied, 'key.import', details);
      return await this.#createSupplied(prepared.spec, supplied, 'key.import', details);
    } finally {
      wipe(prepared.secret);
    }
  }

  async addTrustAnchor(spec: TrustAnchorSpec, key: KeyInput): Promise<KeyInfo> {
    const s = this.#open();
    s.keys;
    const prepared = prepareTrustAnchor(spec, key);
    const supplied: SuppliedVersion = { origin: 'trust-anchor', publicKey: prepared.publicKey };
    const details = {
      app: prepared.spec.app,
      set: prepared.spec.purpose,
      name: prepared.spec.labels['trust-anchor'],
      algorithm: prepared.spec.algorithm,
    };
    if (prepared.replaces !== undefined)
      return this.#supplyVersion(prepared.replaces, prepared.spec, supplied, 'anchor.add', details);
    return this.#createSupplied(prepared.spec, supplied, 'anchor.add', details);
  }

  async #createSupplied(
    spec: ReturnType<typeof validateCreateSpec>,
    supplied: SuppliedVersion,
    event: string,
    details: Record<string, unknown>,
  ): Promise<KeyInfo> {
    const s = this.#open();
    const info = await s.commit(async () => {
      const built = this.#buildKey(spec, s.now(), undefined, supplied);
      return {
        ops: built.ops,
        events: [{ event, keyId: built.info.id, details: { ...details, version: 1 } }],
        result: built.info,
      };
    }, CREATION);
    s.remember(info, 0);
    return structuredClone(info);
  }

  /** A new primary version with supplied material; the key must be of the same kind, app, purpose, algorithm. */
  async #supplyVersion(
    id: string,
    spec: ReturnType<typeof validateCreateSpec>,
    supplied: SuppliedVersion,
    event: string,
    details: Record<string, unknown>,
  ): Promise<KeyInfo> {
    const result = await this.#change(id, (info, who) => {
      if (info.origin !== supplied.origin)
        throw new CofferError(
          'EPERM',
          `key ${id} is not ${supplied.origin === 'imported' ? 'an imported key' : 'a trust anchor'}`,
        );
      if (info.app !== spec.app || info.purpose !== spec.purpose || info.algorithm !== spec.algorithm)
        throw new CofferError(
          'EINVAL',
          `key ${id} is ${info.app}/${info.purpose} ${info.algorithm}: the new version must match`,
        );
      if (supplied.origin === 'trust-anchor' && info.labels['trust-anchor'] !== spec.labels['trust-anchor'])
        throw new CofferError(
          'EINVAL',
          `key ${id} is anchor ${info.labels['trust-anchor']}, not ${spec.labels['trust-anchor']}`,
        );
      const next = applyRotation(info, who, {});
      return {
        info: next,
        extraOps: this.#versionOps(next, next.primaryVersion, undefined, supplied),
        event,
        details: { ...details, version: next.primaryVersion },
      };
    });
    this.#open().forgetVersions(id);
    return result;
  }
}
