// restoreBackup (SPEC §11.5): verify everything, then write. The checksum, the file key, every
// chunk, the decompressed length and every record are checked, all in memory, before the first
// write; a damaged or forged file (EBADMSG), a missing base (ENOENT) or a clash in 'fail' mode
// (EALREADY) leaves the target store exactly as it was. The restore ends with a `backup.restore` audit
// entry, sealed past the rollback anchor like every change (SPEC §4.2): the restored keys are the
// store's current state from then on, and the copy from before the restore is older than the anchor.
import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';
import type { ExportedKey, ImportMode } from '../core/dangerous-material.js';
import type { Keystore } from '../core/keystore.js';
import { assertKeyId } from '../core/names.js';
import { wipe } from '../crypto/bytes.js';
import { assertPassphrase, type Passphrase } from '../crypto/passphrase-kdf.js';
import { CofferError, type ErrorCode } from '../errors.js';
import { verifyExportedKeychain } from '../keychain/backup.js';
import type { ExportedKeychain } from '../keychain/backup-types.js';
import type { ItemBody } from '../keychain/record.js';
import { MAX_BATCH_OPS } from '../storage/keys.js';
import type { BackupProgress } from './create.js';
import type { BackupHeader, BackupKind } from './format.js';
import { parseBackupBytes, readBackupFile } from './inspect.js';
import { decodePayload } from './payload.js';
import { unwrapWithPassphrase, unwrapWithSharedSecret } from './recipients.js';
import { openChunks, payloadKey } from './stream.js';

const inflateRawAsync = promisify(inflateRaw);
const MODES: readonly ImportMode[] = ['fail', 'skip-existing', 'overwrite'];
/**
 * Storage batches hold at most 10 000 caller ops (SPEC §9.1). A key costs meta + index + usage + audit
 * entry + one op per version; the record tree's nodes are counted apart (SPEC §4.1).
 */
const OPS_PER_BATCH = MAX_BATCH_OPS;

export interface RestoreOptions {
  /** For a backup sealed to a passphrase. */
  passphrase?: Passphrase;
  /**
   * For a backup sealed to an X-Wing key: the keystore holding that key (default: the target) and,
   * optionally, its id (it must be the one the header names).
   */
  identity?: { keyId?: string; keystore?: Keystore };
  /** Default 'fail' for full and selective backups, 'overwrite' for incremental ones (SPEC §11.5). */
  mode?: ImportMode;
  onProgress?: (progress: BackupProgress) => void;
}

export interface RestoreFailure {
  id: string;
  code: ErrorCode;
  message: string;
}

export interface RestoreReport {
  kind: BackupKind;
  backupId: string;
  keyCount: number;
  /** Keychain items in the backup (0 for a version-1 file). */
  itemCount: number;
  mode: ImportMode;
  /** Key ids. */
  restored: string[];
  skipped: string[];
  /** Keys (by key id) and items (by uuid) that were not restored, with why. */
  failed: RestoreFailure[];
  /** Item uuids (SPEC §11.5). */
  restoredItems: string[];
  skippedItems: string[];
}

function isKeystore(value: unknown): value is Keystore {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Keystore).dangerouslyImportKeyMaterial === 'function' &&
    typeof (value as Keystore).listKeys === 'function'
  );
}

function checkOptions(options: RestoreOptions): void {
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'options must be an object');
  if (options.passphrase !== undefined && options.identity !== undefined) {
    throw new CofferError('EINVAL', 'give a passphrase or an identity, not both');
  }
  if (options.passphrase !== undefined) assertPassphrase(options.passphrase);
  if (options.identity !== undefined) {
    const id = options.identity;
    if (typeof id !== 'object' || id === null) throw new CofferError('EINVAL', 'identity must be an object');
    if (id.keyId !== undefined) assertKeyId(id.keyId);
    if (id.keystore !== undefined && !isKeystore(id.keystore)) {
      throw new CofferError('EINVAL', 'identity.keystore must be an open Keystore');
    }
  }
  if (options.mode !== undefined && !MODES.includes(options.mode)) {
    throw new CofferError('EINVAL', `mode must be one of ${MODES.join(', ')}`);
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new CofferError('EINVAL', 'onProgress must be a function');
  }
}

async function openFileKey(ks: Keystore, header: BackupHeader, options: RestoreOptions): Promise<Uint8Array> {
  const wrapped = new Uint8Array(Buffer.from(header.fileKey, 'base64'));
  const r = header.recipient;
  if (r.type === 'passphrase') {
    if (options.passphrase === undefined) {
      throw new CofferError('EINVAL', 'this backup is sealed to a passphrase: pass passphrase');
    }
    return unwrapWithPassphrase(header.backupId, r, wrapped, options.passphrase);
  }
  if (options.passphrase !== undefined) {
    throw new CofferError(
      'EINVAL',
      `this backup is sealed to X-Wing key ${r.keyId} v${r.version}, not a passphrase`,
    );
  }
  if (options.identity?.keyId !== undefined && options.identity.keyId !== r.keyId) {
    throw new CofferError(
      'EINVAL',
      `this backup is sealed to X-Wing key ${r.keyId}, not ${options.identity.keyId}`,
    );
  }
  const keystore = options.identity?.keystore ?? ks;
  let sharedSecret: Uint8Array;
  try {
    sharedSecret = await keystore.decapsulate(r.keyId, new Uint8Array(Buffer.from(r.ciphertext, 'base64')), {
      version: r.version,
    });
  } catch (error) {
    if (error instanceof CofferError && error.code === 'ENOENT') {
      throw new CofferError(
        'ENOENT',
        `this backup is sealed to X-Wing key ${r.keyId} v${r.version}, which the decrypting keystore does not hold ` +
          '(pass identity.keystore: the keystore that has it)',
      );
    }
    throw error;
  }
  try {
    return unwrapWithSharedSecret(header.backupId, r, wrapped, sharedSecret);
  } finally {
    wipe(sharedSecret);
  }
}

/** Decrypts and parses the whole payload; returns it and the keys (secrets are views into it). */
async function decryptPayload(
  ks: Keystore,
  source: string | Uint8Array,
  options: RestoreOptions,
): Promise<{
  header: BackupHeader;
  payload: Uint8Array;
  keys: ExportedKey[];
  keychain?: { data: ExportedKeychain; bodies: Map<string, ItemBody | undefined> };
  requires: string[];
}> {
  const { file, header, preambleLength, body } =
    typeof source === 'string' ? await readBackupFile(source) : parseBackupBytes(source);
  options.onProgress?.({ phase: 'read', done: file.length, total: file.length });
  const fileKey = await openFileKey(ks, header, options);
  const key = payloadKey(fileKey, header.backupId);
  let compressed: Uint8Array | undefined;
  let payload: Uint8Array | undefined;
  try {
    compressed = openChunks(
      key,
      file.subarray(0, preambleLength),
      body,
      header.payload.chunkSize,
      (done, total) => options.onProgress?.({ phase: 'decrypt', done, total }),
    );
    try {
      const inflated = await inflateRawAsync(compressed, { maxOutputLength: header.payload.bytes });
      payload = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
    } catch {
      throw new CofferError('EBADMSG', 'backup payload does not decompress to its stated size');
    }
    if (payload.length !== header.payload.bytes) {
      throw new CofferError('EBADMSG', 'backup payload does not decompress to its stated size');
    }
    const { keys, keychain, end } = decodePayload(payload, header.version);
    if (keys.length !== header.keyCount)
      throw new CofferError('EBADMSG', 'backup key count does not match its header');
    if ((keychain?.items.length ?? 0) !== (header.itemCount ?? 0))
      throw new CofferError('EBADMSG', 'backup item count does not match its header');
    // Every item record is opened under its class key here, before anything is written (SPEC §11.4).
    const items = keychain ? { data: keychain, bodies: verifyExportedKeychain(keychain) } : undefined;
    if (header.kind !== 'incremental' && end.requires.length > 0) {
      throw new CofferError('EBADMSG', 'only an incremental backup may depend on a base');
    }
    return { header, payload, keys, ...(items ? { keychain: items } : {}), requires: end.requires };
  } catch (error) {
    wipe(payload);
    throw error;
  } finally {
    wipe(fileKey, key, compressed);
  }
}

async function itemExists(ks: Keystore, id: string): Promise<boolean> {
  try {
    await ks.keychain.readCurrent(id);
    return true;
  } catch (error) {
    if (error instanceof CofferError && error.code === 'ENOENT') return false;
    throw error;
  }
}

/** Splits keys into batches that fit one storage write each. */
function batches(keys: ExportedKey[]): ExportedKey[][] {
  const out: ExportedKey[][] = [];
  let current: ExportedKey[] = [];
  const fixed = 1; // the audit head
  let ops = fixed;
  for (const key of keys) {
    // dangerouslyImportKeyMaterial writes meta, id index, usage, one record per version, one audit entry.
    const cost = 4 + key.versions.length;
    if (current.length > 0 && ops + cost > OPS_PER_BATCH) {
      out.push(current);
      current = [];
      ops = fixed;
    }
    current.push(key);
    ops += cost;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function failure(id: string, error: unknown): RestoreFailure {
  const e =
    error instanceof CofferError ? error : new CofferError('EINTERNAL', String((error as Error)?.message));
  return { id, code: e.code, message: e.message };
}

/**
 * Restores a backup (a file path, or its bytes) into `ks`: every check first (nothing is written if any fails), then the keys
 * in as few atomic batches as storage allows. Ids, versions, states and public keys are kept.
 */
export async function restoreBackup(
  ks: Keystore,
  source: string | Uint8Array,
  options: RestoreOptions = {},
): Promise<RestoreReport> {
  if (!isKeystore(ks)) throw new CofferError('EINVAL', 'ks must be an open Keystore');
  if (!(source instanceof Uint8Array) && (typeof source !== 'string' || source.length === 0))
    throw new CofferError('EINVAL', 'give a backup file path or the backup bytes');
  checkOptions(options);
  const { header, payload, keys, keychain, requires } = await decryptPayload(ks, source, options);
  try {
    const mode: ImportMode = options.mode ?? (header.kind === 'incremental' ? 'overwrite' : 'fail');
    const existing = new Map((await ks.listKeys()).map((k) => [k.id, `${k.app}/${k.purpose}`]));
    const missing: string[] = [];
    for (const id of requires) {
      if (id.startsWith('k_')) {
        if (!existing.has(id)) missing.push(id);
      } else if (!(await itemExists(ks, id))) missing.push(id);
    }
    if (missing.length > 0) {
      throw new CofferError(
        'ENOENT',
        `incremental backup ${header.backupId} builds on generation ${header.baseGeneration}` +
          `${header.baseBackupId ? ` (backup ${header.baseBackupId})` : ''}: ${missing.length} of the ` +
          `${requires.length} keys and items it needs from its base are not in this store (first: ${missing[0]}); ` +
          'restore the base backup first, then this one',
      );
    }
    const report: RestoreReport = {
      kind: header.kind,
      backupId: header.backupId,
      keyCount: header.keyCount,
      itemCount: header.itemCount ?? 0,
      mode,
      restored: [],
      skipped: [],
      failed: [],
      restoredItems: [],
      skippedItems: [],
    };
    const clashing = keys.filter((k) => existing.has(k.info.id));
    if (mode === 'fail' && clashing.length > 0) {
      throw new CofferError(
        'EALREADY',
        `${clashing.length} key(s) of the backup already exist in this store (first: ${clashing[0]!.info.id}); ` +
          'nothing was restored: use skip-existing or overwrite',
      );
    }
    if (keychain) await ks.keychain.checkItemRestore(keychain.data, mode);
    const todo: ExportedKey[] = [];
    for (const key of keys) {
      const where = existing.get(key.info.id);
      if (where !== undefined && mode === 'skip-existing') report.skipped.push(key.info.id);
      else if (where !== undefined && where !== `${key.info.app}/${key.info.purpose}`) {
        report.failed.push({
          id: key.info.id,
          code: 'ECONFLICT',
          message: `key ${key.info.id} exists here under ${where}, the backup has it under ${key.info.app}/${key.info.purpose}`,
        });
      } else todo.push(key);
    }
    let done = 0;
    for (const batch of batches(todo)) {
      try {
        const result = await ks.dangerouslyImportKeyMaterial(batch, mode);
        report.restored.push(...result.restored);
        report.skipped.push(...result.skipped);
      } catch (error) {
        const code = error instanceof CofferError ? error.code : undefined;
        if (code !== 'EALREADY' && code !== 'ECONFLICT') {
          // Storage trouble: stop here and say exactly which keys did not make it.
          const at = todo.indexOf(batch[0]!);
          for (const key of todo.slice(at)) report.failed.push(failure(key.info.id, error));
          break;
        }
        // Someone else wrote one of these keys meanwhile: isolate it, restore the rest.
        for (const key of batch) {
          try {
            const result = await ks.dangerouslyImportKeyMaterial([key], mode);
            report.restored.push(...result.restored);
            report.skipped.push(...result.skipped);
          } catch (single) {
            report.failed.push(failure(key.info.id, single));
          }
        }
      }
      done += batch.length;
      options.onProgress?.({ phase: 'restore', done, total: todo.length });
    }
    if (keychain) {
      try {
        const items = await ks.keychain.dangerouslyImportItems(keychain.data, keychain.bodies, mode);
        report.restoredItems.push(...items.restored);
        report.skippedItems.push(...items.skipped);
        report.failed.push(...items.failed);
      } catch (error) {
        // Storage trouble, or a writer that raced in: the keys above are in; say which items are not.
        const done = new Set(report.restoredItems);
        for (const item of keychain.data.items)
          if (!done.has(item.uuid)) report.failed.push(failure(item.uuid, error));
      }
    }
    // The explicit, audited end of a restore; appendAudit seals the anchor before it returns.
    await ks.appendAudit([
      {
        event: 'backup.restore',
        details: {
          backupId: header.backupId,
          kind: header.kind,
          mode,
          restored: report.restored.length,
          skipped: report.skipped.length,
          failed: report.failed.length,
          restoredItems: report.restoredItems.length,
          skippedItems: report.skippedItems.length,
        },
      },
    ]);
    return report;
  } finally {
    wipe(payload);
  }
}
