// Keyslots (SPEC §5): the master key wrapped by one or more protectors, any one of which opens the
// keystore. A slot that fails to open never changes the store; slot records carry a MAC under a key
// derived from the master key, checked after unlock, so edits to their plaintext fields are caught.
// The wrapped master key is bound to the store and the slot (associated data), so a slot record
// copied into another store or under another id does not open.

import { timingSafeEqual } from 'node:crypto';
import { tracingChannel } from 'node:diagnostics_channel';
import { hmac } from '../crypto/mac.js';
import type { PassphraseKdfParams } from '../crypto/passphrase-kdf.js';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import {
  destroyConfig,
  driverFor,
  holdsPlatformKey,
  openConfig,
  PROTECTOR_TYPES,
  type ProtectorConfig,
  publicConfig,
  slotMatches,
  validateProtectorConfig,
} from '../protect/configs.js';
import type { DeviceKeystore, ProtectorCapabilities } from '../protect/types.js';
import type { Storage, WriteOp } from '../storage/types.js';
import { b64, canonicalJson, textDecoder, textEncoder } from './encoding.js';
import { newSlotId } from './ids.js';
import type { MasterKeys } from './master-key.js';
import type { Session } from './session.js';

export const HEADER_KEY = 'coffer/header';
export const SLOT_PREFIX = 'coffer/slots/';

export interface StoreHeader {
  format: 'coffer-keystore';
  /** 2: with the record tree (SPEC §4.1); 1: written before it, opened only to upgrade (SPEC §4.3). */
  version: 1 | 2;
  id: string;
  createdAt: number;
}

export interface SlotRecord {
  id: string;
  type: ProtectorConfig['type'];
  createdAt: number;
  lastUsedAt: number;
  config: Record<string, unknown>;
  state: Record<string, unknown>;
  capabilities: ProtectorCapabilities;
  wrapped: string;
  mac: string;
}

export interface ProtectorInfo {
  id: string;
  type: string;
  capabilities: ProtectorCapabilities;
  createdAt: number;
  lastUsedAt: number;
  config: Record<string, unknown>;
  /** False when the slot record failed its MAC check: it is never used. */
  intact: boolean;
}

/** SPEC §5: `coffer:keyslot:v1|store=<keystore id>|slot=<slot id>|type=<type>`. */
export function slotAad(storeId: string, id: string, type: string): Uint8Array {
  return textEncoder.encode(`coffer:keyslot:v1|store=${storeId}|slot=${id}|type=${type}`);
}

function slotMac(keys: MasterKeys, header: StoreHeader, slot: Omit<SlotRecord, 'mac'>): string {
  return b64.encode(hmac('sha256', keys.slotMac, textEncoder.encode(canonicalJson({ header, slot }))));
}

export function encodeJson(value: unknown): Uint8Array {
  return textEncoder.encode(JSON.stringify(value));
}

/** Parses a plaintext record (header, slot); anything malformed is EBADMSG. */
export function decodeJson<T>(bytes: Uint8Array, what: string): T {
  try {
    const value = JSON.parse(textDecoder.decode(bytes));
    if (typeof value !== 'object' || value === null) throw new Error('not an object');
    return value as T;
  } catch {
    throw new CofferError('EBADMSG', `${what} is not valid JSON (corrupted)`);
  }
}

export function parseHeader(bytes: Uint8Array): StoreHeader {
  const header = decodeJson<StoreHeader>(bytes, 'keystore header');
  if (
    header.format !== 'coffer-keystore' ||
    (header.version !== 1 && header.version !== 2) ||
    typeof header.id !== 'string'
  ) {
    throw new CofferError('EBADMSG', 'keystore header is not a Coffer keystore header of a known version');
  }
  return header;
}

/**
 * The store's header, read without unlocking: what the edges use to tell "no keystore here" from a
 * locked one and to show the keystore id. `undefined` when the store holds no keystore.
 */
export async function readStoreHeader(storage: Storage): Promise<StoreHeader | undefined> {
  const record = await storage.get(HEADER_KEY);
  return record === undefined ? undefined : parseHeader(record.value);
}

/**
 * Creates a slot for `config` that wraps the master key; returns the record and the put op. If
 * anything fails after the driver made its platform key, that key is deleted again: a keyring entry
 * or token key left behind would make the next attempt under the same names fail with EALREADY.
 */
export async function createSlot(
  keys: MasterKeys,
  header: StoreHeader,
  config: ProtectorConfig,
  rng: Rng,
  now: number,
): Promise<{ slot: SlotRecord; op: WriteOp }> {
  const id = newSlotId(rng);
  const driver = await driverFor(config.type);
  const { device, state } = await driver.create(config, { slotId: id });
  let made = false;
  try {
    const wrapped = await device.encrypt(keys.master, slotAad(header.id, id, config.type));
    const body: Omit<SlotRecord, 'mac'> = {
      id,
      type: config.type,
      createdAt: now,
      lastUsedAt: now,
      config: publicConfig(config),
      state,
      capabilities: device.capabilities(),
      wrapped: b64.encode(wrapped),
    };
    const slot: SlotRecord = { ...body, mac: slotMac(keys, header, body) };
    made = true;
    return { slot, op: { op: 'put', key: SLOT_PREFIX + id, value: encodeJson(slot), expectRevision: 0 } };
  } finally {
    await device.close?.();
    if (!made) await driver.destroy?.(config, state, { slotId: id }).catch(() => {});
  }
}

/** Deletes the platform key of a slot that was made but never stored (its write failed). */
export async function discardSlot(slot: SlotRecord, config: ProtectorConfig): Promise<void> {
  const driver = await driverFor(slot.type);
  await driver.destroy?.(config, slot.state, { slotId: slot.id }).catch(() => {});
}

export interface StoredSlot {
  slot: SlotRecord;
  revision: number;
}

export async function readSlots(storage: Storage): Promise<{ slots: StoredSlot[]; broken: string[] }> {
  const slots: StoredSlot[] = [];
  const broken: string[] = [];
  for (const record of await storage.list(SLOT_PREFIX)) {
    try {
      const slot = decodeJson<SlotRecord>(record.value, `keyslot ${record.key}`);
      const known = (PROTECTOR_TYPES as readonly string[]).includes(slot.type);
      if (
        SLOT_PREFIX + slot.id !== record.key ||
        !known ||
        typeof slot.wrapped !== 'string' ||
        typeof slot.config !== 'object' ||
        slot.config === null ||
        typeof slot.state !== 'object' ||
        slot.state === null
      ) {
        throw new CofferError('EBADMSG', 'bad slot');
      }
      slots.push({ slot, revision: record.revision });
    } catch {
      broken.push(record.key);
    }
  }
  return { slots, broken };
}

async function decryptMaster(
  device: DeviceKeystore,
  header: StoreHeader,
  slot: SlotRecord,
): Promise<Uint8Array> {
  return device.decrypt(b64.decode(slot.wrapped), slotAad(header.id, slot.id, slot.type));
}

/** What subscribers of {@link protectorUnlockChannel} are handed about one keyslot's unlock. */
export interface ProtectorUnlockContext {
  type: ProtectorConfig['type'];
  slotId: string;
}

/**
 * `coffer:protector.unlock`: one traced call per keyslot tried at unlock (the driver's open — the KDF,
 * the TPM or token round trips — and the master key's unwrap), so an APM tool or a benchmark can tell
 * custody time from the store's own work (docs/protectors.md). Costs nothing without subscribers.
 */
export const protectorUnlockChannel = tracingChannel<unknown, ProtectorUnlockContext>(
  'coffer:protector.unlock',
);

/**
 * Opens the master key with `config`: tries each slot of that type that matches it. A wrong passphrase
 * is ELOCKED; a protector that is gone keeps its own code (EUNAVAIL, ENOENT). Nothing is written.
 */
export async function unlockWith(
  storage: Storage,
  header: StoreHeader,
  config: ProtectorConfig,
  slotId?: string,
): Promise<{ master: Uint8Array; slot: StoredSlot }> {
  const { slots, broken } = await readSlots(storage);
  const candidates = slots.filter(
    ({ slot }) =>
      slot.type === config.type &&
      (slotId === undefined ? slotMatches(config, slot.config) : slot.id === slotId),
  );
  if (candidates.length === 0) {
    if (broken.length > 0)
      throw new CofferError('EBADMSG', `keyslot records are corrupted: ${broken.join(', ')}`);
    throw new CofferError(
      'ENOENT',
      `this keystore has no ${config.type} keyslot${slotId ? ` ${slotId}` : ''} matching the given protector`,
    );
  }
  const driver = await driverFor(config.type);
  let failure: unknown;
  for (const candidate of candidates) {
    let device: DeviceKeystore | undefined;
    try {
      const master = await protectorUnlockChannel.tracePromise(
        async () => {
          device = await driver.open(openConfig(config, candidate.slot.config), candidate.slot.state, {
            slotId: candidate.slot.id,
          });
          return decryptMaster(device, header, candidate.slot);
        },
        { type: config.type, slotId: candidate.slot.id },
      );
      return { master, slot: candidate };
    } catch (caught) {
      // A stored state the driver refuses (EINVAL) was valid when we wrote it: it was altered.
      const error =
        caught instanceof CofferError && caught.code === 'EINVAL'
          ? new CofferError(
              'EBADMSG',
              `keyslot ${candidate.slot.id} holds a malformed protector state (altered)`,
            )
          : caught;
      failure ??= error;
      if (!(error instanceof CofferError && error.code === 'EBADMSG')) failure = error;
    } finally {
      await device?.close?.();
    }
  }
  if (failure instanceof CofferError && failure.code === 'EBADMSG') {
    throw new CofferError(
      'ELOCKED',
      config.type === 'passphrase'
        ? 'wrong passphrase (or the keyslot was altered)'
        : `the ${config.type} protector could not open its keyslot (its key changed or the slot was altered)`,
    );
  }
  throw failure;
}

export function verifySlot(keys: MasterKeys, header: StoreHeader, slot: SlotRecord): boolean {
  const { mac, ...body } = slot;
  const expected = Buffer.from(slotMac(keys, header, body));
  const given = Buffer.from(String(mac));
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * `lastUsedAt` has a resolution of one hour (SPEC §5): an unlock writes the slot's use (and its
 * `keystore.unlock` audit entry) only when the slot was never used since it was made or its recorded
 * use is at least this old, so unlocking for a read-only command writes nothing to the store.
 */
export const LAST_USED_RESOLUTION_MS = 60 * 60 * 1000;

/** Whether an unlock through `slot` at `now` records the use (see LAST_USED_RESOLUTION_MS). */
export function slotUseToRecord(slot: SlotRecord, now: number): boolean {
  return slot.lastUsedAt === slot.createdAt || now - slot.lastUsedAt >= LAST_USED_RESOLUTION_MS;
}

/** The slot record with a new lastUsedAt (re-MAC'd). */
export function touchedSlot(
  keys: MasterKeys,
  header: StoreHeader,
  slot: SlotRecord,
  now: number,
): SlotRecord {
  const { mac: _old, ...body } = { ...slot, lastUsedAt: now };
  return { ...body, mac: slotMac(keys, header, body) };
}

/**
 * The write that records a slot's use at unlock: read fresh inside the commit, so processes
 * unlocking through the same slot at once each land their write (a lost compare-and-swap re-reads).
 */
export async function touchSlotOp(
  storage: Storage,
  keys: MasterKeys,
  header: StoreHeader,
  slotId: string,
  now: number,
): Promise<WriteOp> {
  const key = SLOT_PREFIX + slotId;
  const record = await storage.get(key);
  if (!record)
    throw new CofferError('ENOENT', `keyslot ${slotId} was removed while the keystore was unlocking`);
  const current = decodeJson<SlotRecord>(record.value, `keyslot ${key}`);
  if (current.id !== slotId || !verifySlot(keys, header, current)) {
    throw new CofferError('EBADMSG', `keyslot ${slotId} or the keystore header was altered`);
  }
  const touched = touchedSlot(keys, header, current, Math.max(now, current.lastUsedAt));
  return { op: 'put', key, value: encodeJson(touched), expectRevision: record.revision };
}

export function slotInfo(slot: SlotRecord, intact: boolean): ProtectorInfo {
  return {
    id: slot.id,
    type: slot.type,
    capabilities: slot.capabilities,
    createdAt: slot.createdAt,
    lastUsedAt: slot.lastUsedAt,
    config: slot.config,
    intact,
  };
}

// ---- keyslot management on an unlocked keystore (Keystore.addProtector & co.) ---------------------

/** A storage failure that leaves unknown whether the batch landed: cleaning up after it could break it. */
export function outcomeUnknown(error: unknown): boolean {
  return error instanceof CofferError && error.code === 'EUNAVAIL';
}

/** What `removeProtector` did (SPEC §5 "Removing a keyslot"). */
export interface RemovedProtector {
  id: string;
  type: string;
  /**
   * The key the protector kept outside the keyslot record: 'none' (passphrase, tpm2: the record was
   * the only copy), 'destroyed' (keyring entry or token key deleted, or already gone), 'kept' (asked
   * for), 'left' (could not be deleted: see `reason`; delete it by hand).
   */
  platformKey: 'none' | 'destroyed' | 'kept' | 'left';
  reason?: string;
}

export async function addSlot(
  s: Session,
  header: StoreHeader,
  config: ProtectorConfig,
): Promise<ProtectorInfo> {
  await validateProtectorConfig(config);
  const { slot, op } = await createSlot(s.keys, header, config, s.rng, s.now());
  try {
    await s.commit(async () => ({
      ops: [op],
      events: [{ event: 'protector.add', details: { slot: slot.id, protector: slot.type } }],
      result: undefined,
    }));
  } catch (error) {
    if (!outcomeUnknown(error)) await discardSlot(slot, config);
    throw error;
  }
  return slotInfo(slot, true);
}

export async function listSlots(s: Session, header: StoreHeader): Promise<ProtectorInfo[]> {
  const keys = s.keys;
  const { slots } = await readSlots(s.storage);
  return slots.map(({ slot }) => slotInfo(slot, verifySlot(keys, header, slot)));
}

const LAST_SLOT = 'refusing to remove the last keyslot: the keystore could never be opened again';

/**
 * Removes a keyslot, never the last one (EPERM), then deletes the key its protector keeps outside
 * the record: the keyring entry (named by the slot's own authenticated record) or the token key
 * (which needs the token PIN: from `options.config`, or from `token`, the token the keystore handle
 * was opened with). A removed slot's platform key would otherwise still open the master key from any
 * old copy of the store. The platform key is deleted after the record is gone, so two concurrent
 * removals can never leave a store without slots; if deleting fails the result says 'left' and why
 * (and the audit log records it), since the slot itself is already gone.
 */
export async function removeSlot(
  s: Session,
  header: StoreHeader,
  slotId: string,
  options: { config?: ProtectorConfig; keepPlatformKey?: boolean },
  token: { module: string; tokenLabel: string; pin: string } | undefined,
): Promise<RemovedProtector> {
  if (typeof slotId !== 'string') throw new CofferError('EINVAL', 'slotId must be a string');
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'options must be an object');
  if (options.keepPlatformKey !== undefined && typeof options.keepPlatformKey !== 'boolean')
    throw new CofferError('EINVAL', 'keepPlatformKey must be a boolean');
  const given = options.config === undefined ? undefined : await validateProtectorConfig(options.config);
  const keys = s.keys;
  const { slots } = await readSlots(s.storage);
  const target = slots.find(({ slot }) => slot.id === slotId);
  if (!target) throw new CofferError('ENOENT', `no keyslot ${slotId}`);
  const type = target.slot.type;
  if (given && (given.type !== type || !slotMatches(given, target.slot.config))) {
    throw new CofferError('EINVAL', `the config given does not name keyslot ${slotId} (a ${type} slot)`);
  }
  if (slots.length === 1) throw new CofferError('EPERM', LAST_SLOT);
  // A record that fails its MAC may name someone else's keyring entry or token key: never delete that.
  const intact = verifySlot(keys, header, target.slot);
  const keep = options.keepPlatformKey === true;
  const holds = holdsPlatformKey(type);
  let destroyWith: ProtectorConfig | undefined;
  if (holds && !keep && intact) {
    destroyWith = destroyConfig(type, target.slot.config, given, token);
    if (destroyWith === undefined) {
      throw new CofferError(
        'EINVAL',
        `removing ${type} keyslot ${slotId} deletes its token key, which needs the token PIN: pass ` +
          "{ config } (the slot's pkcs11 protector config) or { keepPlatformKey: true }",
      );
    }
  }
  const result: RemovedProtector = {
    id: slotId,
    type,
    platformKey: !holds ? 'none' : keep ? 'kept' : intact ? 'destroyed' : 'left',
  };
  if (holds && !keep && !intact) {
    result.reason = 'the keyslot record failed its integrity check, so the key it names was not touched';
  }
  await s.commit(async () => {
    const { slots: current } = await readSlots(s.storage);
    const record = current.find(({ slot }) => slot.id === slotId);
    if (!record) throw new CofferError('ENOENT', `no keyslot ${slotId}`);
    const others = current.filter(({ slot }) => slot.id !== slotId);
    if (others.length === 0) throw new CofferError('EPERM', LAST_SLOT);
    return {
      ops: [
        { op: 'delete', key: SLOT_PREFIX + slotId, expectRevision: record.revision },
        // The count above is re-read on every retry; rewriting the other slots unchanged at their
        // revisions makes two concurrent removals conflict on the slots themselves (not only on the
        // audit head every commit moves), so the retry sees one slot left and refuses.
        ...others.map(({ slot, revision }) => ({
          op: 'put' as const,
          key: SLOT_PREFIX + slot.id,
          value: encodeJson(slot),
          expectRevision: revision,
        })),
      ],
      events: [
        {
          event: 'protector.remove',
          details: { slot: slotId, protector: type, platformKey: result.platformKey },
        },
      ],
      result: undefined,
    };
  });
  if (destroyWith !== undefined) {
    try {
      const driver = await driverFor(type);
      await driver.destroy?.(destroyWith, target.slot.state, { slotId });
    } catch (error) {
      result.platformKey = 'left';
      result.reason =
        error instanceof CofferError ? `${error.code}: ${error.message}` : 'the protector failed';
      await s
        .commit(async () => ({
          ops: [],
          events: [
            {
              event: 'protector.platform-key-left',
              details: { slot: slotId, protector: type, reason: result.reason },
            },
          ],
          result: undefined,
        }))
        .catch(() => {});
    }
  }
  return result;
}

/** New passphrase for a passphrase slot: fresh salt, rewrapped master key; keys are not re-encrypted. */
export async function changePassphraseSlot(
  s: Session,
  header: StoreHeader,
  newPassphrase: string,
  options: { slotId?: string; kdf?: PassphraseKdfParams },
): Promise<ProtectorInfo> {
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'options must be an object');
  const config: ProtectorConfig = {
    type: 'passphrase',
    passphrase: newPassphrase,
    ...(options.kdf ? { kdf: options.kdf } : {}),
  };
  await validateProtectorConfig(config);
  s.keys;
  const { slots } = await readSlots(s.storage);
  const passphraseSlots = slots.filter(
    ({ slot }) => slot.type === 'passphrase' && (options.slotId === undefined || slot.id === options.slotId),
  );
  if (passphraseSlots.length !== 1) {
    throw new CofferError(
      passphraseSlots.length === 0 ? 'ENOENT' : 'EINVAL',
      'name exactly one passphrase keyslot (slotId)',
    );
  }
  const old = passphraseSlots[0]!;
  const { slot, op } = await createSlot(s.keys, header, config, s.rng, s.now());
  await s.commit(async () => ({
    ops: [op, { op: 'delete', key: SLOT_PREFIX + old.slot.id, expectRevision: old.revision }],
    events: [{ event: 'protector.passphrase-change', details: { oldSlot: old.slot.id, slot: slot.id } }],
    result: undefined,
  }));
  return slotInfo(slot, true);
}
