// `coffer serve` (SPEC §10): the HTTP/1.1 JSON API under /v1 on a Unix socket
// (0600, in a directory nobody else can write) and/or TCP (loopback, or any address with TLS).
// Requests are bounded (header size, per-route body size, timeouts), logged as structured JSON without
// bodies or credentials, and a shutdown lets in-flight requests finish before the store is closed.
import { chmod, lstat, readFile, stat, unlink } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { type Logger, pino } from 'pino';
import { readUnlockAttempts } from '../access/lockout.js';
import { CofferError } from '../errors.js';
import type { AnchorConfig } from '../protect/anchor.js';
import { assertProtectorConfig, type ProtectorConfig } from '../protect/configs.js';
import { openStorage } from '../storage/open.js';
import { packageVersion } from '../version.js';
import { LOG_LEVELS, type LogLevel, logRequest } from './access-log.js';
import { consoleHandler, isConsolePath } from './console.js';
import { Daemon, type RotationOptions } from './daemon.js';
import { DEFAULT_TIMEOUTS, Deadlines, type Timeouts } from './deadlines.js';
import { type LimitOptions, resolveLimits, TokenLimits } from './limits.js';
import { DaemonMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { WorkerPool } from './pool/pool.js';
import { type RequestMeta, Router } from './router.js';
import { allRoutes } from './routes.js';
import { metricsListenerHandler } from './routes-metrics.js';

export interface ServerOptions {
  /** Store URL (sqlite:, dir:, postgres://) of an existing keystore. */
  store: string;
  /** keyring / tpm2 / pkcs11 unlock at start; a passphrase protector does not (POST /v1/unlock). */
  protector?: ProtectorConfig;
  /** Unix socket path (its directory must not be writable by group or others). */
  socket?: string;
  /** 'HOST:PORT' ('[::1]:PORT' for IPv6); port 0 picks a free one. Loopback only unless tls is set. */
  listen?: string;
  /** PEM file paths for HTTPS on the TCP listener. */
  tls?: { cert: string; key: string };
  /** A pino logger; false for none; default JSON lines on stdout at `logLevel`. */
  logger?: Logger | false;
  /**
   * Level of the default logger (default 'info'; ignored when `logger` is given). Successful requests
   * are logged at 'debug' only, refusals (4xx but 429) at 'info', failures at 'error' (docs/daemon.md "Logs").
   */
  logLevel?: LogLevel;
  insecureDeterministic?: boolean;
  clock?: () => number;
  /** Close gracefully on SIGTERM/SIGINT, then exit (default true). */
  handleSignals?: boolean;
  /** How long close() waits for in-flight requests before cutting connections (default 10 s). */
  shutdownTimeoutMs?: number;
  /**
   * The rotation scheduler (on by default while unlocked): tick period, webhooks to notify (POST with
   * a Coffer-Signature HMAC header), and a stable instance name. false: none (use `coffer rotate due`).
   */
  rotation?: RotationOptions | false;
  /** Rollback anchor outside the store (SPEC §4.2, docs/protectors.md). */
  anchor?: AnchorConfig;
  /** Accept the store the anchor calls older, with this reason (audited; SPEC §4.2). */
  acceptRollback?: string;
  /** Upgrade a format-1 store at the first unlock (SPEC §4.3). */
  upgrade?: boolean;
  /**
   * Crypto worker threads (docs/daemon.md "Worker pool"): default one per available core; 0 runs every
   * operation on the event loop (not recommended: one ML-DSA batch then stalls every other request).
   */
  workers?: number;
  /** Per-token limits (SPEC §10.5): requests in flight, operations per second, burst. 0 turns one off. */
  limits?: LimitOptions;
  /**
   * Request bounds (docs/daemon.md "Timeouts"): an ordinary request's body within `requestMs` of its
   * headers (default 120 s); a sealed stream is cut only after `streamIdleMs` without a byte moving
   * (default 60 s), however long it lasts.
   */
  timeouts?: Partial<Timeouts>;
  /**
   * A second listener, loopback only, serving GET /metrics without a token (docs/metrics.md): for a
   * Prometheus on the same host, and for scrapes while the daemon is locked. 'HOST:PORT'; port 0 picks one.
   */
  metricsListen?: string;
  /** Where the built web console is (default dist/ui of this package); served at /ui (docs/console.md). */
  consoleDir?: string;
}

export interface RunningServer {
  close(): Promise<void>;
  socket?: string;
  url?: string;
  /** The metrics listener's URL of /metrics, when metricsListen was given. */
  metricsUrl?: string;
}

/**
 * Node's own header limit is 16 KiB; the daemon keeps it there explicitly (CVE-2018-12121 class). Slow
 * headers are Node's to cut (headersTimeout); Node's whole-request timeout is off because it would cut
 * long streams: deadlines.ts bounds bodies instead, per route.
 */
const SERVER_OPTIONS = {
  maxHeaderSize: 16 * 1024,
  requestTimeout: 0,
  headersTimeout: 15_000,
  keepAliveTimeout: 5_000,
} as const;

function parseListen(listen: string, tls: boolean): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || port > 65535)
    throw new CofferError('EINVAL', "listen must be 'HOST:PORT' (e.g. 127.0.0.1:7733 or [::1]:7733)");
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (!loopback && !tls)
    throw new CofferError(
      'EPERM',
      `refusing plain HTTP on ${host}: use a loopback address, or configure TLS`,
    );
  return { host, port };
}

function validate(options: ServerOptions): void {
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'options must be an object');
  if (typeof options.store !== 'string' || options.store.length === 0)
    throw new CofferError('EINVAL', 'store must be a store URL (sqlite:PATH, dir:PATH, postgres://…)');
  if (options.socket === undefined && options.listen === undefined)
    throw new CofferError('EINVAL', 'give a socket path, a listen address, or both');
  if (options.socket !== undefined && (typeof options.socket !== 'string' || options.socket.length === 0))
    throw new CofferError('EINVAL', 'socket must be a path');
  if (options.listen !== undefined && typeof options.listen !== 'string')
    throw new CofferError('EINVAL', "listen must be 'HOST:PORT'");
  if (options.tls !== undefined) {
    if (options.listen === undefined) throw new CofferError('EINVAL', 'tls needs a listen address');
    if (typeof options.tls?.cert !== 'string' || typeof options.tls?.key !== 'string')
      throw new CofferError('EINVAL', 'tls needs cert and key PEM file paths');
  }
  if (options.logLevel !== undefined && !(LOG_LEVELS as readonly unknown[]).includes(options.logLevel))
    throw new CofferError('EINVAL', `logLevel must be one of ${LOG_LEVELS.join(', ')}`);
  if (options.listen !== undefined) parseListen(options.listen, options.tls !== undefined);
  if (options.metricsListen !== undefined) {
    if (typeof options.metricsListen !== 'string')
      throw new CofferError('EINVAL', "metricsListen must be 'HOST:PORT'");
    // Never with TLS: the metrics listener is plain HTTP, so it must stay on loopback.
    parseListen(options.metricsListen, false);
  }
  if (options.protector !== undefined) assertProtectorConfig(options.protector);
  if (options.clock !== undefined && typeof options.clock !== 'function')
    throw new CofferError('EINVAL', 'clock must be a function');
  if (
    options.workers !== undefined &&
    (!Number.isSafeInteger(options.workers) || options.workers < 0 || options.workers > 64)
  )
    throw new CofferError('EINVAL', 'workers must be an integer in 0..64');
  resolveLimits(options.limits);
  for (const [name, value] of Object.entries(options.timeouts ?? {}))
    if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > 86_400_000)
      throw new CofferError('EINVAL', `timeouts.${name} must be a whole number of ms from 1 to 86400000`);
}

/** A Unix socket directory others can write lets them replace the socket with their own (EPERM). */
async function checkSocketPath(path: string): Promise<void> {
  const dir = dirname(path);
  const info = await stat(dir).catch(() => {
    throw new CofferError('ENOENT', `socket directory ${dir} does not exist`);
  });
  if (!info.isDirectory()) throw new CofferError('EINVAL', `${dir} is not a directory`);
  if ((info.mode & 0o022) !== 0)
    throw new CofferError(
      'EPERM',
      `socket directory ${dir} is writable by group or others (mode ${(info.mode & 0o777).toString(8)}): use a directory of mode 0700 (chmod 700 ${dir})`,
    );
  if (typeof process.getuid === 'function' && info.uid !== process.getuid() && info.uid !== 0)
    throw new CofferError('EPERM', `socket directory ${dir} belongs to another user`);
  const existing = await lstat(path).catch(() => undefined);
  if (existing === undefined) return;
  if (!existing.isSocket()) throw new CofferError('EALREADY', `${path} exists and is not a socket`);
  // A socket file is either a live daemon (refuse) or left by one that died (remove it).
  const live = await new Promise<boolean>((done) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      done(true);
    });
    probe.once('error', () => done(false));
  });
  if (live) throw new CofferError('EALREADY', `another daemon is listening on ${path}`);
  await unlink(path);
}

function listenOn(server: Server, target: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      fail(
        new CofferError(
          error.code === 'EADDRINUSE' ? 'EALREADY' : 'EUNAVAIL',
          `cannot listen: ${error.message}`,
        ),
      ),
    );
    if ('path' in target) {
      // The socket is created 0600 from the start (umask), not chmod'ed after a window.
      const previous = process.umask(0o177);
      try {
        server.listen(target.path, () => done());
      } finally {
        process.umask(previous);
      }
    } else {
      server.listen(target.port, target.host, () => done());
    }
  });
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  validate(options);
  const logger: Logger =
    options.logger === false
      ? pino({ enabled: false })
      : (options.logger ?? pino({ name: 'coffer', level: options.logLevel ?? 'info' }));
  const clock = options.clock ?? Date.now;
  const socketPath = options.socket !== undefined ? resolve(options.socket) : undefined;
  if (socketPath !== undefined) await checkSocketPath(socketPath);
  const tls = options.tls
    ? {
        cert: await readFile(options.tls.cert, 'utf8').catch(() => {
          throw new CofferError('ENOENT', `cannot read TLS certificate ${options.tls?.cert}`);
        }),
        key: await readFile(options.tls.key, 'utf8').catch(() => {
          throw new CofferError('ENOENT', `cannot read TLS key ${options.tls?.key}`);
        }),
      }
    : undefined;
  if (options.insecureDeterministic) {
    logger.warn(
      'insecure deterministic mode: keys created by this daemon are predictable and marked insecure',
    );
  }

  const metrics = new DaemonMetrics();
  const storage = metrics.instrumentStorage(await openStorage(options.store, { create: false }));
  const pool = options.workers === 0 ? undefined : new WorkerPool({ workers: options.workers });
  let daemon: Daemon;
  try {
    daemon = await Daemon.open(storage, {
      clock,
      ...(pool ? { pool } : {}),
      insecureDeterministic: options.insecureDeterministic === true,
      metrics,
      rotation: options.rotation === false ? false : (options.rotation ?? {}),
      keystore: {
        ...(options.anchor ? { anchor: options.anchor } : {}),
        ...(options.acceptRollback ? { acceptRollback: options.acceptRollback } : {}),
        ...(options.upgrade ? { upgrade: true } : {}),
      },
      onBackgroundError: (error, what) =>
        logger.warn(
          { what, code: error instanceof CofferError ? error.code : 'EINTERNAL' },
          'background task failed',
        ),
    });
  } catch (error) {
    await storage.close().catch(() => {});
    await pool?.close();
    metrics.close();
    throw error;
  }
  metrics.attach({
    locked: () => daemon.locked,
    listKeys: () => (daemon.locked ? undefined : daemon.keystore().listKeys()),
    unlockAttempts: () => readUnlockAttempts(daemon.storage, daemon.clock()),
    poolQueueDepth: () => pool?.queueDepth,
    clock: daemon.clock,
  });
  if (options.protector !== undefined && options.protector.type !== 'passphrase') {
    try {
      await daemon.unlockWithProtector(options.protector);
      logger.info({ protector: options.protector.type }, 'unlocked at start');
    } catch (error) {
      // Starting locked keeps the daemon reachable for a passphrase unlock (another keyslot).
      const code = error instanceof CofferError ? error.code : 'EINTERNAL';
      logger.error(
        {
          protector: options.protector.type,
          code,
          message: error instanceof Error ? error.message : String(error),
        },
        'auto-unlock failed; the daemon starts locked',
      );
    }
  }

  const version = await packageVersion();
  let document: unknown;
  const router: Router = new Router(
    allRoutes(() => {
      document ??= openApiDocument(router.routes, version);
      return document;
    }),
    new TokenLimits(options.limits),
  );

  const timeouts: Timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const deadlines = new Deadlines(timeouts);
  const ui = consoleHandler(options.consoleDir);
  let inFlight = 0;
  let closing = false;
  let drained: (() => void) | undefined;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    const started = performance.now();
    const { watch, startStreaming } = deadlines.watch(req, res);
    const meta: RequestMeta = { startStreaming };
    if (closing) res.setHeader('connection', 'close');
    res.once('close', () => {
      inFlight--;
      deadlines.release(watch);
      metrics.requests.inc({ route: meta.route ?? 'unmatched', status: String(res.statusCode) });
      logRequest(logger, res.statusCode, () => ({
        method: req.method,
        route: meta.route ?? 'unmatched',
        status: res.statusCode,
        ms: Math.round((performance.now() - started) * 100) / 100,
        ...(meta.token ? { tokenId: meta.token } : {}),
        ...(meta.code ? { code: meta.code } : {}),
        ...(meta.note ?? {}),
      }));
      if (inFlight === 0) drained?.();
    });
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (isConsolePath(path)) {
      meta.route = 'GET /ui';
      ui(req, res, path);
      return;
    }
    router.dispatch(req, res, daemon, version, meta).catch((error: unknown) => {
      logger.error({ code: 'EINTERNAL', message: String(error) }, 'dispatch failed');
      res.destroy();
    });
  };

  const servers: Server[] = [];
  const result: RunningServer = { close: async () => {} };
  try {
    if (socketPath !== undefined) {
      const server = createHttpServer(SERVER_OPTIONS, onRequest);
      servers.push(server);
      await listenOn(server, { path: socketPath });
      await chmod(socketPath, 0o600);
      result.socket = socketPath;
    }
    if (options.listen !== undefined) {
      const { host, port } = parseListen(options.listen, tls !== undefined);
      const server = tls
        ? createHttpsServer({ ...SERVER_OPTIONS, ...tls }, onRequest)
        : createHttpServer(SERVER_OPTIONS, onRequest);
      servers.push(server);
      await listenOn(server, { host, port });
      const address = server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      result.url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    }
    if (options.metricsListen !== undefined) {
      const { host, port } = parseListen(options.metricsListen, false);
      const server = createHttpServer(SERVER_OPTIONS, metricsListenerHandler(daemon));
      servers.push(server);
      await listenOn(server, { host, port });
      const address = server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      result.metricsUrl = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}/metrics`;
    }
  } catch (error) {
    for (const server of servers) server.close();
    if (socketPath !== undefined) await unlink(socketPath).catch(() => {});
    await daemon.close().catch(() => {});
    metrics.close();
    throw error;
  }

  let closed: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down');
    result.close().finally(() => {
      // Anything else still holding the event loop must not keep a daemon that was told to stop.
      setTimeout(() => process.exit(0), 2000).unref();
    });
  };
  if (options.handleSignals !== false) {
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  result.close = () => {
    closed ??= (async () => {
      closing = true;
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
      const stopped = Promise.all(
        servers.map((server) => new Promise<void>((done) => server.close(() => done()))),
      );
      for (const server of servers) server.closeIdleConnections();
      daemon.endStreams();
      if (inFlight > 0) {
        await new Promise<void>((done) => {
          drained = done;
          setTimeout(done, options.shutdownTimeoutMs ?? 10_000).unref();
        });
      }
      for (const server of servers) server.closeAllConnections();
      deadlines.stop();
      await stopped;
      await daemon.close();
      metrics.close();
      if (socketPath !== undefined) await unlink(socketPath).catch(() => {});
      logger.info('stopped');
    })();
    return closed;
  };
  logger.info(
    {
      socket: result.socket,
      url: result.url,
      ...(result.metricsUrl ? { metricsUrl: result.metricsUrl } : {}),
      locked: daemon.locked,
      keystoreId: daemon.header.id,
      workers: pool?.size ?? 0,
    },
    'coffer daemon listening',
  );
  return result;
}
