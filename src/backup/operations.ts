// The backup operations of the shared surface (CofferOperations.backup, client/surface.ts): a backup
// travels as bytes, so the same call works in this process, through the per-user agent and through
// the daemon (POST /v1/backup, /v1/backup/restore), where no file path of the caller means anything.
// The caller writes the bytes to its file (the CLI: atomically, mode 0600) or reads them from it.
import { Writable } from 'node:stream';
import type { ImportMode } from '../core/dangerous-material.js';
import type { Keystore } from '../core/keystore.js';
import { CofferError } from '../errors.js';
import { type BackupBase, type BackupResult, createBackup } from './create.js';
import { type RestoreReport, restoreBackup } from './restore.js';

/** Largest backup the surface moves in one piece (bigger ones: `createBackup` to a file, directly). */
export const MAX_BACKUP_TRANSFER_BYTES = 64 * 1024 * 1024;

export interface BackupRequest {
  /** Seal the backup to this passphrase (Argon2id, SPEC §11.2)… */
  passphrase?: string;
  /** …or to an X-Wing key: a `coffer1:xwing:…` string, or a key of this keystore. */
  recipient?: string | { keyId: string; version?: number };
  /** Incremental: changes since this store generation, or since the base backup its header describes. */
  since?: number | BackupBase;
  app?: string;
  purpose?: string;
  keyIds?: string[];
}

export interface RestoreRequest {
  /** For a backup sealed to a passphrase; an X-Wing backup is opened with this keystore's key. */
  passphrase?: string;
  /** Default 'fail' for full and selective backups, 'overwrite' for incremental ones (SPEC §11.5). */
  mode?: ImportMode;
}

export interface BackupOperations {
  /** An encrypted backup of the selected keys, as the bytes of a backup file (SPEC §11.1). */
  create(request: BackupRequest): Promise<BackupResult & { backup: Uint8Array }>;
  /** Restores the backup file's bytes: every check first, nothing written if one fails. */
  restore(backup: Uint8Array, options?: RestoreRequest): Promise<RestoreReport>;
}

/** Collects what createBackup writes, bounded. */
class Collector extends Writable {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  override _write(chunk: Uint8Array, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.length += chunk.length;
    if (this.length > MAX_BACKUP_TRANSFER_BYTES) {
      done(
        new CofferError(
          'E2BIG',
          `the backup is larger than ${MAX_BACKUP_TRANSFER_BYTES / 1024 / 1024} MiB: write it to a file directly on the store (createBackup with a path; \`coffer backup create --no-agent\`)`,
        ),
      );
      return;
    }
    this.chunks.push(chunk);
    done();
  }
}

/** The backup operations on a keystore in this process. */
export function backupOperations(ks: Keystore): BackupOperations {
  return {
    async create(request) {
      if (typeof request !== 'object' || request === null)
        throw new CofferError('EINVAL', 'request must be an object');
      const out = new Collector();
      const result = await createBackup(ks, {
        out,
        ...(request.passphrase !== undefined ? { passphrase: request.passphrase } : {}),
        ...(request.recipient !== undefined ? { recipient: request.recipient } : {}),
        ...(request.since !== undefined ? { since: request.since } : {}),
        ...(request.app !== undefined ? { app: request.app } : {}),
        ...(request.purpose !== undefined ? { purpose: request.purpose } : {}),
        ...(request.keyIds !== undefined ? { keyIds: request.keyIds } : {}),
      });
      return { ...result, backup: Buffer.concat(out.chunks) };
    },
    async restore(backup, options = {}) {
      if (!(backup instanceof Uint8Array)) throw new CofferError('EINVAL', 'backup must be bytes');
      return restoreBackup(ks, backup, {
        ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
        ...(options.mode !== undefined ? { mode: options.mode } : {}),
      });
    },
  };
}
