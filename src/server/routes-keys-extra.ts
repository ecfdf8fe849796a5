// Key routes of the operations surface (SPEC §10.2) beyond create/get/lifecycle: creating many keys
// in one durable batch, activating a pre-active key, and verification as a public operation
// (check-signature: compromised keys answer too, with their state, SPEC §2).

import { allowsApp } from '../access/tokens.js';
import { MAX_CREATE_BATCH } from '../core/keystore.js';
import type { CreateKeySpec, KeyInfo } from '../core/types.js';
import { KEY_STATES, LIMITS } from '../core/types.js';
import { CofferError } from '../errors.js';
import { type Route, route } from './router.js';
import { createBody, KEY_INFO } from './routes-keys.js';
import { type JsonSchema, s } from './schema.js';

/** Keys per batch request: what Keystore.createKeys writes in one batch (with the record tree's nodes). */
const MAX_BATCH_KEYS = MAX_CREATE_BATCH;

const SIGNATURE_CHECK: JsonSchema = {
  type: 'object',
  description: 'SignatureCheck: valid, the verifying version and the states of key and version',
  properties: {
    valid: { type: 'boolean' },
    version: { type: 'integer' },
    encoding: { type: 'string', enum: ['raw', 'der'] },
    keyState: { type: 'string', enum: [...KEY_STATES] },
    versionState: { type: 'string', enum: [...KEY_STATES] },
  },
  required: ['valid', 'encoding', 'keyState'],
};

export const keyExtraRoutes: Route[] = [
  route({
    method: 'POST',
    path: '/v1/keys/batch',
    summary: `Create up to ${MAX_BATCH_KEYS} keys in one durable batch (each app in the token scope)`,
    auth: 'token',
    op: 'create',
    body: s.object({ specs: s.array(createBody, { maxItems: MAX_BATCH_KEYS, minItems: 1 }) }),
    status: 201,
    maxBody: 8 * 1024 * 1024,
    response: { type: 'object', properties: { keys: { type: 'array', items: KEY_INFO } } },
    handler: async ({ body, token, daemon }) => {
      for (const spec of body.specs) {
        if (token && !allowsApp(token, spec.app))
          throw new CofferError('EPERM', `this token may not create keys for app '${spec.app}'`);
      }
      const keys: KeyInfo[] = await daemon.keystore().createKeys(body.specs as CreateKeySpec[]);
      return { json: { keys } };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/keys/{id}/activate',
    summary: 'Activate a pre-active key',
    auth: 'token',
    op: 'activate',
    maxBody: 64 * 1024,
    response: KEY_INFO,
    handler: async ({ params, daemon }) => ({ json: await daemon.keystore().activate(params.id ?? '') }),
  }),
  route({
    method: 'POST',
    path: '/v1/keys/{id}/check-signature',
    summary:
      'Verify as a public operation: answers for compromised and destroyed versions too, with the key and version states',
    auth: 'token',
    op: 'verify',
    body: s.object({
      data: s.bytes(LIMITS.signMessageBytes),
      signature: s.bytes(16 * 1024),
      version: s.optional(s.integer(1, 1_000_000)),
      encoding: s.optional(s.enumOf(['raw', 'der'] as const)),
      context: s.optional(s.bytes(255, 'ML-DSA context string')),
    }),
    maxBody: 2 * 1024 * 1024,
    response: SIGNATURE_CHECK,
    handler: async ({ params, body, daemon }) => ({
      json: await daemon.keystore().checkSignature(params.id ?? '', body.data, body.signature, body),
    }),
  }),
];
