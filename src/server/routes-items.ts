// Keychain routes of the daemon (SPEC §10.2, §16; docs/keychain.md): items under /v1/items. An item's
// access group is an app, so a token reaches it only with that app in scope; an item of another app
// answers exactly like one that does not exist (the router's `owner` check, before any body is read).
// Three token operations split what a caller may do: `item-read` (metadata, find), `item-reveal`
// (secrets: get with secret, history) and `item-write` (add, update, delete, undelete, import).

import { allowsApp } from '../access/tokens.js';
import { CofferError } from '../errors.js';
import { IMPORT_FORMATS } from '../keychain/import/formats.js';
import { assertItemId } from '../keychain/keychain.js';
import { ITEM_KINDS, ITEM_LIMITS, type Item, type ItemInfo } from '../keychain/types.js';
import type { Daemon } from './daemon.js';
import { type Route, route } from './router.js';
import { encodeBase64, type JsonSchema, s } from './schema.js';

const SMALL_BODY = 64 * 1024;
const SECRET_BODY = 2 * ITEM_LIMITS.secretBytes;
const IMPORT_BODY = 40 << 20;
const GROUP = s.string({ maxLength: 64, description: 'access group: an app name' });
const TEXT = s.string({ maxLength: ITEM_LIMITS.attributeBytes });

const ITEM_INFO: JsonSchema = {
  type: 'object',
  description:
    'ItemInfo: id, kind, group, sync, attributes, version, createdAt, modifiedAt, deviceId, deletedAt?',
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: [...ITEM_KINDS] },
    group: { type: 'string' },
    sync: { type: 'boolean' },
    attributes: { type: 'object' },
    version: { type: 'integer' },
    createdAt: { type: 'integer' },
    modifiedAt: { type: 'integer' },
    deviceId: { type: 'string' },
    deletedAt: { type: 'integer' },
  },
};
const ITEM: JsonSchema = {
  ...ITEM_INFO,
  description: 'Item: ItemInfo plus secret (base64)',
  properties: { ...(ITEM_INFO.properties as object), secret: { type: 'string', format: 'byte' } },
};

const attributes = s.object({
  label: s.optional(TEXT),
  comment: s.optional(s.string({ maxLength: ITEM_LIMITS.commentBytes })),
  service: s.optional(TEXT),
  account: s.optional(TEXT),
  server: s.optional(TEXT),
  protocol: s.optional(TEXT),
  port: s.optional(s.integer(0, 65535)),
  path: s.optional(TEXT),
  keyId: s.optional(s.string({ maxLength: 64 })),
  custom: s.optional(
    s.record(s.string({ maxLength: ITEM_LIMITS.customValueBytes }), ITEM_LIMITS.customFields),
  ),
});

/** An attribute patch: like attributes, where null removes (checked fully by the keychain). */
const patchAttributes = {
  json: { type: 'object', description: 'attributes to change; null removes one (custom fields too)' },
  optional: true as const,
  parse(value: unknown): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new CofferError('EINVAL', "'attributes' must be an object");
    return value as Record<string, unknown>;
  },
};

function itemJson(item: Item) {
  return { ...item, secret: encodeBase64(item.secret) };
}

async function itemGroup(daemon: Daemon, id: string): Promise<string | undefined> {
  try {
    assertItemId(id);
    return await daemon.keystore().keychain.groupOf(id);
  } catch (error) {
    if (error instanceof CofferError && (error.code === 'ENOENT' || error.code === 'EINVAL'))
      return undefined;
    throw error;
  }
}

const owner = {
  param: 'id',
  app: itemGroup,
  notFound: (id: string) => new CofferError('ENOENT', `no item ${id.slice(0, 64)}`),
};

const findQuery = s.object({
  kind: s.optional(s.enumOf(ITEM_KINDS)),
  service: s.optional(TEXT),
  account: s.optional(TEXT),
  server: s.optional(TEXT),
  label: s.optional(TEXT),
  group: s.optional(GROUP),
  limit: s.optional(s.integer(1, ITEM_LIMITS.findLimit)),
  cursor: s.optional(s.string({ maxLength: 4096 })),
});

const versionQuery = s.object({ expectedVersion: s.optional(s.integer(1, Number.MAX_SAFE_INTEGER)) });

const HISTORY_BOUND: JsonSchema = {
  type: 'object',
  description: 'HistoryBound: versions (count) and stored bytes kept per item, each ≥ 1',
  properties: { count: { type: 'integer' }, bytes: { type: 'integer' } },
};

export const itemRoutes: Route[] = [
  route({
    method: 'POST',
    path: '/v1/items',
    summary: 'Add an item (the token needs item-write and the access group among its apps)',
    auth: 'token',
    op: 'item-write',
    body: s.object({
      kind: s.enumOf(ITEM_KINDS),
      attributes,
      secret: s.optional(s.bytes(ITEM_LIMITS.secretBytes, 'the password or note text, base64')),
      sync: s.optional(s.boolean()),
      group: s.optional(GROUP),
    }),
    status: 201,
    maxBody: SECRET_BODY,
    response: ITEM_INFO,
    handler: async ({ body, token, daemon }) => {
      const group = body.group ?? 'default';
      if (token && !allowsApp(token, group))
        throw new CofferError('EPERM', `this token may not add items to access group '${group}'`);
      return { json: await daemon.keystore().keychain.add(body) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/items',
    summary:
      "Find items by kind, service, account, server, label (no secrets; a scoped token sees its apps' items)",
    auth: 'token',
    op: 'item-read',
    query: findQuery,
    maxBody: 0,
    response: {
      type: 'object',
      properties: { items: { type: 'array', items: ITEM_INFO }, cursor: { type: 'string' } },
    },
    handler: async ({ query, token, daemon }) => {
      if (query.group !== undefined && token && !allowsApp(token, query.group))
        throw new CofferError('EPERM', `this token may not read items of access group '${query.group}'`);
      const scope = token ? { groups: token.apps } : undefined;
      return { json: await daemon.keystore().keychain.find(query, scope) };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/items/import',
    summary: `Import a password-manager export (${IMPORT_FORMATS.join(', ')}); reports imported and skipped entries`,
    auth: 'token',
    op: 'item-write',
    body: s.object({
      format: s.enumOf(IMPORT_FORMATS),
      data: s.string({ maxLength: 32 << 20 }),
      group: s.optional(GROUP),
      sync: s.optional(s.boolean()),
    }),
    maxBody: IMPORT_BODY,
    response: {
      type: 'object',
      properties: {
        imported: { type: 'array', items: { type: 'object' } },
        skipped: { type: 'array', items: { type: 'object' } },
      },
    },
    handler: async ({ body, token, daemon }) => {
      const group = body.group ?? 'default';
      if (token && !allowsApp(token, group))
        throw new CofferError('EPERM', `this token may not add items to access group '${group}'`);
      return { json: await daemon.keystore().keychain.import(body) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/items/{id}',
    summary: 'Get an item without its secret',
    auth: 'token',
    op: 'item-read',
    owner,
    maxBody: 0,
    response: ITEM_INFO,
    handler: async ({ params, daemon }) => ({
      json: await daemon.keystore().keychain.getInfo(params.id ?? ''),
    }),
  }),
  route({
    method: 'GET',
    path: '/v1/items/{id}/secret',
    summary: 'Get an item with its secret (item-reveal)',
    auth: 'token',
    op: 'item-reveal',
    owner,
    maxBody: 0,
    response: ITEM,
    handler: async ({ params, daemon }) => ({
      json: itemJson(await daemon.keystore().keychain.get(params.id ?? '')),
    }),
  }),
  route({
    method: 'GET',
    path: '/v1/items/{id}/history',
    summary: 'Earlier versions with their secrets, newest first (item-reveal)',
    auth: 'token',
    op: 'item-reveal',
    owner,
    maxBody: 0,
    response: { type: 'object', properties: { items: { type: 'array', items: ITEM } } },
    handler: async ({ params, daemon }) => ({
      json: { items: (await daemon.keystore().keychain.history(params.id ?? '')).map(itemJson) },
    }),
  }),
  route({
    method: 'POST',
    path: '/v1/items/{id}/update',
    summary: 'Change attributes and/or the secret; a stale expectedVersion is 409 ECONFLICT',
    auth: 'token',
    op: 'item-write',
    owner,
    body: s.object({
      attributes: patchAttributes,
      secret: s.optional(s.bytes(ITEM_LIMITS.secretBytes, 'the new secret, base64')),
      expectedVersion: s.optional(s.integer(1, Number.MAX_SAFE_INTEGER)),
    }),
    maxBody: SECRET_BODY,
    response: ITEM_INFO,
    handler: async ({ params, body, daemon }) => {
      const { expectedVersion, ...changes } = body;
      const info: ItemInfo = await daemon
        .keystore()
        .keychain.update(
          params.id ?? '',
          changes as never,
          expectedVersion !== undefined ? { expectedVersion } : {},
        );
      return { json: info };
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/items/{id}',
    summary: 'Delete an item (a tombstone; history keeps the deleted version)',
    auth: 'token',
    op: 'item-write',
    owner,
    query: versionQuery,
    maxBody: SMALL_BODY,
    response: ITEM_INFO,
    handler: async ({ params, query, daemon }) => ({
      json: await daemon.keystore().keychain.delete(params.id ?? '', query),
    }),
  }),
  route({
    method: 'POST',
    path: '/v1/items/{id}/undelete',
    summary: 'Bring a deleted item back (its last version, as a new write)',
    auth: 'token',
    op: 'item-write',
    owner,
    maxBody: SMALL_BODY,
    response: ITEM_INFO,
    handler: async ({ params, daemon }) => ({
      json: await daemon.keystore().keychain.undelete(params.id ?? ''),
    }),
  }),
  route({
    method: 'GET',
    path: '/v1/keychain/history-bound',
    summary: 'How many versions and bytes of history each item keeps (admin: a keystore-wide setting)',
    auth: 'admin',
    maxBody: 0,
    response: HISTORY_BOUND,
    handler: async ({ daemon }) => ({ json: await daemon.keystore().keychain.historyBound() }),
  }),
  route({
    method: 'POST',
    path: '/v1/keychain/history-bound',
    summary: 'Set the history bound (admin); each of count and bytes ≥ 1 — zero is EINVAL (SPEC §16.4)',
    auth: 'admin',
    body: s.object({
      count: s.integer(0, ITEM_LIMITS.historyCount),
      bytes: s.integer(0, ITEM_LIMITS.historyBytes),
    }),
    maxBody: 1024,
    response: HISTORY_BOUND,
    handler: async ({ body, daemon }) => ({ json: await daemon.keystore().keychain.setHistoryBound(body) }),
  }),
];
