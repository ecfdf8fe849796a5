// Operation routes of the daemon (SPEC §10.2): sign, verify, seal, unseal, encapsulate, decapsulate,
// mac, verify-mac, rewrap, data keys, and the batch forms of sign / verify / seal / unseal. Bytes are
// base64 in JSON (handlers return Uint8Arrays; codec.ts encodes them); seal and unseal also take and return raw
// application/octet-stream bodies so large payloads skip base64. A batch answers item by item, in
// order, each `{ ok: true, … }` or `{ ok: false, error }`: one bad item never fails the others.
import { LIMITS } from '../core/types.js';
import { asCofferError } from '../errors.js';
import type { Context, Reply, Route } from './router.js';
import { route } from './router.js';
import { type JsonSchema, type Schema, s } from './schema.js';
import { runInSlices } from './slices.js';
import type { TokenOp } from './tokens.js';

const MiB = 1024 * 1024;
/** Most items in one batch request (E2BIG beyond): bounds the time one request holds the daemon. */
export const MAX_BATCH_ITEMS = 1000;
const SEALED_MAX = LIMITS.sealPayloadBytes + 8192;
const AAD = s.optional(s.bytes(64 * 1024, 'additional authenticated data (base64)'));
const VERSION = s.optional(s.integer(1, 1_000_000));
const SIGNATURE = s.bytes(16 * 1024);
const ENCODING = s.optional(s.enumOf(['raw', 'der'] as const));
const CONTEXT = s.optional(s.bytes(255, 'ML-DSA context string'));

const bytesOut = (name: string, extra: Record<string, JsonSchema> = {}): JsonSchema => ({
  type: 'object',
  properties: { [name]: { type: 'string', format: 'byte' }, ...extra },
});
const VALID: JsonSchema = { type: 'object', properties: { valid: { type: 'boolean' } } };

function op<B>(
  name: string,
  tokenOp: TokenOp,
  summary: string,
  body: Schema<B> | undefined,
  maxBody: number,
  response: JsonSchema,
  handler: (ctx: Context<B, undefined>, id: string) => Promise<Reply>,
  raw?: Route['raw'],
): Route {
  return route<B, undefined>({
    method: 'POST',
    path: `/v1/keys/{id}/${name}`,
    summary,
    auth: 'token',
    op: tokenOp,
    ...(body ? { body } : {}),
    maxBody,
    ...(raw ? { raw } : {}),
    response,
    handler: (ctx) => handler(ctx, ctx.params.id ?? ''),
  });
}

type ItemResult =
  | { ok: true; [field: string]: unknown }
  | { ok: false; error: { code: string; message: string } };

/**
 * A batch route: the body is `{ items: [...] }`; each item is validated and run on its own, so a
 * malformed item becomes that item's EINVAL result. The whole request is refused only for a body that
 * is not an items array, or one over MAX_BATCH_ITEMS (E2BIG).
 */
function batch<T>(
  name: string,
  tokenOp: TokenOp,
  summary: string,
  item: Schema<T>,
  run: (
    ctx: Context<{ items: unknown[] }, undefined>,
    id: string,
    item: T,
  ) => Promise<Record<string, unknown>>,
): Route {
  const items: Schema<{ items: unknown[] }> = {
    json: {
      type: 'object',
      properties: { items: { type: 'array', items: item.json, maxItems: MAX_BATCH_ITEMS } },
      required: ['items'],
      additionalProperties: false,
    },
    optional: false,
    parse: (value, path) =>
      s
        .object({
          items: s.array(
            { json: item.json, optional: false, parse: (v) => v },
            { maxItems: MAX_BATCH_ITEMS },
          ),
        })
        .parse(value, path),
  };
  return op(
    name,
    tokenOp,
    summary,
    items,
    32 * MiB,
    {
      type: 'object',
      properties: {
        results: {
          type: 'array',
          items: {
            type: 'object',
            description: '{ ok: true, … } or { ok: false, error: { code, message } }',
          },
        },
      },
    },
    async (ctx, id) => {
      const items = ctx.body.items;
      ctx.charge(items.length - 1);
      // Enough items in flight to keep every pool worker fed, few enough that this batch holds only
      // a handful of places in the pool's queue at any time (docs/daemon.md "Fairness").
      const window = Math.max(2, 2 * ctx.daemon.poolSize);
      const results = await runInSlices(items.length, window, async (index): Promise<ItemResult> => {
        try {
          return { ok: true, ...(await run(ctx, id, item.parse(items[index], `items[${index}]`))) };
        } catch (caught) {
          const error = asCofferError(caught);
          return { ok: false, error: { code: error.code, message: error.message } };
        }
      });
      ctx.note.items = results.length;
      return { json: { results } };
    },
  );
}

const signItem = s.object({ data: s.bytes(LIMITS.signMessageBytes) });
const verifyItem = s.object({
  data: s.bytes(LIMITS.signMessageBytes),
  signature: SIGNATURE,
  version: VERSION,
});
const sealItem = s.object({ plaintext: s.bytes(LIMITS.sealPayloadBytes), aad: AAD });
const unsealItem = s.object({ sealed: s.bytes(SEALED_MAX), aad: AAD });

export const opRoutes: Route[] = [
  op(
    'sign',
    'sign',
    'Sign data with the primary version',
    s.object({ data: s.bytes(LIMITS.signMessageBytes), encoding: ENCODING, context: CONTEXT }),
    2 * MiB,
    bytesOut('signature', { version: { type: 'integer' } }),
    async ({ body, daemon }, id) => {
      const { signature, version } = await daemon.keystore().sign(id, body.data, body);
      return { json: { signature, version } };
    },
  ),
  op(
    'verify',
    'verify',
    'Verify a signature (newest usable version first, or the one named)',
    s.object({
      data: s.bytes(LIMITS.signMessageBytes),
      signature: SIGNATURE,
      version: VERSION,
      encoding: ENCODING,
      context: CONTEXT,
    }),
    2 * MiB,
    VALID,
    async ({ body, daemon }, id) => ({
      json: { valid: await daemon.keystore().verify(id, body.data, body.signature, body) },
    }),
  ),
  op(
    'seal',
    'seal',
    'Seal a plaintext (JSON base64, or a raw octet-stream body with Coffer-AAD header)',
    s.object({ plaintext: s.bytes(LIMITS.sealPayloadBytes), aad: AAD }),
    22 * MiB + 128 * 1024,
    bytesOut('sealed'),
    async ({ body, raw, daemon }, id) => {
      if (raw) return { raw: await daemon.keystore().seal(id, raw.data, raw.aad ? { aad: raw.aad } : {}) };
      return { json: { sealed: await daemon.keystore().seal(id, body.plaintext, body) } };
    },
    {
      maxBytes: LIMITS.sealPayloadBytes,
      tooLarge: `the plaintext is larger than the one-shot seal limit of ${LIMITS.sealPayloadBytes / MiB} MiB: stream it (POST /v1/keys/{id}/seal-stream; client.sealStream)`,
    },
  ),
  op(
    'unseal',
    'unseal',
    'Unseal (JSON base64, or a raw octet-stream body with Coffer-AAD header)',
    s.object({ sealed: s.bytes(SEALED_MAX), aad: AAD }),
    22 * MiB + 128 * 1024,
    bytesOut('plaintext'),
    async ({ body, raw, daemon }, id) => {
      if (raw) return { raw: await daemon.keystore().unseal(id, raw.data, raw.aad ? { aad: raw.aad } : {}) };
      return { json: { plaintext: await daemon.keystore().unseal(id, body.sealed, body) } };
    },
    {
      maxBytes: SEALED_MAX,
      tooLarge: `the sealed data is larger than the one-shot unseal limit of ${LIMITS.sealPayloadBytes / MiB} MiB + 8 KiB: open it as a stream (POST /v1/keys/{id}/unseal-stream; client.unsealStream)`,
    },
  ),
  op(
    'rewrap',
    'rewrap',
    'Re-seal under the primary version',
    s.object({ sealed: s.bytes(SEALED_MAX), aad: AAD }),
    22 * MiB + 128 * 1024,
    bytesOut('sealed'),
    async ({ body, daemon }, id) => ({
      json: { sealed: await daemon.keystore().rewrap(id, body.sealed, body) },
    }),
  ),
  op(
    'data-key',
    'data-key',
    'Generate a 32-byte data key sealed under this key (plaintext only on request)',
    s.object({ aad: AAD, includePlaintext: s.optional(s.boolean()) }),
    128 * 1024,
    bytesOut('wrapped', { plaintext: { type: 'string', format: 'byte' }, version: { type: 'integer' } }),
    async ({ body, daemon }, id) => {
      const r = await daemon.keystore().generateDataKey(id, body);
      return {
        json: {
          wrapped: r.wrapped,
          ...(r.plaintext ? { plaintext: r.plaintext } : {}),
          version: r.version,
        },
      };
    },
  ),
  op(
    'encapsulate',
    'encapsulate',
    'Encapsulate a fresh shared secret to an X-Wing key',
    undefined,
    1024,
    bytesOut('ciphertext', {
      sharedSecret: { type: 'string', format: 'byte' },
      version: { type: 'integer' },
    }),
    async ({ daemon }, id) => {
      const r = await daemon.keystore().encapsulate(id);
      return {
        json: {
          ciphertext: r.ciphertext,
          sharedSecret: r.sharedSecret,
          version: r.version,
        },
      };
    },
  ),
  op(
    'decapsulate',
    'decapsulate',
    'Decapsulate an X-Wing ciphertext',
    s.object({ ciphertext: s.bytes(4096), version: VERSION }),
    16 * 1024,
    bytesOut('sharedSecret'),
    async ({ body, daemon }, id) => ({
      json: { sharedSecret: await daemon.keystore().decapsulate(id, body.ciphertext, body) },
    }),
  ),
  op(
    'mac',
    'mac',
    'HMAC data with the primary version',
    s.object({ data: s.bytes(LIMITS.sealPayloadBytes) }),
    22 * MiB,
    bytesOut('mac', { version: { type: 'integer' } }),
    async ({ body, daemon }, id) => {
      const { mac, version } = await daemon.keystore().mac(id, body.data);
      return { json: { mac: mac, version } };
    },
  ),
  op(
    'verify-mac',
    'verify-mac',
    'Verify an HMAC tag',
    s.object({ data: s.bytes(LIMITS.sealPayloadBytes), mac: s.bytes(1024), version: VERSION }),
    22 * MiB,
    VALID,
    async ({ body, daemon }, id) => ({
      json: { valid: await daemon.keystore().verifyMac(id, body.data, body.mac, body) },
    }),
  ),
  batch(
    'sign-batch',
    'sign',
    'Sign many messages: { items: [{ data }] }',
    signItem,
    async ({ daemon }, id, item) => {
      const { signature, version } = await daemon.keystore().sign(id, item.data);
      return { signature: signature, version };
    },
  ),
  batch(
    'verify-batch',
    'verify',
    'Verify many signatures: { items: [{ data, signature, version? }] }',
    verifyItem,
    async ({ daemon }, id, item) => ({
      valid: await daemon.keystore().verify(id, item.data, item.signature, item),
    }),
  ),
  batch(
    'seal-batch',
    'seal',
    'Seal many plaintexts: { items: [{ plaintext, aad? }] }',
    sealItem,
    async ({ daemon }, id, item) => ({
      sealed: await daemon.keystore().seal(id, item.plaintext, item),
    }),
  ),
  batch(
    'unseal-batch',
    'unseal',
    'Unseal many blobs: { items: [{ sealed, aad? }] }',
    unsealItem,
    async ({ daemon }, id, item) => ({
      plaintext: await daemon.keystore().unseal(id, item.sealed, item),
    }),
  ),
];
