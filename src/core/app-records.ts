// Sealed records for the layers built on the keystore (daemon tokens, scheduler state, sync): stored
// under `ext/<namespace>/…` inside the record barrier (SPEC §4), so they are authenticated and bound to
// their record key like every other record, and readable only while the keystore is unlocked.
import { CofferError } from '../errors.js';
import type { WriteOp } from '../storage/types.js';
import { openRecord } from './barrier.js';
import type { Session } from './session.js';

const SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;

export function extKey(namespace: string, name: string): string {
  if (!SEGMENT.test(namespace))
    throw new CofferError('EINVAL', 'record namespace must match [A-Za-z0-9._-]{1,128}');
  const parts = name.split('/');
  if (parts.length > 8 || !parts.every((p) => SEGMENT.test(p) && p !== '.' && p !== '..')) {
    throw new CofferError('EINVAL', 'record name must be up to 8 segments of [A-Za-z0-9._-]');
  }
  return `ext/${namespace}/${name}`;
}

export interface AppRecord<T> {
  name: string;
  value: T;
  revision: number;
}

export async function getAppRecord<T>(
  s: Session,
  namespace: string,
  name: string,
): Promise<AppRecord<T> | undefined> {
  const key = extKey(namespace, name);
  const record = await s.storage.get(key);
  if (!record) return undefined;
  return { name, value: openRecord<T>(s.keys.barrier, key, record.value), revision: record.revision };
}

export async function listAppRecords<T>(s: Session, namespace: string, prefix = ''): Promise<AppRecord<T>[]> {
  const base = `ext/${namespace}/`;
  extKey(namespace, 'x');
  const out: AppRecord<T>[] = [];
  for (const record of await s.storage.list(base + prefix)) {
    out.push({
      name: record.key.slice(base.length),
      value: openRecord<T>(s.keys.barrier, record.key, record.value),
      revision: record.revision,
    });
  }
  return out;
}

export interface AppRecordWrite {
  name: string;
  /** undefined deletes the record. */
  value: unknown;
  /** Compare-and-swap: 0 = must not exist; n = must be at revision n. */
  expectRevision?: number;
}

/**
 * Writes records atomically (optionally with audit events in the same batch). A lost compare-and-swap is
 * ECONFLICT for the caller to resolve: these records have no generic merge.
 */
export async function writeAppRecords(
  s: Session,
  namespace: string,
  writes: AppRecordWrite[],
  events: { event: string; keyId?: string; details?: Record<string, unknown> }[] = [],
): Promise<number> {
  const ops: WriteOp[] = writes.map((w) => {
    const key = extKey(namespace, w.name);
    const condition = w.expectRevision === undefined ? {} : { expectRevision: w.expectRevision };
    return w.value === undefined
      ? { op: 'delete', key, ...condition }
      : { op: 'put', key, value: s.sealRecord(key, w.value), ...condition };
  });
  const at = s.now();
  const auditOps = await s.audit.prepareAppend(events.map((e) => ({ ...e, actor: s.actor, at })));
  const generation = await s.storage.write([...ops, ...auditOps]);
  // A change recorded in the audit log is sealed before it returns (SPEC §4.2).
  if (events.length > 0) await s.anchor?.seal();
  return generation;
}
