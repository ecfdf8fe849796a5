// Key routes of the daemon (SPEC "Daemon API / keys"): create, list, get, public key, and the
// lifecycle transitions. Each handler is one Keystore call; scope checks happen in the router, except
// for create and list, whose app comes from the body or the query instead of a key.

import { allowsApp } from '../access/tokens.js';
import { MAX_PAGE_LIMIT } from '../core/key-pages.js';
import type { Keystore } from '../core/keystore.js';
import { PUBLIC_KEY_FORMATS } from '../core/public-key.js';
import { type CreateKeySpec, KEY_ALGORITHMS, KEY_USES, type KeyInfo } from '../core/types.js';
import { CofferError } from '../errors.js';
import { ROTATION_EVENT_TYPES } from '../rotation/events.js';
import { type Route, route } from './router.js';
import { encodeBase64, type JsonSchema, s } from './schema.js';

const SMALL_BODY = 64 * 1024;
const NAME = s.name();
const REASON = s.optional(s.string({ maxLength: 256 }));

export const KEY_INFO: JsonSchema = {
  type: 'object',
  description: 'KeyInfo: id, app, purpose, algorithm, uses, labels, state, versions, history, …',
  properties: {
    id: { type: 'string' },
    app: { type: 'string' },
    purpose: { type: 'string' },
    algorithm: { type: 'string', enum: [...KEY_ALGORITHMS] },
    state: { type: 'string' },
    primaryVersion: { type: 'integer' },
    versions: { type: 'array', items: { type: 'object' } },
    syncable: {
      type: 'boolean',
      description: 'present (true) when created syncable: it may be a keychain item',
    },
  },
};

/** RotationEvent (rotation/events.ts): what confirm-rotation (`rotated`) and emergency-rotate (`alert`) return. */
export const ROTATION_EVENT: JsonSchema = {
  type: 'object',
  description: 'RotationEvent: the committed rotation event (also sent to SSE subscribers and webhooks)',
  properties: {
    id: { type: 'string' },
    type: { type: 'string', enum: [...ROTATION_EVENT_TYPES] },
    keyId: { type: 'string' },
    app: { type: 'string' },
    purpose: { type: 'string' },
    algorithm: { type: 'string', enum: [...KEY_ALGORITHMS] },
    version: { type: 'integer' },
    newVersion: { type: 'integer' },
    at: { type: 'integer' },
    dueAt: { type: 'integer' },
    trigger: { type: 'string' },
    uses: { type: 'integer' },
    maxUses: { type: 'integer' },
    incident: {
      type: 'object',
      properties: { id: { type: 'string' }, description: { type: 'string' } },
      required: ['description'],
    },
  },
  required: ['id', 'type', 'keyId', 'app', 'purpose', 'algorithm', 'version', 'at', 'dueAt'],
};

/** A CreateKeySpec as the daemon accepts it (also each item of POST /v1/keys/batch). */
export const createBody = s.object({
  app: NAME,
  purpose: NAME,
  algorithm: s.enumOf(KEY_ALGORITHMS),
  uses: s.optional(s.array(s.enumOf(KEY_USES), { maxItems: KEY_USES.length })),
  labels: s.optional(s.record(s.string({ maxLength: 256 }), 32)),
  rotation: s.optional(
    s.object({
      intervalMs: s.optional(s.integer(1, Number.MAX_SAFE_INTEGER)),
      advanceWarningMs: s.optional(s.integer(1, Number.MAX_SAFE_INTEGER)),
      gracePeriodMs: s.optional(s.integer(1, Number.MAX_SAFE_INTEGER)),
      maxUses: s.optional(s.integer(1, Number.MAX_SAFE_INTEGER)),
      requireConfirmation: s.optional(s.boolean()),
    }),
  ),
  preActive: s.optional(s.boolean()),
  backupAllowed: s.optional(s.boolean()),
  syncable: s.optional(s.boolean()),
  activatesAt: s.optional(s.integer(0, Number.MAX_SAFE_INTEGER)),
});

const listQuery = s.object({
  app: s.optional(NAME),
  purpose: s.optional(NAME),
  limit: s.optional(s.integer(1, MAX_PAGE_LIMIT)),
  cursor: s.optional(s.string({ maxLength: 1024, minLength: 1, pattern: /^[A-Za-z0-9_-]+$/ })),
});
const publicQuery = s.object({
  format: s.optional(s.enumOf(PUBLIC_KEY_FORMATS)),
  version: s.optional(s.integer(1, 1_000_000)),
});

/** How a public key travels in JSON: bytes as base64, PEM/SSH text as is, a JWK as an object. */
export function publicKeyJson(format: string, value: Uint8Array | string | object) {
  if (value instanceof Uint8Array) return { format, encoding: 'base64', publicKey: encodeBase64(value) };
  if (typeof value === 'string') return { format, encoding: 'text', publicKey: value };
  return { format, encoding: 'jwk', publicKey: value };
}

function lifecycle(
  name: 'rotate' | 'suspend' | 'resume' | 'revoke' | 'destroy',
  body: Route['body'],
  call: (ks: Keystore, id: string, body: never) => Promise<KeyInfo>,
): Route {
  return route({
    method: 'POST',
    path: `/v1/keys/{id}/${name}`,
    summary: `${name[0]?.toUpperCase()}${name.slice(1)} a key`,
    auth: 'token',
    op: name,
    ...(body ? { body } : {}),
    maxBody: SMALL_BODY,
    response: KEY_INFO,
    handler: async (ctx) => ({
      json: await call(ctx.daemon.keystore(), ctx.params.id ?? '', (ctx.body ?? {}) as never),
    }),
  });
}

export const keyRoutes: Route[] = [
  route({
    method: 'POST',
    path: '/v1/keys',
    summary: 'Create a key (the token needs the create operation and the app in its scope)',
    auth: 'token',
    op: 'create',
    body: createBody,
    status: 201,
    maxBody: SMALL_BODY,
    response: KEY_INFO,
    handler: async ({ body, token, daemon }) => {
      if (token && !allowsApp(token, body.app))
        throw new CofferError('EPERM', `this token may not create keys for app '${body.app}'`);
      return { json: await daemon.keystore().createKey(body as CreateKeySpec) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/keys',
    summary: "List keys (a scoped token sees only its apps' keys)",
    auth: 'token',
    op: 'read',
    query: listQuery,
    maxBody: 0,
    response: {
      type: 'object',
      properties: { keys: { type: 'array', items: KEY_INFO }, cursor: { type: 'string' } },
    },
    // With `limit` or `cursor`, one page (SPEC §4.6); without, every key.
    // A scoped token's page holds only its apps' keys, so it may hold fewer than `limit` (even none)
    // while a cursor still follows.
    handler: async ({ query, token, daemon }) => {
      if (query.app !== undefined && token && !allowsApp(token, query.app))
        throw new CofferError('EPERM', `this token may not read keys of app '${query.app}'`);
      const visible = (keys: KeyInfo[]) => (token ? keys.filter((k) => allowsApp(token, k.app)) : keys);
      const { limit, cursor, ...filter } = query;
      if (limit === undefined && cursor === undefined)
        return { json: { keys: visible(await daemon.keystore().listKeys(filter)) } };
      const page = await daemon.keystore().listKeysPage(query);
      return { json: { keys: visible(page.keys), ...(page.cursor ? { cursor: page.cursor } : {}) } };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/keys/{id}',
    summary: 'Get one key',
    auth: 'token',
    op: 'read',
    maxBody: 0,
    response: KEY_INFO,
    handler: async ({ params, daemon }) => ({ json: await daemon.keystore().getKey(params.id ?? '') }),
  }),
  route({
    method: 'GET',
    path: '/v1/keys/{id}/public',
    summary: 'Export a public key (format raw|pem|spki|jwk|ssh; raw and spki come as base64)',
    auth: 'token',
    op: 'read',
    query: publicQuery,
    maxBody: 0,
    response: {
      type: 'object',
      properties: {
        format: { type: 'string' },
        encoding: { type: 'string', enum: ['base64', 'text', 'jwk'] },
        publicKey: {},
      },
    },
    handler: async ({ params, query, daemon }) => {
      const format = query.format ?? 'raw';
      const value = await daemon
        .keystore()
        .publicKey(params.id ?? '', format, query.version !== undefined ? { version: query.version } : {});
      return { json: publicKeyJson(format, value) };
    },
  }),
  lifecycle('rotate', s.object({ reason: REASON }), (ks, id, body: { reason?: string }) =>
    ks.rotate(id, body),
  ),
  lifecycle('suspend', s.object({ reason: REASON }), (ks, id, body: { reason?: string }) =>
    ks.suspend(id, body),
  ),
  lifecycle('resume', undefined, (ks, id) => ks.resume(id)),
  route({
    method: 'POST',
    path: '/v1/keys/{id}/confirm-rotation',
    summary: 'Confirm a rotation the policy holds for confirmation (awaiting_confirmation)',
    auth: 'token',
    op: 'rotate',
    maxBody: SMALL_BODY,
    response: ROTATION_EVENT,
    handler: async ({ params, daemon }) => ({ json: await daemon.scheduler().confirm(params.id ?? '') }),
  }),
  route({
    method: 'POST',
    path: '/v1/keys/{id}/emergency-rotate',
    summary: 'Rotate now and mark the old version compromised, with an incident record (alert event)',
    auth: 'token',
    op: 'rotate',
    body: s.object({
      incident: s.object({
        id: s.optional(s.string({ maxLength: 256, minLength: 1 })),
        description: s.string({ maxLength: 256, minLength: 1 }),
      }),
    }),
    maxBody: SMALL_BODY,
    response: ROTATION_EVENT,
    handler: async ({ params, body, daemon }) => ({
      json: await daemon.scheduler().emergencyRotate(params.id ?? '', body.incident),
    }),
  }),
  lifecycle(
    'revoke',
    s.object({
      reason: s.string({ maxLength: 256, minLength: 1 }),
      version: s.optional(s.integer(1, 1_000_000)),
    }),
    (ks, id, body: { reason: string; version?: number }) =>
      ks.revoke(id, body.reason, body.version !== undefined ? { version: body.version } : {}),
  ),
  lifecycle(
    'destroy',
    s.object({ version: s.optional(s.integer(1, 1_000_000)), reason: REASON }),
    (ks, id, body: { version?: number; reason?: string }) => ks.destroy(id, body),
  ),
];
