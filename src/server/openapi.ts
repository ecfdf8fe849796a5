// /v1/openapi.json, generated from the route table: the request schemas here are the very objects the
// dispatcher validates with (schema.ts), so the document cannot drift from what the daemon accepts.
import { ERROR_CODES } from '../errors.js';
import type { Route } from './router.js';
import type { JsonSchema } from './schema.js';

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', enum: Object.keys(ERROR_CODES) }, message: { type: 'string' } },
    },
  },
};

function queryParameters(route: Route): unknown[] {
  const props = (route.query?.json.properties ?? {}) as Record<string, JsonSchema>;
  const required = (route.query?.json.required ?? []) as string[];
  return Object.entries(props).map(([name, schema]) => ({
    name,
    in: 'query',
    required: required.includes(name),
    schema,
  }));
}

function pathParameters(route: Route): unknown[] {
  return [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
}

export function openApiDocument(routes: Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const statuses = [...new Set(Object.values(ERROR_CODES).map((c) => c.http))].sort();
  for (const r of routes) {
    const content: Record<string, unknown> = {};
    if (r.body) content['application/json'] = { schema: r.body.json };
    if (r.raw)
      content['application/octet-stream'] = {
        schema: { type: 'string', format: 'binary', maxLength: r.raw.maxBytes },
      };
    if (r.streamsBody) content['application/octet-stream'] = { schema: { type: 'string', format: 'binary' } };
    const responses: Record<string, unknown> = {
      [String(r.status ?? 200)]: {
        description: 'success',
        content: r.streamsBody
          ? { 'application/octet-stream': { schema: r.response } }
          : {
              'application/json': { schema: r.response },
              ...(r.raw
                ? { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } }
                : {}),
            },
      },
    };
    for (const status of statuses) {
      responses[String(status)] = { $ref: '#/components/responses/Error' };
    }
    if (r.auth !== 'none') {
      responses['401'] = { $ref: '#/components/responses/Error' };
      // Per-token limits (SPEC §10.5) apply to every authenticated route.
      responses['429'] = { $ref: '#/components/responses/RateLimited' };
    }
    const parameters = [...pathParameters(r), ...queryParameters(r)];
    if (r.raw || r.streamsBody) {
      parameters.push({
        name: 'Coffer-AAD',
        in: 'header',
        required: false,
        schema: { type: 'string', format: 'byte' },
        description: 'AAD (base64) for a raw application/octet-stream body',
      });
    }
    const item = paths[r.path] ?? {};
    paths[r.path] = item;
    item[r.method.toLowerCase()] = {
      summary: r.summary,
      operationId: `${r.method.toLowerCase()}${r.path.replace(/[^A-Za-z0-9]+(\w)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      ...(r.auth === 'none' ? { security: [] } : {}),
      ...(r.op ? { 'x-coffer-token-op': r.op } : {}),
      ...(r.auth === 'admin' ? { 'x-coffer-admin': true } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(Object.keys(content).length > 0 ? { requestBody: { required: true, content } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Coffer daemon API',
      version,
      description:
        'Keys and operations of a Coffer keystore over HTTP/1.1. Bytes are standard base64 in JSON. Errors are { error: { code, message } } with the HTTP status of the code.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'coffer_<43 base64url chars>' },
      },
      schemas: { Error: ERROR_SCHEMA },
      responses: {
        Error: {
          description: 'an error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
        RateLimited: {
          description:
            'ERATE: the token has too many requests in flight or is over its operations per second',
          headers: {
            'Retry-After': {
              description: 'seconds after which a retry can succeed',
              schema: { type: 'integer', minimum: 1 },
            },
          },
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    },
    paths,
  };
}
