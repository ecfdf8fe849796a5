// The keychain operations of the shared surface (CofferOperations.keychain, client/surface.ts): the
// Keychain implements them on a keystore in this process, the client's `keychain` namespace over the
// daemon's /v1/items routes. Types only.
import type { ImportReport, ImportRequest } from './import/import.js';
import type {
  AddItemSpec,
  FindQuery,
  FindResult,
  HistoryBound,
  Item,
  ItemAttributesPatch,
  ItemInfo,
} from './types.js';

export interface KeychainOperations {
  add(spec: AddItemSpec): Promise<ItemInfo>;
  /** The item with its secret. */
  get(id: string): Promise<Item>;
  /** The item without its secret. */
  getInfo(id: string): Promise<ItemInfo>;
  update(
    id: string,
    changes: { attributes?: ItemAttributesPatch; secret?: Uint8Array | string },
    options?: { expectedVersion?: number },
  ): Promise<ItemInfo>;
  delete(id: string, options?: { expectedVersion?: number }): Promise<ItemInfo>;
  undelete(id: string): Promise<ItemInfo>;
  /** Earlier versions with their secrets, newest first. */
  history(id: string): Promise<Item[]>;
  find(query?: FindQuery): Promise<FindResult>;
  import(request: ImportRequest): Promise<ImportReport>;
  /** Versions and bytes of history kept per item (keystore-wide, SPEC §16.4). */
  historyBound(): Promise<HistoryBound>;
  /** Sets it; a count or byte bound of zero is EINVAL (history is never switched off). */
  setHistoryBound(bound: HistoryBound): Promise<HistoryBound>;
}
