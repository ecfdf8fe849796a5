// Keyslots (SPEC §5): the master key wrapped by one or more protectors, any one of which opens the
// keystore. A slot that fails to open never changes the store; slot records carry a MAC under a key
// derived from the master key, checked after unlock, so edits to their plaintext fields are caught.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import type { DeviceKeystore, ProtectorCapabilities } from '../protect/types.js';
import type { Storage, WriteOp } from '../storage/types.js';
import { b64, canonicalJson, textDecoder, textEncoder } from './encoding.js';
import { newSlotId } from './ids.js';
import type { MasterKeys } from './master-key.js';
import { driverFor, PROTECTOR_TYPES, type ProtectorConfig, publicConfig, slotMatches } from './protectors.js';

export const HEADER_KEY = 'coffer/header';
export const SLOT_PREFIX = 'coffer/slots/';

export interface StoreHeader {
  format: 'coffer-keystore';
  version: 1;
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

function slotAad(id: string, type: string): Uint8Array {
  return textEncoder.encode(`coffer:keyslot:v1|slot=${id}|type=${type}`);
}

function slotMac(keys: MasterKeys, header: StoreHeader, slot: Omit<SlotRecord, 'mac'>): string {
  return createHmac('sha256', keys.slotMac).update(canonicalJson({ header, slot })).digest('base64');
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
  if (header.format !== 'coffer-keystore' || header.version !== 1 || typeof header.id !== 'string') {
    throw new CofferError('EBADMSG', 'keystore header is not a Coffer keystore header of a known version');
  }
  return header;
}

/** Creates a slot for `config` that wraps the master key; returns the record and the put op. */
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
  try {
    const wrapped = await device.encrypt(keys.master, slotAad(id, config.type));
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
    return { slot, op: { op: 'put', key: SLOT_PREFIX + id, value: encodeJson(slot), expectRevision: 0 } };
  } finally {
    await device.close?.();
  }
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
        typeof slot.config !== 'object'
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

async function decryptMaster(device: DeviceKeystore, slot: SlotRecord): Promise<Uint8Array> {
  return device.decrypt(b64.decode(slot.wrapped), slotAad(slot.id, slot.type));
}

/**
 * Opens the master key with `config`: tries each slot of that type that matches it. A wrong passphrase
 * is ELOCKED; a protector that is gone keeps its own code (EUNAVAIL, ENOENT). Nothing is written.
 */
export async function unlockWith(
  storage: Storage,
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
      device = await driver.open(config, candidate.slot.state, { slotId: candidate.slot.id });
      return { master: await decryptMaster(device, candidate.slot), slot: candidate };
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
