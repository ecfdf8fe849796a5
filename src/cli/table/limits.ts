// The size limits the help text states (docs/cli.md "Limits"), from the library's own bounds.
// src/cli/table.test.ts checks the backup figure against backup/operations.ts, which is too heavy
// to load for `--help`.
import { LIMITS } from '../../core/types.js';

const MiB = 1024 * 1024;

/** "16 MiB", "1 MiB", "64 KiB", or bytes. */
export function formatSize(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

export const SIGN_LIMIT = LIMITS.signMessageBytes;
export const SEAL_LIMIT = LIMITS.sealPayloadBytes;
/** What mac / verify-mac take per call (the seal bound). */
export const MAC_LIMIT = LIMITS.sealPayloadBytes;
/** Backups move as one piece through the agent and the daemon (backup/operations.ts). */
export const BACKUP_LIMIT = 64 * MiB;
