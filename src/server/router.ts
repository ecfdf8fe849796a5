// The daemon's route table and dispatcher (handlers are thin: parse → one core call → format). Every
// route declares its auth level, the token operation it needs, its body bound and its schemas; the
// dispatcher enforces them in the fixed order of SPEC §10.2 — target → route → credential → operation
// scope → per-token limits → the key's app → body → handler — so no handler can forget a check, nothing
// is read from a request body before its sender is known to be allowed to send it, and the OpenAPI
// document is generated from the same declarations.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertKeyId } from '../core/names.js';
import { asCofferError, CofferError } from '../errors.js';
import { encodeReply, LARGE_JSON, replyBytes } from './codec.js';
import type { Daemon } from './daemon.js';
import { mediaType, parseJsonBody, RAW_TYPE, readBody, sendError, sendJson, sendRaw } from './http.js';
import type { TokenLimits } from './limits.js';
import { decodeBase64, type JsonSchema, parseQuery, type Schema } from './schema.js';
import { parseTarget } from './target.js';
import { allowsApp, allowsOp, type TokenInfo, type TokenOp } from './tokens.js';

export type Auth = 'none' | 'token' | 'admin';

export interface RawBody {
  data: Uint8Array;
  aad?: Uint8Array;
}

export interface Context<B, Q> {
  params: Record<string, string>;
  body: B;
  query: Q;
  /** Set when the request came as application/octet-stream (raw routes only). */
  raw: RawBody | undefined;
  token: TokenInfo | undefined;
  daemon: Daemon;
  version: string;
  /** Seen by the request log: what the handler wants recorded beside the route (never secrets). */
  note: Record<string, string | number>;
  /** Counts further operations against the token's rate (a batch's items beyond the first). */
  charge(operations: number): void;
}

export type Reply =
  | { json: unknown }
  | { raw: Uint8Array }
  /** A long-lived response (server-sent events): the handler takes the request and response over. */
  | { stream: (req: IncomingMessage, res: ServerResponse) => void };

export interface Route<B = unknown, Q = unknown> {
  method: 'GET' | 'POST' | 'DELETE';
  /** e.g. `/v1/keys/{id}/sign`. */
  path: string;
  summary: string;
  auth: Auth;
  /** Token operation the route needs (key routes also check the key's app). */
  op?: TokenOp;
  body?: Schema<B>;
  query?: Schema<Q>;
  /** The status of a JSON success (default 200); the OpenAPI document reads it from here too. */
  status?: 201;
  /** Largest accepted body in bytes. */
  maxBody: number;
  /**
   * Accepts application/octet-stream (AAD in the Coffer-AAD header as base64); `tooLarge` replaces the
   * generic E2BIG message for a body over maxBytes (e.g. to point at the streaming route).
   */
  raw?: { maxBytes: number; tooLarge?: string };
  /**
   * The body is application/octet-stream of any length, left unread for the handler, which streams it
   * through a `{ stream }` reply (sealed streams, SPEC §6.2); maxBody does not apply.
   */
  streamsBody?: true;
  /** Answered while locked without authenticating (only for routes that reveal and change nothing). */
  lockedNoop?: boolean;
  response: JsonSchema;
  /**
   * For routes on a resource other than a key (e.g. an HD seed): the path parameter naming it and
   * how to find its app, checked like a key's app — before the body, and a resource of another app
   * answers exactly like one that does not exist (SPEC §10.2).
   */
  owner?: {
    param: string;
    app(daemon: Daemon, value: string): Promise<string | undefined>;
    notFound(value: string): CofferError;
  };
  handler(ctx: Context<B, Q>): Promise<Reply> | Reply;
}

/** Lets TypeScript infer B and Q from the schemas of one route literal. */
export function route<B = undefined, Q = undefined>(r: Route<B, Q>): Route {
  return r as unknown as Route;
}

/** Bound on the Coffer-AAD header (the core's AAD bound is 64 KiB; headers are bounded below it). */
export const MAX_HEADER_AAD = 12 * 1024;

interface Compiled {
  route: Route;
  /** Per path segment: a literal to equal, or the name of a parameter (any non-empty segment). */
  segments: ({ literal: string } | { param: string })[];
}

/** Estimated µs to parse or write `bytes` of JSON with base64 in it (for the pool's queue). */
function jsonCost(bytes: number): number {
  return Math.ceil(bytes / 100);
}

/** The one answer for a key id the token may not see and for one that does not exist (SPEC §10.2). */
function noSuchKey(id: string): CofferError {
  return new CofferError('ENOENT', `no key ${id}`);
}

export interface RequestMeta {
  route?: string;
  token?: string;
  code?: string;
  note?: Record<string, string | number>;
}

export class Router {
  readonly routes: Route[];
  #compiled: Compiled[];
  #limits: TokenLimits | undefined;

  constructor(routes: Route[], limits?: TokenLimits) {
    this.routes = routes;
    this.#limits = limits;
    this.#compiled = routes.map((r) => ({
      route: r,
      segments: r.path
        .slice(1)
        .split('/')
        .map((part) => {
          const param = /^\{(\w+)\}$/.exec(part)?.[1];
          return param !== undefined ? { param } : { literal: part };
        }),
    }));
  }

  /** The route for a method and decoded path segments (parameters are whole decoded segments). */
  match(method: string, segments: string[]): { route: Route; params: Record<string, string> } {
    let pathMatched = false;
    for (const c of this.#compiled) {
      if (c.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      const fits = c.segments.every((part, i) => {
        const segment = segments[i] as string;
        if ('literal' in part) return part.literal === segment;
        params[part.param] = segment;
        return segment.length > 0;
      });
      if (!fits) continue;
      pathMatched = true;
      if (c.route.method !== method) continue;
      return { route: c.route, params };
    }
    if (pathMatched) throw new CofferError('EINVAL', `method ${method.slice(0, 10)} is not allowed here`);
    throw new CofferError('ENOENT', 'no such route (see /v1/openapi.json)');
  }

  async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    daemon: Daemon,
    version: string,
    meta: RequestMeta,
  ): Promise<void> {
    let unauthenticated = false;
    let bodyRead = false;
    let release: (() => void) | undefined;
    try {
      const target = parseTarget(req.url ?? '');
      const { route: r, params } = this.match(req.method ?? 'GET', target.segments);
      meta.route = `${r.method} ${r.path}`;
      const query = r.query ? parseQuery(r.query, target.query) : undefined;
      let token: TokenInfo | undefined;
      if (r.auth !== 'none') {
        const header = req.headers.authorization;
        const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
        if (bearer === undefined) {
          unauthenticated = true;
          throw new CofferError('EPERM', 'this route needs a bearer token (Authorization: Bearer coffer_…)');
        }
        if (r.lockedNoop && daemon.locked) {
          sendJson(res, 200, await daemon.status(version));
          return;
        }
        try {
          token = await daemon.authenticate(bearer);
        } catch (error) {
          unauthenticated = error instanceof CofferError && error.code === 'EPERM';
          throw error;
        }
        meta.token = token.id;
        if (r.auth === 'admin' && !token.admin)
          throw new CofferError('EPERM', 'this route needs an admin token');
        if (r.op && !allowsOp(token, r.op))
          throw new CofferError('EPERM', `this token may not perform '${r.op}'`);
        release = this.#limits?.admit(token.id);
      }
      if (params.id !== undefined && r.path.startsWith('/v1/keys/')) {
        assertKeyId(params.id);
        if (token && !token.apps.includes('*')) {
          // A key of another app and a key that does not exist get the same 404 after the same
          // lookup, before any body is read: a token learns nothing about other apps' keys.
          const app = await daemon.keyApp(params.id);
          if (app === undefined || !allowsApp(token, app)) {
            if (app !== undefined) await daemon.missedLookup();
            throw noSuchKey(params.id);
          }
        }
      }
      const owner = r.owner;
      if (owner && token && !token.apps.includes('*')) {
        const value = params[owner.param] ?? '';
        const app = await owner.app(daemon, value);
        if (app === undefined || !allowsApp(token, app)) throw owner.notFound(value);
      }
      let body: unknown;
      let raw: RawBody | undefined;
      if (r.raw && mediaType(req) === RAW_TYPE) {
        const tooLarge = r.raw.tooLarge;
        const data = await readBody(req, r.raw.maxBytes).catch((error: unknown) => {
          throw tooLarge && error instanceof CofferError && error.code === 'E2BIG'
            ? new CofferError('E2BIG', tooLarge)
            : error;
        });
        bodyRead = true;
        const aadHeader = req.headers['coffer-aad'];
        raw = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
        if (typeof aadHeader === 'string') raw.aad = decodeBase64(aadHeader, 'Coffer-AAD', MAX_HEADER_AAD);
      } else if (r.body) {
        const data = await readBody(req, r.maxBody);
        bodyRead = true;
        const pool = daemon.pool;
        // A large JSON body is parsed, and its base64 decoded, off the event loop (codec.ts).
        body =
          pool && data.length >= LARGE_JSON
            ? await pool.task('decodeBody', [meta.route, data], jsonCost(data.length), true)
            : r.body.parse(parseJsonBody(data), '');
      } else if (r.streamsBody) {
        if (mediaType(req) !== RAW_TYPE)
          throw new CofferError('EINVAL', `this route takes an ${RAW_TYPE} body`);
      } else if (r.method !== 'GET') {
        // Routes without a body still drain a small one, bounded, so keep-alive stays in step.
        await readBody(req, r.maxBody);
        bodyRead = true;
      }
      const note: Record<string, string | number> = {};
      meta.note = note;
      const limits = this.#limits;
      const charge = (operations: number) => {
        if (token && limits) limits.charge(token.id, operations);
      };
      const reply = await r.handler({ params, body, query, raw, token, daemon, version, note, charge });
      if ('stream' in reply) reply.stream(req, res);
      else if ('raw' in reply) sendRaw(res, reply.raw);
      else {
        const pool = daemon.pool;
        const size = pool ? replyBytes(reply.json) : 0;
        const json =
          pool && size >= LARGE_JSON
            ? ((await pool.task('encodeReply', [reply.json], jsonCost(size))) as Uint8Array)
            : encodeReply(reply.json);
        sendJson(res, r.status ?? 200, json);
      }
    } catch (caught) {
      const error = asCofferError(caught);
      meta.code = error.code;
      // An unread (possibly huge) body is not drained: the connection is closed after the reply.
      if (!bodyRead && req.method !== 'GET' && !req.complete) res.setHeader('connection', 'close');
      sendError(res, error, unauthenticated);
    } finally {
      release?.();
    }
  }
}
