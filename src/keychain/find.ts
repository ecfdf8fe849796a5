// `find` (SPEC §16.5, §16.6): one index range is scanned in key order — the entries of the most
// selective field the query names, or every item — and each candidate is decrypted and re-checked
// against the whole query before it is returned, so the index can only ever hide, never mislead.
import { CofferError } from '../errors.js';
import type { Storage } from '../storage/types.js';
import { indexPrefix, indexTag, normalise } from './blind-index.js';
import { toInfo } from './body.js';
import { decodeCursor, encodeCursor, queryHash } from './cursor.js';
import { type CurrentRecord, type ItemBody, type ParsedRecord, parseRecord } from './record.js';
import type { FindQuery, FindResult, IndexedField, ItemInfo } from './types.js';
import { validateFind } from './validate.js';

/** Restricts a find to some access groups (a daemon token's apps); undefined: all groups. */
export interface FindScope {
  groups?: readonly string[];
}

interface Reader {
  readCurrent(id: string): Promise<CurrentRecord>;
  decrypt(parsed: ParsedRecord): Promise<ItemBody>;
}

const LOOKUP_ORDER: IndexedField[] = ['service', 'server', 'account', 'label', 'kind'];
/** Index entries read per storage call while a page fills. */
const SCAN_PAGE = 256;

function matches(body: ItemBody, query: FindQuery, scope: FindScope | undefined): boolean {
  if (query.kind !== undefined && body.kind !== query.kind) return false;
  if (query.group !== undefined && body.group !== query.group) return false;
  if (scope?.groups && !scope.groups.includes('*') && !scope.groups.includes(body.group)) return false;
  for (const field of ['service', 'server', 'account', 'label'] as const) {
    const wanted = query[field];
    if (wanted === undefined) continue;
    const value = body.attributes[field];
    if (typeof value !== 'string' || normalise(field, value) !== normalise(field, wanted)) return false;
  }
  return true;
}

export async function findItems(
  reader: Reader,
  storage: Storage,
  indexKey: Uint8Array,
  rawQuery: FindQuery,
  scope: FindScope | undefined,
): Promise<FindResult> {
  const query = validateFind(rawQuery);
  const normalised: Record<string, unknown> = { group: query.group, kind: query.kind };
  for (const field of ['service', 'server', 'account', 'label'] as const) {
    if (query[field] !== undefined) normalised[field] = normalise(field, query[field] as string);
  }
  const q = queryHash(indexKey, normalised);
  const lookup = LOOKUP_ORDER.find((field) => query[field] !== undefined);
  const prefix = lookup ? indexPrefix(lookup, indexTag(indexKey, lookup, query[lookup] as string)) : 'kc/i/';
  let after = query.cursor !== undefined ? decodeCursor(indexKey, q, query.cursor) : undefined;
  if (after !== undefined && !after.startsWith(prefix))
    throw new CofferError('EINVAL', 'cursor is not one this keychain returned for this query');
  const items: ItemInfo[] = [];
  for (;;) {
    const page = await storage.list(prefix, { ...(after !== undefined ? { after } : {}), limit: SCAN_PAGE });
    for (const entry of page) {
      after = entry.key;
      const uuid = entry.key.slice(prefix.length);
      let parsed: ParsedRecord;
      if (lookup) {
        const current = await reader.readCurrent(uuid).catch((error: unknown) => {
          // A stale entry (its item gone) hides nothing and names nothing: skip it.
          if (error instanceof CofferError && error.code === 'ENOENT') return undefined;
          throw error;
        });
        if (!current) continue;
        parsed = current.parsed;
      } else {
        parsed = parseRecord(entry.value);
        if (parsed.header.uuid !== uuid)
          throw new CofferError('EBADMSG', `item record ${entry.key} holds another item (moved)`);
      }
      if (parsed.header.tomb !== undefined) continue;
      const body = await reader.decrypt(parsed);
      if (!matches(body, query, scope)) continue;
      items.push(toInfo(parsed.header, body));
      if (items.length === query.limit) return { items, cursor: encodeCursor(indexKey, q, entry.key) };
    }
    if (page.length < SCAN_PAGE) return { items };
  }
}
