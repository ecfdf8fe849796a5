// Routes of the standard formats (SPEC §14.15): the import key and key import (the key travels
// wrapped, never in clear), trust anchors, digest signing, and an app's JWK Set. Everything else of
// §14 (JWS, SSHSIG, X.509, wallets, age) is composed by the caller from the existing operations.

import { allowsApp } from '../access/tokens.js';
import { KEY_ALGORITHMS, KEY_USES } from '../core/types.js';
import { wipe } from '../crypto/bytes.js';
import { DIGEST_ALGORITHMS } from '../crypto/hash.js';
import { CofferError } from '../errors.js';
import { MAX_IMPORT_WRAP } from '../format/import-wrap.js';
import { appJwks } from '../interop/jose.js';
import { openImportWrap, publishedImportKey } from './import-key.js';
import { type Route, route } from './router.js';
import { KEY_INFO } from './routes-keys.js';
import { s } from './schema.js';

const NAME = s.string({ maxLength: 64, description: '[a-z0-9][a-z0-9._-]{0,63}' });
const LABELS = s.optional(s.record(s.string({ maxLength: 256 }), 32));
const KEY_ID = s.string({ maxLength: 64, description: 'key id (k_…)' });

function mayCreate(token: { apps: string[] } | undefined, app: string): void {
  if (token && !allowsApp(token as never, app))
    throw new CofferError('EPERM', `this token may not create keys for app '${app}'`);
}

export const formatRoutes: Route[] = [
  route({
    method: 'GET',
    path: '/v1/import-key',
    summary: "The daemon's import key (X-Wing, in memory): wrap private keys to it for /v1/keys/import",
    auth: 'token',
    op: 'create',
    maxBody: 0,
    response: {
      type: 'object',
      properties: {
        algorithm: { type: 'string', enum: ['x-wing'] },
        fingerprint: { type: 'string' },
        publicKey: { type: 'string', format: 'byte' },
      },
    },
    handler: ({ daemon }) => ({ json: publishedImportKey(daemon) }),
  }),
  route({
    method: 'POST',
    path: '/v1/keys/import',
    summary: 'Import a private key wrapped to the import key (SPEC §14.15.3) as a non-exportable key',
    auth: 'token',
    op: 'create',
    body: s.object({
      spec: s.object({
        app: NAME,
        purpose: NAME,
        algorithm: s.optional(s.enumOf(KEY_ALGORITHMS)),
        uses: s.optional(s.array(s.enumOf(KEY_USES), { maxItems: KEY_USES.length })),
        labels: LABELS,
        backupAllowed: s.optional(s.boolean()),
        replaces: s.optional(KEY_ID),
      }),
      wrapped: s.bytes(MAX_IMPORT_WRAP, 'CIW1 import wrap (base64)'),
    }),
    status: 201,
    maxBody: 64 * 1024,
    response: KEY_INFO,
    handler: async ({ body, token, daemon }) => {
      mayCreate(token, body.spec.app);
      const pkcs8 = await openImportWrap(daemon, body.spec, body.wrapped);
      try {
        return { json: await daemon.keystore().importKey(body.spec, pkcs8) };
      } finally {
        wipe(pkcs8);
      }
    },
  }),
  route({
    method: 'POST',
    path: '/v1/trust-anchors',
    summary:
      'Hold a public key as a verify-only trust anchor (PEM, OpenSSH, JWK text, or raw base64 with algorithm)',
    auth: 'token',
    op: 'create',
    body: s.object({
      spec: s.object({
        app: NAME,
        set: NAME,
        name: s.string({ maxLength: 64 }),
        algorithm: s.optional(s.enumOf(KEY_ALGORITHMS)),
        labels: LABELS,
        replaces: s.optional(KEY_ID),
      }),
      text: s.optional(s.string({ maxLength: 64 * 1024, description: 'PEM, OpenSSH line or JWK JSON' })),
      raw: s.optional(s.bytes(4096, 'raw public key bytes (base64)')),
    }),
    status: 201,
    maxBody: 128 * 1024,
    response: KEY_INFO,
    handler: async ({ body, token, daemon }) => {
      mayCreate(token, body.spec.app);
      if ((body.text === undefined) === (body.raw === undefined))
        throw new CofferError('EINVAL', 'give the public key as exactly one of text or raw');
      return { json: await daemon.keystore().addTrustAnchor(body.spec, body.text ?? body.raw!) };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/keys/{id}/sign-digest',
    summary: 'Sign a digest (sha256, sha384, sha512, keccak256) with an ECDSA key; recoverable for secp256k1',
    auth: 'token',
    op: 'sign',
    body: s.object({
      digest: s.bytes(64),
      hash: s.enumOf(DIGEST_ALGORITHMS),
      recoverable: s.optional(s.boolean()),
    }),
    maxBody: 4096,
    response: {
      type: 'object',
      properties: { signature: { type: 'string', format: 'byte' }, version: { type: 'integer' } },
    },
    handler: async ({ params, body, daemon }) => ({
      json: await daemon.keystore().signDigest(params.id ?? '', body.digest, {
        hash: body.hash,
        ...(body.recoverable !== undefined ? { recoverable: body.recoverable } : {}),
      }),
    }),
  }),
  route({
    method: 'GET',
    path: '/v1/apps/{app}/jwks.json',
    summary: "The app's JWK Set: the primary version of each active signing key, kid `<keyId>.<version>`",
    auth: 'token',
    op: 'read',
    maxBody: 0,
    owner: {
      param: 'app',
      app: async (_daemon, value) => value,
      notFound: (value) => new CofferError('ENOENT', `no app ${value}`),
    },
    response: { type: 'object', properties: { keys: { type: 'array', items: { type: 'object' } } } },
    handler: async ({ params, daemon }) => ({ json: await appJwks(daemon.keystore(), params.app ?? '') }),
  }),
];
