// DANGEROUS: the only code that hands secret key material out of the keystore or takes it in, for
// encrypted backup and restore (SPEC §2: "never exportable except in an encrypted backup"). Every
// caller can be found by grepping for `dangerously`. Callers must encrypt what they receive at once
// and wipe it; nothing here writes plaintext anywhere.
import { CofferError } from '../errors.js';
import type { WriteOp } from '../storage/types.js';
import { openRecord } from './barrier.js';
import { b64 } from './encoding.js';
import { wrapSecret } from './material.js';
import { assertKeyId } from './names.js';
import { idKey, metaKey, type Session, type VersionRecord, versionKey } from './session.js';
import type { KeyInfo } from './types.js';
import { usageKey } from './usage.js';

export interface ExportedVersion {
  version: number;
  /** The version's secret; absent for destroyed versions. Wipe after use. */
  secret?: Uint8Array;
  publicKey?: Uint8Array;
}

export interface ExportedKey {
  info: KeyInfo;
  versions: ExportedVersion[];
  usage: Record<string, number>;
}

export interface ExportFilter {
  app?: string;
  purpose?: string;
  ids?: string[];
  /** Only keys whose records changed after this store generation (incremental backups). */
  sinceGeneration?: number;
}

const META = /^keystore\/([^/]+)\/([^/]+)\/(k_[a-z2-7]{26})\/(meta|v\/\d+)$/;

/** Key ids that match the filter, in storage order. */
async function selectKeys(s: Session, filter: ExportFilter): Promise<string[]> {
  const prefix = `keystore/${filter.app ? `${filter.app}/` : ''}${filter.app && filter.purpose ? `${filter.purpose}/` : ''}`;
  const records =
    filter.sinceGeneration === undefined
      ? await s.storage.list(prefix)
      : (await s.storage.changedSince(filter.sinceGeneration)).filter((r) => r.key.startsWith(prefix));
  const ids: string[] = [];
  const seen = new Set<string>();
  for (const record of records) {
    const match = META.exec(record.key);
    if (!match) continue;
    const [, app, purpose, id] = match;
    if (filter.purpose && purpose !== filter.purpose) continue;
    if (filter.app && app !== filter.app) continue;
    if (filter.ids && !filter.ids.includes(id!)) continue;
    if (!seen.has(id!)) {
      seen.add(id!);
      ids.push(id!);
    }
  }
  return ids;
}

/** Yields keys with their unwrapped secrets, honouring each key's backup policy. */
export async function* dangerouslyExportKeyMaterial(
  s: Session,
  filter: ExportFilter = {},
): AsyncGenerator<ExportedKey> {
  for (const id of filter.ids ?? []) assertKeyId(id);
  for (const id of await selectKeys(s, filter)) {
    const { info } = await s.loadKey(id, true);
    if (info.backupAllowed === false) continue;
    const versions: ExportedVersion[] = [];
    for (const v of info.versions) {
      const key = versionKey(info, v.version);
      const record = await s.storage.get(key);
      if (!record) throw new CofferError('EBADMSG', `version record ${key} is missing`);
      const stored = openRecord<VersionRecord>(s.keys.barrier, key, record.value);
      const publicKey = stored.publicKey ? b64.decode(stored.publicKey) : undefined;
      versions.push({
        version: v.version,
        ...(stored.wrapped ? { secret: Uint8Array.from(await s.secret(info, v.version)) } : {}),
        ...(publicKey ? { publicKey } : {}),
      });
    }
    yield { info: structuredClone(info), versions, usage: await s.usage.read(id) };
  }
}

export type ImportMode = 'fail' | 'skip-existing' | 'overwrite';

/**
 * Writes keys (with their ids, versions and states) into this store, wrapping each secret under this
 * store's key-wrap key. Returns which ids were restored and which skipped; one atomic batch.
 */
export async function dangerouslyImportKeyMaterial(
  s: Session,
  keys: ExportedKey[],
  mode: ImportMode,
): Promise<{ restored: string[]; skipped: string[] }> {
  return s.commit(async () => {
    const ops: WriteOp[] = [];
    const restored: string[] = [];
    const skipped: string[] = [];
    for (const { info, versions, usage } of keys) {
      assertKeyId(info.id);
      const existingIndex = await s.storage.get(idKey(info.id));
      if (existingIndex && mode === 'skip-existing') {
        skipped.push(info.id);
        continue;
      }
      if (existingIndex && mode === 'fail')
        throw new CofferError('EALREADY', `key ${info.id} already exists`);
      const metaRecord = await s.storage.get(metaKey(info));
      if (existingIndex && !metaRecord) {
        throw new CofferError('ECONFLICT', `key ${info.id} exists under another app or purpose`);
      }
      ops.push({
        op: 'put',
        key: metaKey(info),
        value: s.sealRecord(metaKey(info), info),
        expectRevision: metaRecord?.revision ?? 0,
      });
      if (!existingIndex) {
        ops.push({
          op: 'put',
          key: idKey(info.id),
          value: s.sealRecord(idKey(info.id), { app: info.app, purpose: info.purpose }),
          expectRevision: 0,
        });
      }
      for (const v of versions) {
        const key = versionKey(info, v.version);
        const current = await s.storage.get(key);
        const record: VersionRecord & { destroyed?: boolean } = v.secret
          ? {
              version: v.version,
              wrapped: b64.encode(
                wrapSecret(
                  s.keys.keyWrap,
                  v.secret,
                  {
                    app: info.app,
                    purpose: info.purpose,
                    keyId: info.id,
                    version: v.version,
                    algorithm: info.algorithm,
                  },
                  s.rng,
                ),
              ),
              ...(v.publicKey ? { publicKey: b64.encode(v.publicKey) } : {}),
            }
          : info.origin === 'trust-anchor' && v.publicKey
            ? // A trust anchor's versions never had a secret: public key only, not destroyed.
              { version: v.version, publicKey: b64.encode(v.publicKey) }
            : {
                version: v.version,
                destroyed: true,
                ...(v.publicKey ? { publicKey: b64.encode(v.publicKey) } : {}),
              };
        ops.push({
          op: 'put',
          key,
          value: s.sealRecord(key, record),
          expectRevision: current?.revision ?? 0,
        });
      }
      // Usage counts travel with the key so max-uses rotation policies keep counting where they were.
      const usageRecord = await s.storage.get(usageKey(info.id));
      ops.push({
        op: 'put',
        key: usageKey(info.id),
        value: s.sealRecord(usageKey(info.id), { counts: { ...usage } }),
        expectRevision: usageRecord?.revision ?? 0,
      });
      restored.push(info.id);
    }
    return {
      ops,
      events: restored.map((id) => ({ event: 'key.restore', keyId: id, details: { mode } })),
      result: { restored, skipped },
    };
  });
}
