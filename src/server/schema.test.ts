// The request schemas and the OpenAPI document generated from them: strict validation (unknown
// fields, types, base64, bounds → EINVAL / E2BIG), and a document whose request bodies are the very
// schema objects the daemon validates with, for every route.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TOKEN_OPS } from '../access/tokens.js';
import { ERROR_CODES } from '../errors.js';
import { openApiDocument } from './openapi.js';
import type { Route } from './router.js';
import { allRoutes } from './routes.js';
import { decodeBase64, encodeBase64, type JsonSchema, s } from './schema.js';

const routes: Route[] = allRoutes(() => ({}));

test('base64 fields: canonical round trip (property), strict alphabet and padding, size bound', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      assert.deepEqual(decodeBase64(encodeBase64(bytes), 'x', 300), bytes);
    }),
  );
  for (const bad of ['abc', 'ab!=', 'YQ', 42, null, 'YWJj\n']) {
    assert.throws(() => decodeBase64(bad, 'field', 100), { code: 'EINVAL' });
  }
  assert.throws(() => decodeBase64(encodeBase64(new Uint8Array(101)), 'field', 100), { code: 'E2BIG' });
  assert.throws(() => decodeBase64('A'.repeat(1000), 'field', 100), { code: 'E2BIG' });
});

test('objects: required, unknown fields, nested paths, integer and enum bounds, array E2BIG', () => {
  const schema = s.object({
    name: s.string({ maxLength: 8 }),
    n: s.optional(s.integer(1, 10)),
    mode: s.optional(s.enumOf(['a', 'b'] as const)),
    list: s.optional(s.array(s.object({ v: s.boolean() }), { maxItems: 2 })),
  });
  assert.deepEqual(schema.parse({ name: 'x', n: 3, list: [{ v: true }] }, ''), {
    name: 'x',
    n: 3,
    list: [{ v: true }],
  });
  const cases: [unknown, string, RegExp][] = [
    [{}, 'EINVAL', /'name' is required/],
    [{ name: 'x', extra: 1 }, 'EINVAL', /unknown field 'extra'/],
    [{ name: 'x', n: 11 }, 'EINVAL', /'n' must be an integer in 1\.\.10/],
    [{ name: 'x', n: 1.5 }, 'EINVAL', /'n'/],
    [{ name: 'x', mode: 'c' }, 'EINVAL', /one of a, b/],
    [{ name: 'x', list: [{ v: 1 }] }, 'EINVAL', /'list\[0\]\.v'/],
    [{ name: 'x', list: [{ v: true }, { v: true }, { v: true }] }, 'E2BIG', /at most 2/],
    [{ name: 'x'.repeat(9) }, 'E2BIG', /longer than 8/],
    [[], 'EINVAL', /JSON object/],
    ['x', 'EINVAL', /JSON object/],
  ];
  for (const [input, code, message] of cases) {
    assert.throws(
      () => schema.parse(input, ''),
      (e: Error & { code: string }) => {
        assert.equal(e.code, code, JSON.stringify(input));
        assert.match(e.message, message);
        return true;
      },
    );
  }
});

test('the OpenAPI document is generated from the validating schemas, for every route', () => {
  const doc = openApiDocument(routes, '1.2.3') as {
    openapi: string;
    info: { version: string };
    paths: Record<string, Record<string, Record<string, unknown>>>;
    components: {
      schemas: { Error: { properties: { error: { properties: { code: { enum: string[] } } } } } };
    };
  };
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(doc.info.version, '1.2.3');
  const ops = new Set<string>();
  for (const r of routes) {
    const entry = doc.paths[r.path]?.[r.method.toLowerCase()];
    assert.ok(entry, `${r.method} ${r.path} documented`);
    const body = entry.requestBody as { content: Record<string, { schema: unknown }> } | undefined;
    if (r.body) assert.equal(body?.content['application/json']?.schema, r.body.json, `${r.path} body schema`);
    else assert.equal(body?.content['application/json'], undefined);
    if (r.streamsBody) assert.ok(body?.content['application/octet-stream'], `${r.path} takes a stream`);
    if (r.raw) assert.ok(body?.content['application/octet-stream']);
    if (r.auth === 'none') assert.deepEqual(entry.security, []);
    const documented = entry.responses as Record<string, { $ref?: string }>;
    if (r.auth !== 'none')
      assert.equal(documented['429']?.$ref, '#/components/responses/RateLimited', `${r.path} documents 429`);
    if (typeof entry['x-coffer-token-op'] === 'string') ops.add(entry['x-coffer-token-op']);
    const responses = entry.responses as Record<string, { content?: Record<string, { schema: unknown }> }>;
    const success = String(r.status ?? 200);
    // A streaming route answers with its output stream; every other route with JSON.
    const replyType = r.streamsBody ? 'application/octet-stream' : 'application/json';
    const schema = responses[success]?.content?.[replyType]?.schema as JsonSchema | undefined;
    assert.equal(schema, r.response, `${r.path} documents its ${success} response`);
    // A closed object with no properties would tell clients every field of the reply is invalid.
    const closedEmpty =
      schema?.additionalProperties === false && Object.keys(schema.properties ?? {}).length === 0;
    assert.equal(closedEmpty, false, `${r.method} ${r.path} response schema allows its fields`);
  }
  const created = routes.filter((r) => r.status === 201).map((r) => `${r.method} ${r.path}`);
  assert.deepEqual(created.sort(), [
    'POST /v1/hd/seeds',
    'POST /v1/hd/seeds/import',
    'POST /v1/hd/seeds/{seed}/accounts',
    'POST /v1/items',
    'POST /v1/keys',
    'POST /v1/keys/batch',
    'POST /v1/keys/import',
    'POST /v1/sync/create',
    'POST /v1/sync/invites',
    'POST /v1/tokens',
    'POST /v1/trust-anchors',
  ]);
  assert.deepEqual([...ops].sort(), [...TOKEN_OPS].sort(), 'every token operation guards some route');
  assert.deepEqual(
    doc.components.schemas.Error.properties.error.properties.code.enum,
    Object.keys(ERROR_CODES),
  );
  const count = Object.values(doc.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
  assert.equal(count, routes.length, 'no two routes share a method and path');
});
