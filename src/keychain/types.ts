// The keychain's public shapes (SPEC §16): item kinds, attributes, ItemInfo / Item as the library,
// daemon, client and CLI return them, and the bounds every input is checked against.

export const ITEM_KINDS = ['generic-password', 'internet-password', 'note', 'key'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

/** Fields `find` can look up through the blind index (SPEC §16.5). */
export const INDEXED_FIELDS = ['service', 'server', 'account', 'label', 'kind'] as const;
export type IndexedField = (typeof INDEXED_FIELDS)[number];

/** Attributes of an item; which ones a kind needs is in validate.ts. All of them are encrypted. */
export interface ItemAttributes {
  label?: string;
  comment?: string;
  /** generic-password: the service (an app's name, a host, anything). */
  service?: string;
  account?: string;
  /** internet-password: host name. */
  server?: string;
  protocol?: string;
  port?: number;
  path?: string;
  /** kind `key`: the Coffer key (created `syncable: true`) this item stands for. */
  keyId?: string;
  /** Free-form fields (e.g. a TOTP seed or a security question from an import). */
  custom?: Record<string, string>;
}

/** What an update may change: an attribute set to null is removed (custom fields too). */
export interface ItemAttributesPatch {
  label?: string | null;
  comment?: string | null;
  service?: string | null;
  account?: string | null;
  server?: string | null;
  protocol?: string | null;
  port?: number | null;
  path?: string | null;
  custom?: Record<string, string | null>;
}

export interface AddItemSpec {
  kind: ItemKind;
  attributes: ItemAttributes;
  /** The password or note text (bytes; a string is taken as UTF-8). Absent for kind `key`. */
  secret?: Uint8Array | string;
  /** False: this device only, never synced (default true). */
  sync?: boolean;
  /** Access group: the app whose tokens may use the item (`[a-z0-9][a-z0-9._-]{0,63}`, default `default`). */
  group?: string;
}

export interface ItemInfo {
  id: string;
  kind: ItemKind;
  group: string;
  sync: boolean;
  attributes: ItemAttributes;
  version: number;
  createdAt: number;
  modifiedAt: number;
  /** The device that made this version (SPEC §16.2). */
  deviceId: string;
  /** Set on a tombstone (history entries of deletions, `find({ deleted: true })`). */
  deletedAt?: number;
}

export interface Item extends ItemInfo {
  secret: Uint8Array;
}

export interface FindQuery {
  kind?: ItemKind;
  service?: string;
  account?: string;
  server?: string;
  label?: string;
  /** Only this access group. */
  group?: string;
  limit?: number;
  cursor?: string;
}

export interface FindResult {
  items: ItemInfo[];
  cursor?: string;
}

export interface HistoryBound {
  /** Versions kept per item, ≥ 1. */
  count: number;
  /** Bytes of stored records kept per item, ≥ 1 (the newest version is always kept). */
  bytes: number;
}

export const DEFAULT_HISTORY: HistoryBound = { count: 32, bytes: 1 << 20 };

export const ITEM_LIMITS = {
  attributeBytes: 256,
  commentBytes: 4096,
  customFields: 64,
  customValueBytes: 4096,
  secretBytes: 1 << 20,
  findLimit: 1000,
  defaultFindLimit: 100,
  historyCount: 10_000,
  historyBytes: 256 << 20,
} as const;

export const DEFAULT_GROUP = 'default';
