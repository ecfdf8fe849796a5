// Encrypted backup and restore (SPEC §2 "back up encrypted", SPEC §11): the public surface.
export {
  type BackupProgress,
  type BackupResult,
  type CreateBackupOptions,
  createBackup,
  type RecipientOption,
} from './create.js';
export type { BackupKind, BackupSelection } from './format.js';
export { type BackupInfo, inspectBackup } from './inspect.js';
export { type RestoreFailure, type RestoreOptions, type RestoreReport, restoreBackup } from './restore.js';
