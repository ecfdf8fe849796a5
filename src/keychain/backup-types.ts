// What a backup carries of the keychain (SPEC §11.4 records 0x03 and 0x04): the class keys in the
// clear (the backup payload is itself encrypted) and every item's records byte for byte, so a
// restore re-wraps only the class keys under the target's master key and never re-encrypts an item.
import type { ErrorCode } from '../errors.js';
import type { HistoryBound } from './types.js';

export interface ExportedClassKey {
  id: string;
  createdAt: number;
  /** The 32 raw bytes; the holder wipes them. */
  key: Uint8Array;
}

export interface ExportedItem {
  uuid: string;
  /** The record at `kc/i/<uuid>` (possibly a tombstone), as stored. */
  current: Uint8Array;
  /** The records at `kc/h/<uuid>/<version>`, ascending by version, as stored. */
  history: { version: number; record: Uint8Array }[];
}

export interface ExportedKeychain {
  /** The source's primary class key (the one new writes use). */
  classKeyId: string;
  history: HistoryBound;
  classKeys: ExportedClassKey[];
  items: ExportedItem[];
}

export interface ItemExportFilter {
  /** Only items of this access group. */
  group?: string;
  /** Only items whose current record was written after this store generation (incremental). */
  sinceGeneration?: number;
}

export interface ItemRestoreResult {
  restored: string[];
  skipped: string[];
  failed: { id: string; code: ErrorCode; message: string }[];
}
