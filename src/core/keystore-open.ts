import { type Rng, systemRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { type AnchorConfig, validateAnchorConfig } from '../protect/anchor.js';
import { type ProtectorConfig, validateProtectorConfig } from '../protect/configs.js';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';
import { AnchorGuard } from './anchors.js';
import { b64url } from './encoding.js';
import { MAX_CREATE_BATCH } from './key-manager.js';
import {
  createSlot,
  discardSlot,
  encodeJson,
  HEADER_KEY,
  outcomeUnknown,
  parseHeader,
  SLOT_PREFIX,
  type StoreHeader,
  slotUseToRecord,
  touchSlotOp,
  unlockWith,
  verifySlot,
} from './keyslots.js';
import { MasterKeys } from './master-key.js';
import { assertMetadataString } from './names.js';
import type { KeystoreObserver } from './observer.js';
import type { CryptoOffload } from './offload.js';
import { type Pkcs11TokenConfig, ResidentKeys, validateTokenConfig } from './resident.js';
import { Session } from './session.js';
import { upgradeStore } from './upgrade.js';

export { MAX_CREATE_BATCH };

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
   * A rollback anchor outside the store (SPEC §4.2, docs/protectors.md): a TPM NV counter, a PKCS#11
   * data object, an OS keyring item or a file on other storage. With it, an older copy of the whole
   * store is refused at unlock; without it only mixes of old and new records are detected.
   */
  anchor?: AnchorConfig;
  /**
   * Open a store that the anchor says is older than the last one seen (or whose anchor is gone, behind
   * or interrupted) as the current store: audited with this reason, then sealed (SPEC §4.2).
   */
  acceptRollback?: string;
  /** Upgrade a format-1 store (no record tree) to format 2; without it such a store is refused (SPEC §4.3). */
  upgrade?: boolean;
  /**
   * Runs expensive crypto (ML-DSA, X-Wing, large payloads) off this thread: the daemon passes its
   * worker pool (docs/daemon.md "Worker pool"). Absent: everything runs in the calling thread.
   */
  offload?: CryptoOffload;
  /** Told about failures worth counting, e.g. audit appends (core/observer.ts; the daemon's metrics). */
  observer?: KeystoreObserver;
}

export function validateOpenOptions(options: OpenOptions): void {
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
  if (options.acceptRollback !== undefined) {
    assertMetadataString('acceptRollback', options.acceptRollback);
    if (options.acceptRollback.trim().length === 0)
      throw new CofferError('EINVAL', 'acceptRollback needs a reason');
    if (options.anchor === undefined)
      throw new CofferError('EINVAL', 'acceptRollback is about an anchor: pass the anchor too');
  }
  if (options.upgrade !== undefined && typeof options.upgrade !== 'boolean')
    throw new CofferError('EINVAL', 'upgrade must be a boolean');
}

/** The anchor's view of an open keystore (SPEC §4.2). */
function anchorFor(config: AnchorConfig, session: Session, storeId: string): AnchorGuard {
  return new AnchorGuard(config, {
    storage: session.storage,
    treeKey: () => session.keys.tree,
    storeId,
    now: () => session.now(),
    commitWithAnchors: (events, anchors) =>
      session.commit(async () => ({ ops: [], events, result: undefined }), { seal: false, anchors }),
  });
}

/** The keystore in this process; its operations are the shared surface of core/surface.ts. */

/** What an open keystore holds: its session, its header and its link to a PKCS#11 token. */
export interface OpenedStore {
  session: Session;
  header: StoreHeader;
  resident: ResidentKeys;
}

export async function openStore(options: OpenOptions): Promise<OpenedStore> {
  validateOpenOptions(options);
  await validateProtectorConfig(options.protector);
  const anchor = options.anchor === undefined ? undefined : await validateAnchorConfig(options.anchor);
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
      return await initializeStore(session, options.protector, resident, anchor);
    }
    const header = parseHeader(headerRecord.value);
    if (anchor) session.anchor = anchorFor(anchor, session, header.id);
    const opened = { session, header, resident };
    opened.header = await unlockStore(
      opened,
      options.protector,
      options.slotId,
      options.acceptRollback,
      options.upgrade === true,
    );
    return opened;
  } catch (error) {
    if (typeof options.store === 'string') await storage.close().catch(() => {});
    throw error;
  }
}

async function initializeStore(
  session: Session,
  protector: ProtectorConfig,
  resident: ResidentKeys,
  anchor: AnchorConfig | undefined,
): Promise<OpenedStore> {
  const now = session.now();
  const header: StoreHeader = {
    format: 'coffer-keystore',
    version: 2,
    id: b64url(session.rng.randomBytes(16)),
    createdAt: now,
  };
  const master = session.rng.randomBytes(32);
  const keys = new MasterKeys(master, Buffer.from(header.id, 'base64url'));
  master.fill(0);
  const { slot, op } = await createSlot(keys, header, protector, session.rng, now);
  session.setKeys(keys);
  try {
    // The first batch creates the record tree's root along with the header and the first slot.
    session.storage.allowMissingRoot(true);
    await session.commit(async () => ({
      ops: [{ op: 'put', key: HEADER_KEY, value: encodeJson(header), expectRevision: 0 }, op],
      events: [{ event: 'keystore.create', details: { slot: slot.id, protector: slot.type } }],
      result: undefined,
    }));
  } catch (error) {
    session.lock();
    if (!outcomeUnknown(error)) await discardSlot(slot, protector);
    throw error;
  } finally {
    session.storage.allowMissingRoot(false);
  }
  if (anchor) {
    session.anchor = anchorFor(anchor, session, header.id);
    try {
      await session.anchor.check(undefined, true);
    } catch (error) {
      session.lock();
      await session.anchor.close().catch(() => {});
      throw error;
    }
  }
  if (protector.type === 'pkcs11') await resident.adoptFromProtector(protector);
  return { session, header, resident };
}

export async function unlockStore(
  opened: OpenedStore,
  protector: ProtectorConfig,
  slotId: string | undefined,
  accept: string | undefined,
  upgrade: boolean,
): Promise<StoreHeader> {
  const s = opened.session;
  let header = opened.header;
  await validateProtectorConfig(protector);
  if (slotId !== undefined && typeof slotId !== 'string')
    throw new CofferError('EINVAL', 'slotId must be a string');
  const { master, slot } = await unlockWith(s.raw, header, protector, slotId);
  const keys = new MasterKeys(master, Buffer.from(header.id, 'base64url'));
  master.fill(0);
  if (!verifySlot(keys, header, slot.slot)) {
    keys.wipe();
    throw new CofferError('EBADMSG', `keyslot ${slot.slot.id} or the keystore header was altered`);
  }
  s.setKeys(keys);
  try {
    header = await verifyOpened(s, header, slot.slot.id, accept, upgrade);
  } catch (error) {
    s.lock();
    await s.anchor?.close().catch(() => {});
    throw error;
  }
  // Nothing is written when nothing changed: the slot's use is recorded at most hourly.
  if (slotUseToRecord(slot.slot, s.now())) {
    await s
      .commit(
        async () => ({
          ops: [await touchSlotOp(s.storage, keys, header, slot.slot.id, s.now())],
          events: [{ event: 'keystore.unlock', details: { slot: slot.slot.id, protector: slot.slot.type } }],
          result: undefined,
        }),
        { seal: false },
      )
      .catch((error) => {
        s.lock();
        throw error;
      });
  }
  if (protector.type === 'pkcs11') await opened.resident.adoptFromProtector(protector);
  return header;
}

/**
 * After the master key is known and before anything else is used (SPEC §4.1–4.3): a format-1 store is
 * upgraded only when asked; the header and the keyslot just used must be what the record tree
 * commits to (a removed keyslot copied back in opens nothing); the anchor must agree with the store.
 */
async function verifyOpened(
  s: Session,
  opened: StoreHeader,
  slotId: string,
  accept: string | undefined,
  upgrade: boolean,
): Promise<StoreHeader> {
  let header = opened;
  if (header.version === 1) {
    if (!upgrade) {
      throw new CofferError(
        'EUNAVAIL',
        'this keystore is format 1 (no protection against rolled-back records): open it once with ' +
          '`upgrade: true` (CLI and daemon: COFFER_UPGRADE=1) after stopping every process of an older Coffer (SPEC §4.3)',
      );
    }
    header = await upgradeStore(s, header);
  }
  const stored = await s.storage.get(HEADER_KEY);
  if (!stored || parseHeader(stored.value).id !== header.id)
    throw new CofferError('EBADMSG', 'the keystore header changed while the keystore was unlocking');
  if (!(await s.storage.get(SLOT_PREFIX + slotId)))
    throw new CofferError('ENOENT', `keyslot ${slotId} was removed while the keystore was unlocking`);
  await s.anchor?.check(accept);
  return header;
}
