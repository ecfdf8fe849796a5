// Class keys shared between the devices of one circle (SPEC §16.1, §17.9): reading this keychain's
// class keys to send them, installing class keys received from another device (wrapped under this
// device's own class-wrap key, like any other), and switching the keychain's current class key
// (`kc/meta.classKeyId`) when the circle moves to a new epoch. One atomic, audited batch each.
import { base32 } from '../core/encoding.js';
import { CofferError } from '../errors.js';
import type { KeychainHost } from './host.js';
import { ClassKeys, classKeyRecordKey, ensureMeta, META_KEY, readMeta } from './meta.js';

export interface ClassKeyMaterial {
  id: string;
  /** 32 bytes; the caller wipes it. */
  key: Uint8Array;
}

/** This keychain's class keys (meta created if absent), the current one last. */
export async function listClassKeys(host: KeychainHost): Promise<{ ids: string[]; current: string }> {
  const meta = await ensureMeta(host);
  const ids = (await new ClassKeys(host).list())
    .sort((a, b) => a.createdAt - b.createdAt)
    .map((k) => k.id)
    .filter((id) => id !== meta.classKeyId);
  return { ids: [...ids, meta.classKeyId], current: meta.classKeyId };
}

/** The unwrapped class keys named (ENOENT for one this keychain lacks); the caller wipes them. */
export async function exportClassKeys(
  host: KeychainHost,
  ids: readonly string[],
): Promise<ClassKeyMaterial[]> {
  const classKeys = new ClassKeys(host);
  const out: ClassKeyMaterial[] = [];
  for (const id of ids) {
    if (!(await host.storage.get(classKeyRecordKey(id))))
      throw new CofferError('ENOENT', `this keychain lacks class key ${id}`);
    out.push({ id, key: await classKeys.unwrap(id) });
  }
  return out;
}

/** A fresh random class key (SPEC §16.1), not yet stored. */
export function newClassKey(host: KeychainHost): ClassKeyMaterial {
  return { id: `ck_${base32(host.rng.randomBytes(10))}`, key: host.rng.randomBytes(32) };
}

/**
 * Stores the class keys this keychain lacks and, with `current`, makes that id the keychain's current
 * class key (new items are wrapped under it). Keys already present are left as they are.
 */
export async function installClassKeys(
  host: KeychainHost,
  keys: readonly ClassKeyMaterial[],
  current?: string,
): Promise<{ installed: string[] }> {
  const meta = await ensureMeta(host);
  const missing = [];
  for (const { id } of keys) if (!(await host.storage.get(classKeyRecordKey(id)))) missing.push(id);
  if (missing.length === 0 && (current === undefined || meta.classKeyId === current))
    return { installed: [] };
  const classKeys = new ClassKeys(host);
  return host.commit(async () => {
    const installed: string[] = [];
    const ops = [];
    for (const { id, key } of keys) {
      if (await host.storage.get(classKeyRecordKey(id))) continue;
      ops.push({
        op: 'put' as const,
        key: classKeyRecordKey(id),
        value: classKeys.sealForStore(id, host.now(), key),
        expectRevision: 0,
      });
      installed.push(id);
    }
    const read = await readMeta(host);
    if (!read) throw new CofferError('EINTERNAL', 'keychain meta vanished');
    const switching = current !== undefined && read.meta.classKeyId !== current;
    // A racing process may have done it all already: the rewrite of meta keeps the batch non-empty.
    if (switching || ops.length === 0) {
      if (
        current !== undefined &&
        switching &&
        !installed.includes(current) &&
        !(await host.storage.get(classKeyRecordKey(current)))
      )
        throw new CofferError('ENOENT', `cannot make ${current} current: this keychain lacks it`);
      ops.push({
        op: 'put' as const,
        key: META_KEY,
        value: host.sealRecord(META_KEY, {
          ...read.meta,
          classKeyId: switching ? current : read.meta.classKeyId,
        }),
        expectRevision: read.revision,
      });
    }
    const events = [];
    if (installed.length > 0)
      events.push({ event: 'keychain.class-keys.install', details: { ids: installed } });
    if (switching) events.push({ event: 'keychain.class-key.current', details: { classKeyId: current } });
    return { ops, events, result: { installed } };
  });
}
