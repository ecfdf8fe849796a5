// The keychain's own state (SPEC §16.1): `kc/meta` (device id, primary class key, history bound)
// and the class keys wrapped under a subkey of the master key. Created together on the first write,
// with compare-and-swap on absence, so two processes racing to create them agree on one.

import { b64, base32, textEncoder } from '../core/encoding.js';
import { openWithKey, sealWithKey } from '../core/master-key.js';
import { wipe } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import type { KeychainHost } from './host.js';
import { DEFAULT_HISTORY, type HistoryBound } from './types.js';

export const META_KEY = 'kc/meta';
export const CLASS_WRAP_INFO = 'coffer:keychain-class-wrap:v1';
export const INDEX_INFO = 'coffer:keychain-index:v1';

export interface KeychainMeta {
  format: 'coffer-keychain';
  version: 1;
  deviceId: string;
  classKeyId: string;
  history: HistoryBound;
}

interface ClassKeyRecord {
  id: string;
  createdAt: number;
  wrapped: string;
}

export function classKeyRecordKey(id: string): string {
  return `kc/classkeys/${id}`;
}

function classKeyAad(id: string): Uint8Array {
  return textEncoder.encode(`coffer:keychain-class-key:v1|id=${id}`);
}

export async function readMeta(
  host: KeychainHost,
): Promise<{ meta: KeychainMeta; revision: number } | undefined> {
  const record = await host.storage.get(META_KEY);
  if (!record) return undefined;
  const meta = host.openRecord<KeychainMeta>(META_KEY, record.value);
  if (meta.format !== 'coffer-keychain' || meta.version !== 1)
    throw new CofferError('EUNAVAIL', 'the keychain was written by a newer Coffer');
  return { meta, revision: record.revision };
}

/** Meta, creating it and the first class key when the keychain is new. */
export async function ensureMeta(host: KeychainHost): Promise<KeychainMeta> {
  for (;;) {
    const existing = await readMeta(host);
    if (existing) return existing.meta;
    const id = `ck_${base32(host.rng.randomBytes(10))}`;
    const meta: KeychainMeta = {
      format: 'coffer-keychain',
      version: 1,
      deviceId: Buffer.from(host.rng.randomBytes(8)).toString('hex'),
      classKeyId: id,
      history: { ...DEFAULT_HISTORY },
    };
    const classKey = host.rng.randomBytes(32);
    const wrapKey = host.subkey(CLASS_WRAP_INFO);
    let wrapped: Uint8Array;
    try {
      wrapped = sealWithKey(wrapKey, classKey, classKeyAad(id), host.rng);
    } finally {
      wipe(classKey, wrapKey);
    }
    const record: ClassKeyRecord = { id, createdAt: host.now(), wrapped: b64.encode(wrapped) };
    try {
      await host.commit(async () => ({
        ops: [
          { op: 'put', key: META_KEY, value: host.sealRecord(META_KEY, meta), expectRevision: 0 },
          {
            op: 'put',
            key: classKeyRecordKey(id),
            value: host.sealRecord(classKeyRecordKey(id), record),
            expectRevision: 0,
          },
        ],
        events: [{ event: 'keychain.create', details: { classKeyId: id, deviceId: meta.deviceId } }],
        result: undefined,
      }));
      return meta;
    } catch (error) {
      // Another process created the keychain first: use its meta.
      if (!(error instanceof CofferError && error.code === 'ECONFLICT')) throw error;
    }
  }
}

/** Class keys by id: the wrapped form is immutable, so it is cached; the key itself never is. */
export class ClassKeys {
  #wrapped = new Map<string, Uint8Array>();

  constructor(readonly host: KeychainHost) {}

  /** Every class key's id and creation time (backups carry them all, SPEC §11.4). */
  async list(): Promise<{ id: string; createdAt: number }[]> {
    const out: { id: string; createdAt: number }[] = [];
    for (const stored of await this.host.storage.list('kc/classkeys/')) {
      const record = this.host.openRecord<ClassKeyRecord>(stored.key, stored.value);
      if (stored.key !== classKeyRecordKey(record.id))
        throw new CofferError('EBADMSG', `record ${stored.key} holds another class key`);
      out.push({ id: record.id, createdAt: record.createdAt });
    }
    return out;
  }

  /** The barrier record that stores `classKey` under this keystore's class-wrap key (SPEC §16.1). */
  sealForStore(id: string, createdAt: number, classKey: Uint8Array): Uint8Array {
    const wrapKey = this.host.subkey(CLASS_WRAP_INFO);
    try {
      const wrapped = sealWithKey(wrapKey, classKey, classKeyAad(id), this.host.rng);
      const record: ClassKeyRecord = { id, createdAt, wrapped: b64.encode(wrapped) };
      return this.host.sealRecord(classKeyRecordKey(id), record);
    } finally {
      wipe(wrapKey);
    }
  }

  /** The unwrapped class key (the caller wipes it); an unknown id is EBADMSG (a record of another keychain). */
  async unwrap(id: string): Promise<Uint8Array> {
    let wrapped = this.#wrapped.get(id);
    if (!wrapped) {
      const key = classKeyRecordKey(id);
      const stored = await this.host.storage.get(key);
      if (!stored)
        throw new CofferError('EBADMSG', `item record names class key ${id}, which this keychain lacks`);
      const record = this.host.openRecord<ClassKeyRecord>(key, stored.value);
      if (record.id !== id) throw new CofferError('EBADMSG', `record ${key} holds another class key`);
      wrapped = b64.decode(record.wrapped);
      this.#wrapped.set(id, wrapped);
    }
    const wrapKey = this.host.subkey(CLASS_WRAP_INFO);
    try {
      return openWithKey(wrapKey, wrapped, classKeyAad(id));
    } finally {
      wipe(wrapKey);
    }
  }
}
