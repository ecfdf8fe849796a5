// The client's keychain namespace (client/surface.ts CofferOperations.keychain): one method per
// /v1/items route (docs/keychain.md). Secrets travel as base64 in JSON and come back as bytes.
import { CofferError } from '../errors.js';
import type { ImportReport, ImportRequest } from '../keychain/import/import.js';
import type { KeychainOperations } from '../keychain/operations.js';
import type {
  AddItemSpec,
  FindQuery,
  FindResult,
  HistoryBound,
  Item,
  ItemAttributesPatch,
  ItemInfo,
} from '../keychain/types.js';
import { fromBase64, toBase64 } from './bytes.js';
import type { JsonRequest } from './groups.js';
import { followPages } from './pages.js';

function itemPath(id: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 64)
    throw new CofferError('EINVAL', 'item id must be a non-empty string');
  return `/items/${encodeURIComponent(id)}`;
}

function secretJson(secret: Uint8Array | string | undefined): { secret?: string } {
  if (secret === undefined) return {};
  return { secret: toBase64(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret) };
}

type WireItem = Omit<Item, 'secret'> & { secret: string };

function fromWire(item: WireItem): Item {
  return { ...item, secret: fromBase64(item.secret) };
}

export class KeychainClient implements KeychainOperations {
  readonly #json: JsonRequest;
  constructor(json: JsonRequest) {
    this.#json = json;
  }
  add(spec: AddItemSpec): Promise<ItemInfo> {
    return this.#json('POST', '/items', { json: { ...spec, ...secretJson(spec.secret) } });
  }
  async get(id: string): Promise<Item> {
    return fromWire(await this.#json<WireItem>('GET', `${itemPath(id)}/secret`));
  }
  getInfo(id: string): Promise<ItemInfo> {
    return this.#json('GET', itemPath(id));
  }
  update(
    id: string,
    changes: { attributes?: ItemAttributesPatch; secret?: Uint8Array | string },
    options: { expectedVersion?: number } = {},
  ): Promise<ItemInfo> {
    return this.#json('POST', `${itemPath(id)}/update`, {
      json: {
        ...(changes.attributes !== undefined ? { attributes: changes.attributes } : {}),
        ...secretJson(changes.secret),
        ...(options.expectedVersion !== undefined ? { expectedVersion: options.expectedVersion } : {}),
      },
    });
  }
  delete(id: string, options: { expectedVersion?: number } = {}): Promise<ItemInfo> {
    return this.#json('DELETE', itemPath(id), { query: { expectedVersion: options.expectedVersion } });
  }
  undelete(id: string): Promise<ItemInfo> {
    return this.#json('POST', `${itemPath(id)}/undelete`);
  }
  async history(id: string): Promise<Item[]> {
    const { items } = await this.#json<{ items: WireItem[] }>('GET', `${itemPath(id)}/history`);
    return items.map(fromWire);
  }
  find(query: FindQuery = {}): Promise<FindResult> {
    return this.#json('GET', '/items', { query: { ...query } });
  }
  /** Every page of a find in turn, following the cursors (SPEC §16.6); one page in memory at a time. */
  findPages(query: Omit<FindQuery, 'cursor'> = {}): AsyncGenerator<FindResult, void, undefined> {
    return followPages((cursor) => this.find({ ...query, ...cursor }));
  }
  import(request: ImportRequest): Promise<ImportReport> {
    return this.#json('POST', '/items/import', { json: request });
  }
  historyBound(): Promise<HistoryBound> {
    return this.#json('GET', '/keychain/history-bound');
  }
  setHistoryBound(bound: HistoryBound): Promise<HistoryBound> {
    return this.#json('POST', '/keychain/history-bound', { json: { ...bound } });
  }
}
