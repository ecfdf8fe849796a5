// The Keystore (SPEC §2 library contract): opens a store through a keyslot, manages keys through
// their lifecycle and performs operations on them. Key bytes never leave: callers get ids, public
// keys, signatures and ciphertexts. HSM-resident keys (SPEC §5.5) go through resident.ts: their
// private halves never exist here at all.

import { assertBytes } from '../crypto/bytes.js';
import { hkdf } from '../crypto/kdf.js';
import type { PassphraseKdfParams } from '../crypto/passphrase-kdf.js';
import { CofferError } from '../errors.js';
import type { KeyInput } from '../format/key-import.js';
import type { KeychainHost } from '../keychain/host.js';
import { Keychain } from '../keychain/keychain.js';
import type { ProtectorConfig } from '../protect/configs.js';
import { SyncService } from '../sync/service.js';
import {
  type AppRecord,
  type AppRecordWrite,
  getAppRecord,
  listAppRecords,
  writeAppRecords,
} from './app-records.js';
import type { AuditEntry, AuditReport } from './audit.js';
import { readAuditPage } from './audit-pages.js';
import { openRecord } from './barrier.js';
import {
  dangerouslyExportKeyMaterial,
  dangerouslyImportKeyMaterial,
  type ExportedKey,
  type ExportFilter,
  type ImportMode,
} from './dangerous-material.js';
import { type SignDigestOptions, signDigest } from './digest-sign.js';
import type { ImportKeySpec, TrustAnchorSpec } from './imported.js';
import { KeyManager, MAX_CREATE_BATCH } from './key-manager.js';
import { listKeysPage } from './key-pages.js';
import {
  addSlot,
  changePassphraseSlot,
  listSlots,
  type ProtectorInfo,
  type RemovedProtector,
  removeSlot,
  type StoreHeader,
} from './keyslots.js';
import { type OpenOptions, openStore, unlockStore } from './keystore-open.js';
import { effectiveKey } from './lifecycle.js';
import * as ops from './operations.js';
import { exportPublicKey, type PublicKeyFormat } from './public-key.js';
import { type ResidentKeys, signDigestWithResidentKey, signWithResidentKey } from './resident.js';
import type { Session } from './session.js';
import * as streams from './stream-seal.js';
import type {
  AuditPage,
  AuditPageRequest,
  KeyOperations,
  KeyPage,
  KeyPageRequest,
  SignatureCheck,
} from './surface.js';
import { type CreateKeySpec, type KeyInfo, LIMITS } from './types.js';
import { rewrap as rewrapAny, unseal as unsealAny } from './unseal.js';

export type { OpenOptions };
export { MAX_CREATE_BATCH };

export class Keystore implements KeyOperations {
  #session: Session;
  #header: StoreHeader;
  #resident: ResidentKeys;
  #keys: KeyManager;
  #closed = false;
  #upgrade = false;

  private constructor(session: Session, header: StoreHeader, resident: ResidentKeys) {
    this.#session = session;
    this.#header = header;
    this.#resident = resident;
    this.#keys = new KeyManager(() => this.#open(), resident);
  }

  static async open(options: OpenOptions): Promise<Keystore> {
    const { session, header, resident } = await openStore(options);
    const ks = new Keystore(session, header, resident);
    ks.#upgrade = options.upgrade === true;
    return ks;
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

  /** Unlocks with any one keyslot; a wrong passphrase is ELOCKED and changes nothing. */
  async unlock(protector: ProtectorConfig, slotId?: string): Promise<void> {
    return this.#unlock(protector, slotId, undefined);
  }

  async #unlock(
    protector: ProtectorConfig,
    slotId: string | undefined,
    accept: string | undefined,
  ): Promise<void> {
    const opened = { session: this.#open(), header: this.#header, resident: this.#resident };
    this.#header = await unlockStore(opened, protector, slotId, accept, this.#upgrade);
  }

  /** Wipes the master key and every cached secret and logs out of the token; operations then fail with ELOCKED. */
  async lock(): Promise<void> {
    const s = this.#open();
    // Background sync needs the unlocked keystore: it stops here (the daemon starts it again after its
    // next unlock; a library user calls ks.sync.start()).
    await this.#sync?.close();
    try {
      await s.flushPending();
    } finally {
      s.lock();
      await s.anchor?.close().catch(() => {});
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
    await this.#sync?.close();
    try {
      await s.flushPending();
    } finally {
      s.lock();
      this.#closed = true;
      await s.anchor?.close().catch(() => {});
      await this.#resident.close().catch(() => {});
      await s.storage.close();
    }
  }

  // ---- keys and their lifecycle (key-manager.ts) ------------------------------------------------

  createKey(spec: CreateKeySpec): Promise<KeyInfo> {
    return this.#keys.createKey(spec);
  }

  /** Creates many keys in one durable batch (one fsync for all of them). */
  createKeys(specs: CreateKeySpec[]): Promise<KeyInfo[]> {
    return this.#keys.createKeys(specs);
  }

  getKey(id: string): Promise<KeyInfo> {
    return this.#keys.getKey(id);
  }

  listKeys(filter: { app?: string; purpose?: string } = {}): Promise<KeyInfo[]> {
    return this.#keys.listKeys(filter);
  }

  /** One page of keys and a cursor for the next (src/core/key-pages.ts). */
  async listKeysPage(request: KeyPageRequest = {}): Promise<KeyPage> {
    return listKeysPage(this.#open(), request, effectiveKey);
  }

  rotate(id: string, options: { reason?: string } = {}): Promise<KeyInfo> {
    return this.#keys.rotate(id, options);
  }

  /** Rotates and marks the old version compromised in one write (SPEC §2 emergency rotation). */
  emergencyRotate(id: string, incident: { id?: string; description: string }): Promise<KeyInfo> {
    return this.#keys.emergencyRotate(id, incident);
  }

  activate(id: string): Promise<KeyInfo> {
    return this.#keys.activate(id);
  }

  suspend(id: string, options: { reason?: string } = {}): Promise<KeyInfo> {
    return this.#keys.suspend(id, options);
  }

  resume(id: string): Promise<KeyInfo> {
    return this.#keys.resume(id);
  }

  /** Marks the key (or one version) compromised: every private operation then fails with EKEYREVOKED. */
  revoke(id: string, reason: string, options: { version?: number } = {}): Promise<KeyInfo> {
    return this.#keys.revoke(id, reason, options);
  }

  /** Wipes the key's (or one version's) secret material; metadata and audit trail stay. */
  destroy(id: string, options: { version?: number; reason?: string } = {}): Promise<KeyInfo> {
    return this.#keys.destroy(id, options);
  }

  setMinDecryptionVersion(id: string, version: number): Promise<KeyInfo> {
    return this.#keys.setMinDecryptionVersion(id, version);
  }

  usage(id: string): Promise<Record<string, number>> {
    return this.#keys.usage(id);
  }

  /** Rewrites a usage record that cannot be trusted (SPEC §4.5), audited with the reason. */
  repairUsage(id: string, counts: Record<string, number>, reason: string): Promise<void> {
    return this.#keys.repairUsage(id, counts, reason);
  }

  // ---- operations ---------------------------------------------------------------------------------

  async sign(
    id: string,
    data: Uint8Array,
    options?: { encoding?: ops.SignatureEncoding; context?: Uint8Array },
  ): Promise<{ signature: Uint8Array; version: number }> {
    const s = this.#open();
    if (!this.#keys.knownNotResident(id)) {
      // First sign with this id in this handle: check the message before the metadata read.
      assertBytes('data', data);
      if (data.length > LIMITS.signMessageBytes)
        throw new CofferError('E2BIG', `data is larger than ${LIMITS.signMessageBytes} bytes`);
      const resident = await this.#keys.residentKey(id);
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

  // ---- standard formats: imported keys, trust anchors, digests (SPEC §14.2, §14.15) ----

  /**
   * Imports a private key (PKCS#8, encrypted PKCS#8, SEC 1, OpenSSH, JWK) as a non-exportable key
   * marked `origin: 'imported'`, or as the next version of one (`replaces`).
   */
  importKey(spec: ImportKeySpec, key: KeyInput, options: { passphrase?: string } = {}): Promise<KeyInfo> {
    return this.#keys.importKey(spec, key, options);
  }

  /** Holds a public key for verification only (a trust anchor), or its next version (`replaces`). */
  addTrustAnchor(spec: TrustAnchorSpec, key: KeyInput): Promise<KeyInfo> {
    return this.#keys.addTrustAnchor(spec, key);
  }

  /**
   * Signs a digest the caller computed (SPEC §14.2): ECDSA keys; `recoverable` (secp256k1) gives
   * r ‖ s ‖ v for wallets. The digest's length must be its hash's.
   */
  async signDigest(
    id: string,
    digest: Uint8Array,
    options: SignDigestOptions,
  ): Promise<{ signature: Uint8Array; version: number }> {
    const s = this.#open();
    const resident = await this.#keys.residentKey(id);
    if (resident) return signDigestWithResidentKey(s, this.#resident, resident, digest, options);
    return signDigest(s, id, digest, options);
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
      this.#keys.forget(id);
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

  /** One page of the audit log, checked against the hash chain as it is read (SPEC §8.1). */
  async auditPage(request: AuditPageRequest = {}): Promise<AuditPage> {
    const s = this.#open();
    return readAuditPage(s.storage, s.keys, s.rng, request);
  }

  /** The store-wide generation (for incremental backups). */
  generation(): Promise<number> {
    return this.#open().storage.generation();
  }

  // ---- keychain (SPEC §16) --------------------------------------------------------------------------

  #keychain: Keychain | undefined;

  /** The keychain of items (passwords, notes, syncable keys) kept in this keystore. */
  get keychain(): Keychain {
    this.#open();
    this.#keychain ??= new Keychain(this.#keychainHost());
    return this.#keychain;
  }

  #sync: SyncService | undefined;

  /** The device circle of keychain sync (SPEC §17.9): create, invite, join, approve, remove, recover. */
  get sync(): SyncService {
    this.#open();
    this.#sync ??= new SyncService({
      keychain: this.#keychainHost(),
      keychainSync: () => this.keychain.syncAccess(),
      createKey: (spec) => this.createKey(spec),
      rawPublicKey: async (id) => (await this.publicKey(id, 'raw')) as Uint8Array,
      sign: (id, data) => this.sign(id, data),
      decapsulate: (id, ciphertext) => this.decapsulate(id, ciphertext),
    });
    return this.#sync;
  }

  /** What the keychain may use of this keystore: every call goes to the live session (SPEC §16.1). */
  #keychainHost(): KeychainHost {
    const session = () => this.#open();
    const storeId = Buffer.from(this.#header.id, 'base64url');
    return {
      get storage() {
        return session().storage;
      },
      get rng() {
        return session().rng;
      },
      get actor() {
        return session().actor;
      },
      now: () => session().now(),
      subkey: (info) => hkdf('sha256', session().keys.master, storeId, new TextEncoder().encode(info), 32),
      sealRecord: (key, value) => session().sealRecord(key, value),
      openRecord: (key, bytes) => openRecord(session().keys.barrier, key, bytes),
      commit: (build) => session().commit(build),
      getKey: (id) => this.getKey(id),
    };
  }
}
