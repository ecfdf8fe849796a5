// Daemon routes outside the key space (SPEC "Daemon API"): health, status, unlock/lock, tokens,
// audit, protectors and the OpenAPI document. Unlock needs no token (the passphrase is the credential,
// rate-limited by the lockout gate); token management, audit and lock need the admin token.

import { createToken, listTokens, revokeToken, TOKEN_OPS } from '../access/tokens.js';
import { MAX_AUDIT_PAGE_LIMIT } from '../core/audit-pages.js';
import { CofferError } from '../errors.js';
import { sseHandler } from '../rotation/sse.js';
import { type Route, route } from './router.js';
import { type JsonSchema, s } from './schema.js';

const SMALL_BODY = 64 * 1024;

const STATUS: JsonSchema = {
  type: 'object',
  properties: {
    locked: { type: 'boolean' },
    lockedOutUntil: {
      type: 'integer',
      description: 'ms since the epoch; present while unlock is locked out',
    },
    keystoreId: { type: 'string' },
    version: { type: 'string' },
  },
  required: ['locked', 'keystoreId', 'version'],
};

const TOKEN_INFO: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    apps: { type: 'array', items: { type: 'string' } },
    ops: { type: 'array', items: { type: 'string' } },
    admin: { type: 'boolean' },
    createdAt: { type: 'integer' },
    lastUsedAt: { type: 'integer' },
  },
};

const AUDIT_ENTRY: JsonSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    at: { type: 'integer' },
    actor: { type: 'string' },
    event: { type: 'string' },
    keyId: { type: 'string' },
    details: { type: 'object' },
    prev: { type: 'string' },
    hash: { type: 'string' },
    mac: { type: 'string' },
  },
};

const TEXT_FILTER = { maxLength: 256, minLength: 1 };
/** GET /v1/audit: `count` alone (the tail), or the paging parameters of SPEC §8.1. */
const auditQuery = s.object({
  count: s.optional(s.integer(1, 10_000, 'the newest N entries (not with the paging parameters)')),
  limit: s.optional(s.integer(1, MAX_AUDIT_PAGE_LIMIT, 'entries per page (default 100)')),
  cursor: s.optional(s.string({ maxLength: 1024, minLength: 1, pattern: /^[A-Za-z0-9_-]+$/ })),
  order: s.optional(s.enumOf(['asc', 'desc'] as const, 'oldest first (default) or newest first')),
  since: s.optional(s.integer(0, Number.MAX_SAFE_INTEGER, 'entries at or after (ms since the epoch)')),
  until: s.optional(s.integer(0, Number.MAX_SAFE_INTEGER, 'entries before (ms since the epoch)')),
  keyId: s.optional(s.string({ ...TEXT_FILTER, description: 'entries about this key' })),
  event: s.optional(s.string({ ...TEXT_FILTER, description: "an event, or a prefix ending in '.'" })),
  actor: s.optional(s.string({ ...TEXT_FILTER, description: 'entries written by this actor' })),
});

const tokenBody = s.object({
  name: s.optional(s.string({ maxLength: 256 })),
  apps: s.array(s.string({ maxLength: 64, description: "an app name, or '*' alone" }), {
    maxItems: 64,
    minItems: 1,
  }),
  ops: s.array(s.string({ maxLength: 32, description: `'*' alone, or of: ${TOKEN_OPS.join(', ')}` }), {
    maxItems: 64,
    minItems: 1,
  }),
  admin: s.optional(s.boolean()),
});

export function adminRoutes(openapi: () => unknown): Route[] {
  return [
    route({
      method: 'GET',
      path: '/v1/rotation/events',
      summary:
        'Rotation events as server-sent events (advance_warning, awaiting_confirmation, rotated, expired, alert)',
      auth: 'admin',
      maxBody: 0,
      response: { type: 'string', description: 'text/event-stream' },
      handler: ({ daemon }) => {
        daemon.scheduler(); // no scheduler (or locked): answer with the error instead of a silent stream
        const handler = sseHandler(daemon.rotationEvents);
        return { stream: (req, res) => daemon.holdStream(res, () => handler(req, res)) };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/health',
      summary: 'Liveness: answers while locked too',
      auth: 'none',
      maxBody: 0,
      response: { type: 'object', properties: { ok: { type: 'boolean' } } },
      handler: () => ({ json: { ok: true } }),
    }),
    route({
      method: 'GET',
      path: '/v1/status',
      summary: 'Locked or not, lockout end, keystore id, daemon version',
      auth: 'none',
      maxBody: 0,
      response: STATUS,
      handler: async ({ daemon, version }) => ({ json: await daemon.status(version) }),
    }),
    route({
      method: 'POST',
      path: '/v1/unlock',
      summary: `Unlock with the passphrase (no token). 5 failures lock unlocking out for 15 minutes (ELOCKED, 423)`,
      auth: 'none',
      body: s.object({ passphrase: s.string({ maxLength: 1024, minLength: 1 }) }),
      maxBody: SMALL_BODY,
      response: STATUS,
      handler: async ({ body, daemon, version }) => {
        await daemon.unlockWithPassphrase(body.passphrase);
        return { json: await daemon.status(version) };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/lock',
      summary: 'Lock: wipe the master key and cached secrets (admin; a no-op when already locked)',
      auth: 'admin',
      lockedNoop: true,
      maxBody: SMALL_BODY,
      response: STATUS,
      handler: async ({ daemon, version }) => {
        await daemon.lock();
        return { json: await daemon.status(version) };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/tokens',
      summary: 'Create a token (admin); the token is returned once and stored only as a hash',
      auth: 'admin',
      body: tokenBody,
      status: 201,
      maxBody: SMALL_BODY,
      response: { type: 'object', properties: { id: { type: 'string' }, token: { type: 'string' } } },
      handler: async ({ body, daemon }) => ({
        json: await createToken(daemon.keystore(), body, { now: daemon.clock() }),
      }),
    }),
    route({
      method: 'GET',
      path: '/v1/tokens',
      summary: 'List tokens (admin); never the tokens themselves',
      auth: 'admin',
      maxBody: 0,
      response: { type: 'object', properties: { tokens: { type: 'array', items: TOKEN_INFO } } },
      handler: async ({ daemon }) => ({ json: { tokens: await listTokens(daemon.keystore()) } }),
    }),
    route({
      method: 'DELETE',
      path: '/v1/tokens/{id}',
      summary: 'Revoke a token (admin); effective immediately',
      auth: 'admin',
      maxBody: 1024,
      response: { type: 'object', properties: { revoked: { type: 'string' } } },
      handler: async ({ params, token, daemon }) => {
        const id = params.id ?? '';
        if (token?.id === id)
          throw new CofferError('EPERM', 'a token cannot revoke itself (use another admin token)');
        await revokeToken(daemon.keystore(), id);
        daemon.forgetTokens();
        return { json: { revoked: id } };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/audit',
      summary:
        'Audit entries (admin): with limit, cursor, order or a filter, one page checked against the hash chain (SPEC §8.1); else the newest `count`',
      auth: 'admin',
      query: auditQuery,
      maxBody: 0,
      response: {
        type: 'object',
        properties: { entries: { type: 'array', items: AUDIT_ENTRY }, cursor: { type: 'string' } },
      },
      handler: async ({ query, daemon }) => {
        const { count, ...rest } = query;
        const request = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
        if (Object.keys(request).length === 0)
          return { json: { entries: await daemon.keystore().auditTail(count) } };
        if (count !== undefined)
          throw new CofferError(
            'EINVAL',
            'count (the newest entries) does not combine with paging parameters',
          );
        const page = await daemon.keystore().auditPage(request);
        return { json: { entries: page.entries, ...(page.cursor ? { cursor: page.cursor } : {}) } };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/audit/verify',
      summary: 'Verify the whole audit hash chain (admin)',
      auth: 'admin',
      maxBody: 0,
      response: {
        type: 'object',
        properties: {
          ok: { type: 'boolean' },
          entries: { type: 'integer' },
          problems: { type: 'array', items: { type: 'string' } },
        },
      },
      handler: async ({ daemon }) => ({ json: await daemon.keystore().verifyAudit() }),
    }),
    route({
      method: 'GET',
      path: '/v1/protectors',
      summary: 'The keyslots and their protectors (admin)',
      auth: 'admin',
      maxBody: 0,
      response: { type: 'object', properties: { protectors: { type: 'array', items: { type: 'object' } } } },
      handler: async ({ daemon }) => ({ json: { protectors: await daemon.keystore().listProtectors() } }),
    }),
    route({
      method: 'GET',
      path: '/v1/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document, generated from the request schemas',
      auth: 'none',
      maxBody: 0,
      response: { type: 'object' },
      handler: () => ({ json: openapi() }),
    }),
  ];
}
