// The per-user agent (docs/cli.md "The agent"), the way gpg-agent and ssh-agent work: one process
// holds one store unlocked and answers the operations surface (OPERATION_NAMES, nothing else — no
// record access, no key material export, no keyslot changes) on a 0600 socket in the user's 0700
// runtime directory, so later commands skip the passphrase KDF. The master key lives only in this
// process's memory; nothing secret is written to disk. It locks (wiping the keys) and exits when it
// has been unused for its idle timeout, when asked (`coffer lock`, `coffer agent stop`), on SIGTERM,
// SIGINT or SIGHUP, and when its socket file is removed or replaced.
import { lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { CofferOperations } from '../../client/surface.js';
import { OPERATION_NAMES } from '../../client/surface.js';
import type { Keystore } from '../../core/keystore.js';
import { asCofferError, CofferError } from '../../errors.js';
import {
  type AgentReply,
  type AgentRequest,
  type AgentStatus,
  encodeFrame,
  FrameReader,
} from './protocol.js';

/** How often the agent looks at its socket file and its idle time. */
const CHECK_EVERY_MS = 10_000;
const ALLOWED = new Set<string>(OPERATION_NAMES);

export interface AgentOptions {
  ops: CofferOperations & Keystore;
  /** storeIdentity of the store it serves. */
  store: string;
  socket: string;
  idleMs: number;
  version: string;
  clock?: () => number;
}

export interface RunningAgent {
  status(): AgentStatus;
  /** Resolves once the agent has locked and closed (for whatever reason). */
  closed: Promise<void>;
  stop(reason: string): Promise<void>;
}

function call(ops: CofferOperations, method: string, args: unknown[]): Promise<unknown> {
  const [first, second] = method.split('.') as [string, string | undefined];
  const target = (second === undefined ? ops : (ops as unknown as Record<string, unknown>)[first]) as Record<
    string,
    unknown
  >;
  const fn = target[second ?? first];
  if (typeof fn !== 'function') throw new CofferError('EINTERNAL', `the agent lacks ${method}`);
  return Promise.resolve(fn.apply(target, args));
}

/** Listens on `options.socket` (created 0600 under a umask) and serves until stopped. */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const clock = options.clock ?? Date.now;
  const startedAt = clock();
  let lastUsedAt = startedAt;
  let inFlight = 0;
  let stopping: Promise<void> | undefined;
  const sockets = new Set<Socket>();
  let resolveClosed!: () => void;
  const closed = new Promise<void>((done) => {
    resolveClosed = done;
  });

  const status = (): AgentStatus => ({
    pid: process.pid,
    store: options.store,
    keystoreId: options.ops.id,
    startedAt,
    lastUsedAt,
    idleTimeoutMs: options.idleMs,
    idleUntil: lastUsedAt + options.idleMs,
    version: options.version,
  });

  async function answer(request: AgentRequest): Promise<AgentReply> {
    try {
      if (typeof request !== 'object' || request === null || typeof request.method !== 'string')
        throw new CofferError('EINVAL', 'malformed agent request');
      if (request.store !== options.store)
        throw new CofferError('EPERM', `this agent serves ${options.store}, not ${String(request.store)}`);
      if (request.method === 'agent.status') return { id: request.id, ok: true, value: status() };
      if (request.method === 'agent.stop') {
        setImmediate(() => void stop('stopped on request'));
        return { id: request.id, ok: true, value: status() };
      }
      if (!ALLOWED.has(request.method) || !Array.isArray(request.args))
        throw new CofferError('EINVAL', `the agent does not answer ${String(request.method).slice(0, 64)}`);
      return { id: request.id, ok: true, value: await call(options.ops, request.method, request.args) };
    } catch (error) {
      const e = asCofferError(error);
      return { id: request?.id ?? 0, ok: false, error: { code: e.code, message: e.message } };
    }
  }

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      let requests: unknown[];
      try {
        requests = reader.push(chunk);
      } catch {
        socket.destroy(); // a frame over the bound or undecodable: nothing sensible to answer
        return;
      }
      for (const request of requests) {
        inFlight++;
        lastUsedAt = clock();
        void answer(request as AgentRequest).then((reply) => {
          inFlight--;
          lastUsedAt = clock();
          if (!socket.destroyed) {
            try {
              socket.write(encodeFrame(reply));
            } catch (error) {
              const e = asCofferError(error);
              socket.write(
                encodeFrame({ id: reply.id, ok: false, error: { code: e.code, message: e.message } }),
              );
            }
          }
        });
      }
    });
  });

  await new Promise<void>((done, fail) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      fail(
        new CofferError(
          error.code === 'EADDRINUSE' ? 'EALREADY' : 'EUNAVAIL',
          `the agent cannot listen on ${options.socket}: ${error.code ?? error.message}`,
        ),
      ),
    );
    // 0600 from the start (umask), not chmod'ed after a window.
    const previous = process.umask(0o177);
    try {
      server.listen(options.socket, () => done());
    } finally {
      process.umask(previous);
    }
  });
  const inode = lstatSync(options.socket).ino;

  const stop = (_reason: string): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(timer);
      server.close();
      for (const socket of sockets) socket.end();
      // Requests in flight finish (briefly) before the keys are wiped.
      for (let i = 0; i < 50 && inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20));
      for (const socket of sockets) socket.destroy();
      try {
        if (lstatSync(options.socket).ino === inode) unlinkSync(options.socket);
      } catch {}
      await options.ops.close().catch(() => {});
      resolveClosed();
    })();
    return stopping;
  };

  const timer = setInterval(
    () => {
      let ours = false;
      try {
        ours = lstatSync(options.socket).ino === inode;
      } catch {}
      if (!ours) void stop('socket removed');
      else if (inFlight === 0 && clock() - lastUsedAt >= options.idleMs) void stop('idle');
    },
    Math.min(CHECK_EVERY_MS, Math.max(50, Math.floor(options.idleMs / 4))),
  );
  timer.unref();
  // The timer is unref'ed; the listening server keeps the process alive until stop().
  return { status, closed, stop };
}
