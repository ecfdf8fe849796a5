// The daemon's route table and dispatcher (DESIGN §1: handlers are thin — parse → one core call →
// format). Every route declares its auth level, the token operation it needs, its body bound and its
// schemas; the dispatcher enforces them in a fixed order (route → credential → operation scope → body →
// key's app scope → handler) so no handler can forget a check, and the OpenAPI document is generated
// from the same declarations.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertKeyId } from '../core/names.js';
import { asCofferError, CofferError } from '../errors.js';
import type { Daemon } from './daemon.js';
import { mediaType, parseJsonBody, RAW_TYPE, readBody, sendError, sendJson, sendRaw } from './http.js';
import { decodeBase64, type JsonSchema, parseQuery, type Schema } from './schema.js';
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
  pattern: RegExp;
  names: string[];
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

  constructor(routes: Route[]) {
    this.routes = routes;
    this.#compiled = routes.map((r) => {
      const names: string[] = [];
      const source = r.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      return { route: r, pattern: new RegExp(`^${source}$`), names };
    });
  }

  #match(method: string, pathname: string): { route: Route; params: Record<string, string> } {
    let pathMatched = false;
    for (const c of this.#compiled) {
      const m = c.pattern.exec(pathname);
      if (!m) continue;
      pathMatched = true;
      if (c.route.method !== method) continue;
      const params: Record<string, string> = {};
      c.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1] ?? '');
      });
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
    try {
      const url = new URL(req.url ?? '/', 'http://coffer');
      const { route: r, params } = this.#match(req.method ?? 'GET', url.pathname);
      meta.route = `${r.method} ${r.path}`;
      const query = r.query ? parseQuery(r.query, url.searchParams) : undefined;
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
        body = r.body.parse(parseJsonBody(data), '');
      } else if (r.streamsBody) {
        if (mediaType(req) !== RAW_TYPE)
          throw new CofferError('EINVAL', `this route takes an ${RAW_TYPE} body`);
      } else if (r.method !== 'GET') {
        // Routes without a body still drain a small one, bounded, so keep-alive stays in step.
        await readBody(req, r.maxBody);
        bodyRead = true;
      }
      if (params.id !== undefined && r.path.startsWith('/v1/keys/')) {
        assertKeyId(params.id);
        if (token && !token.apps.includes('*')) {
          const app = await daemon.keyApp(params.id);
          if (!allowsApp(token, app))
            throw new CofferError('EPERM', `this token may not use keys of app '${app}'`);
        }
      }
      const note: Record<string, string | number> = {};
      meta.note = note;
      const reply = await r.handler({ params, body, query, raw, token, daemon, version, note });
      if ('stream' in reply) reply.stream(req, res);
      else if ('raw' in reply) sendRaw(res, reply.raw);
      else sendJson(res, r.status ?? 200, reply.json);
    } catch (caught) {
      const error = asCofferError(caught);
      meta.code = error.code;
      // An unread (possibly huge) body is not drained: the connection is closed after the reply.
      if (!bodyRead && req.method !== 'GET' && !req.complete) res.setHeader('connection', 'close');
      sendError(res, error, unauthenticated);
    }
  }
}
