// `SyncServer` (SPEC §17.8): the HTTP + WebSocket front of the sync store. Dispatches routes,
// applies the rate limits and the body bound, upgrades authenticated push subscriptions, logs with
// pino (never a body), and shuts down gracefully: stop accepting, let requests in flight finish,
// then close push sockets with 1001. It holds no key that decrypts anything.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import pino, { type Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { asCofferError, CofferError } from '../../errors.js';
import { readBody } from '../../server/http.js';
import { parseJson, sendError, sendJson } from './http.js';
import { Buckets, type Rate } from './limits.js';
import { ManifestCache } from './manifest-cache.js';
import { PushHub } from './push.js';
import * as routes from './routes.js';
import { SyncStore } from './store.js';

export interface SyncServerOptions {
  /** `sqlite:PATH` (embedded) or `postgres://…` (several instances may share it). */
  store: string;
  /** `HOST:PORT` (`[::1]:PORT` for IPv6); port 0 picks a free one. Default 127.0.0.1:0. */
  listen?: string;
  /** PEM certificate chain and key: serve HTTPS/WSS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** pino level; default 'silent' for the library, 'info' from the CLI. */
  logLevel?: string;
  logger?: Logger;
  limits?: { perDevice?: Rate; perAccount?: Rate; perAddress?: Rate; maxBodyBytes?: number };
  /** Wall clock in ms (tests move it to expire challenges, sessions and invites). */
  now?: () => number;
}

export const DEFAULT_SERVER_LIMITS = Object.freeze({
  perDevice: { rate: 50, burst: 200 },
  perAccount: { rate: 200, burst: 800 },
  perAddress: { rate: 10, burst: 40 },
  maxBodyBytes: 8 * 1024 * 1024,
});

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[3]);
  if (match === null || port > 65535)
    throw new CofferError('EINVAL', `listen must be HOST:PORT, not ${listen}`);
  return { host: (match[1] ?? match[2]) as string, port };
}

export class SyncServer {
  readonly #inFlight = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  private constructor(
    readonly url: string,
    readonly store: SyncStore,
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    private readonly hub: PushHub,
    private readonly ctx: routes.RouteContext,
    private readonly log: Logger,
    private readonly maxBody: number,
    private readonly unsubscribe: () => void,
  ) {}

  static async start(options: SyncServerOptions): Promise<SyncServer> {
    const { host, port } = parseListen(options.listen ?? '127.0.0.1:0');
    const log = options.logger ?? pino({ level: options.logLevel ?? 'silent', name: 'coffer-sync' });
    const store = await SyncStore.open(options.store);
    const limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    const ctx: routes.RouteContext = {
      store,
      cache: new ManifestCache(),
      now: options.now ?? Date.now,
      perDevice: new Buckets(limits.perDevice, 'this device'),
      perAccount: new Buckets(limits.perAccount, 'this account'),
      perAddress: new Buckets(limits.perAddress, 'this address'),
    };
    const server = options.tls
      ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key })
      : createHttpServer();
    const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
    const hub = new PushHub();
    const unsubscribe = store.onEvent((event) => hub.deliver(event));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      unsubscribe();
      await store.close();
      throw new CofferError('EUNAVAIL', `cannot listen on ${host}:${port}: ${(error as Error).message}`);
    }
    const address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `${options.tls ? 'https' : 'http'}://${shownHost}:${address.port}`;
    const self = new SyncServer(url, store, server, wss, hub, ctx, log, limits.maxBodyBytes, unsubscribe);
    server.on('request', (req, res) => self.#track(self.#handle(req, res)));
    server.on('upgrade', (req, socket, head) => self.#track(self.#upgrade(req, socket, head)));
    log.info({ url, store: store.db.kind }, 'sync server listening');
    return self;
  }

  #track(work: Promise<unknown>): void {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let status = 500;
    const url = new URL(req.url ?? '/', 'http://sync.invalid');
    try {
      const answer = await this.#route(req, url);
      status = answer.error
        ? sendError(res, answer.error, answer.body as Record<string, unknown>)
        : sendJson(res, answer.status, answer.body);
    } catch (error) {
      const coffer = asCofferError(error);
      if (coffer.code === 'EINTERNAL' || coffer.code === 'EUNAVAIL')
        this.log.error({ err: error }, 'request failed');
      status = sendError(res, coffer);
    }
    this.log.debug(
      { method: req.method, path: url.pathname, status, ms: performance.now() - started },
      'request',
    );
  }

  async #body(req: IncomingMessage): Promise<unknown> {
    return parseJson(await readBody(req, this.maxBody));
  }

  async #route(req: IncomingMessage, url: URL): Promise<routes.Answer> {
    const ctx = this.ctx;
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (method === 'GET' && path === '/health') return { status: 200, body: { ok: true } };
    const address = req.socket.remoteAddress ?? '?';
    const invite = /^\/v1\/invites\/([^/]+)\/(request|reply)$/.exec(path);
    const unauthenticated = `${method} ${path}`;
    // Unauthenticated routes: rate-limited per client address before any work.
    if (unauthenticated === 'POST /v1/auth/challenge') {
      ctx.perAddress.admit(address);
      return routes.challenge(ctx, await this.#body(req));
    }
    if (unauthenticated === 'POST /v1/auth/session') {
      ctx.perAddress.admit(address);
      return routes.session(ctx, await this.#body(req));
    }
    if (unauthenticated === 'POST /v1/accounts') {
      ctx.perAddress.admit(address);
      return routes.createAccount(ctx, await this.#body(req));
    }
    if (invite !== null && method === 'PUT' && invite[2] === 'request') {
      ctx.perAddress.admit(address);
      return routes.postJoinRequest(ctx, invite[1] as string, await this.#body(req));
    }
    if (invite !== null && method === 'GET' && invite[2] === 'reply') {
      ctx.perAddress.admit(address);
      return routes.takeJoinReply(ctx, invite[1] as string);
    }
    const known = KNOWN.has(unauthenticated) || invite !== null;
    if (!known) throw new CofferError('ENOENT', `no route ${method} ${path}`);
    const who = await routes.authenticate(ctx, req);
    switch (unauthenticated) {
      case 'GET /v1/circle':
        return routes.getCircle(ctx, who);
      case 'PUT /v1/circle':
        return routes.putCircle(ctx, who, await this.#body(req));
      case 'POST /v1/records/put':
        return routes.putRecords(ctx, who, await this.#body(req));
      case 'POST /v1/records/get':
        return routes.getRecords(ctx, who, await this.#body(req));
      case 'GET /v1/changes':
        return routes.changes(ctx, who, url.searchParams);
      case 'POST /v1/ranges':
        return routes.ranges(ctx, who, await this.#body(req));
      case 'PUT /v1/device-manifest':
        return routes.putDeviceManifest(ctx, who, await this.#body(req));
      case 'GET /v1/device-manifests':
        return routes.getDeviceManifests(ctx, who);
      case 'POST /v1/invites':
        return routes.openInvite(ctx, who, await this.#body(req));
    }
    if (invite !== null && method === 'GET') return routes.takeJoinRequest(ctx, who, invite[1] as string);
    if (invite !== null && method === 'PUT')
      return routes.postJoinReply(ctx, who, invite[1] as string, await this.#body(req));
    throw new CofferError('ENOENT', `no route ${method} ${path}`);
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (status: number, code: string, message: string) => {
      const body = JSON.stringify({ error: { code, message } });
      socket.end(
        `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Error'}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    };
    if (this.#closing !== undefined) return refuse(503, 'EUNAVAIL', 'the server is shutting down');
    const path = new URL(req.url ?? '/', 'http://sync.invalid').pathname;
    if (path !== '/v1/push') return refuse(404, 'ENOENT', 'no such route');
    let who: Awaited<ReturnType<typeof routes.authenticate>>;
    try {
      who = await routes.authenticate(this.ctx, req);
    } catch (error) {
      const coffer = asCofferError(error);
      return refuse(coffer.code === 'EPERM' ? 401 : coffer.httpStatus, coffer.code, coffer.message);
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.hub.add(who, ws));
  }

  /** Push subscribers connected to this instance (tests, metrics). */
  get subscribers(): number {
    return this.hub.size;
  }

  /** Stops accepting, lets requests in flight finish, closes push sockets (1001), closes the store. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
      this.server.closeIdleConnections();
      this.hub.closeAll();
      this.unsubscribe();
      await new Promise<void>((resolve) => this.wss.close(() => resolve()));
      await stopped;
      await this.store.close();
      this.log.info('sync server stopped');
    })();
    return this.#closing;
  }
}

const KNOWN = new Set([
  'GET /v1/circle',
  'PUT /v1/circle',
  'POST /v1/records/put',
  'POST /v1/records/get',
  'GET /v1/changes',
  'POST /v1/ranges',
  'PUT /v1/device-manifest',
  'GET /v1/device-manifests',
  'POST /v1/invites',
]);
