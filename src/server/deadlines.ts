// How long a request may take (docs/daemon.md "Timeouts"). Node's own `requestTimeout` bounds the whole
// request, which would cut every sealed stream that takes longer than it (a 1 GiB upload on a slow
// link). The daemon therefore turns Node's off and bounds requests here: an ordinary request must
// arrive whole within `requestMs` of its headers (slow-body slowloris protection; slow headers stay
// bounded by Node's `headersTimeout`), and a streaming route, once it takes over, is cut only when no
// byte has moved in either direction for `streamIdleMs`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { JSON_TYPE } from './http.js';

export interface Timeouts {
  /** An ordinary request's body must be complete within this long after its headers (default 120 s). */
  requestMs: number;
  /** A stream is cut after this long without a byte moving either way (default 60 s). */
  streamIdleMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { requestMs: 120_000, streamIdleMs: 60_000 };

/** What a streaming route calls once it takes over: returns `progress`, to call whenever bytes move. */
export type StartStreaming = () => () => void;

/** A 408 before any reply, else a cut connection (a started reply cannot change its status). */
function expire(req: IncomingMessage, res: ServerResponse, message: string): void {
  if (res.writableEnded || res.destroyed) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(JSON.stringify({ error: { code: 'EINVAL', message } }));
  res.writeHead(408, {
    'content-type': `${JSON_TYPE}; charset=utf-8`,
    'content-length': body.length,
    connection: 'close',
  });
  // The rest of the body is never read: the socket goes once the reply is out.
  res.end(body, () => req.socket.destroy());
}

/** One request under a bound: when it is due, and whether it has become a stream. */
interface Watch {
  req: IncomingMessage;
  res: ServerResponse;
  /** performance.now() past which the request is cut. */
  due: number;
  streaming: boolean;
}

/**
 * The bounds of every request in flight, checked by one sweep instead of a timer per request: a timer
 * armed and cleared on each request, with the listeners that clear it, was a measurable share of a
 * small request's cost in the daemon (issue 14). The sweep runs every quarter of the smaller bound (at
 * most once a second, at least every 5 ms), only while some request is watched, so a bound is enforced
 * within that much after it passes. Nothing stays watched past its reply: `release` is called when the
 * response closes.
 */
export class Deadlines {
  readonly #timeouts: Timeouts;
  readonly #tickMs: number;
  readonly #watched = new Set<Watch>();
  #timer: NodeJS.Timeout | undefined;

  /** How often the sweep runs while requests are watched, in ms. */
  get tickMs(): number {
    return this.#tickMs;
  }

  constructor(timeouts: Timeouts) {
    this.#timeouts = timeouts;
    this.#tickMs = Math.min(
      1000,
      Math.max(5, Math.floor(Math.min(timeouts.requestMs, timeouts.streamIdleMs) / 4)),
    );
  }

  /**
   * Puts `req` under the whole-request bound; the returned function switches it to a stream's idle
   * bound. Call `release` with the returned watch when the response closes.
   */
  watch(req: IncomingMessage, res: ServerResponse): { watch: Watch; startStreaming: StartStreaming } {
    const watch: Watch = { req, res, due: performance.now() + this.#timeouts.requestMs, streaming: false };
    this.#add(watch);
    const startStreaming: StartStreaming = () => {
      if (res.destroyed || res.writableEnded) return () => {};
      const idleMs = this.#timeouts.streamIdleMs;
      watch.streaming = true;
      watch.due = performance.now() + idleMs;
      // The body of an ordinary request may have ended the watch already; a stream needs it again.
      this.#add(watch);
      return () => {
        watch.due = performance.now() + idleMs;
      };
    };
    return { watch, startStreaming };
  }

  release(watch: Watch): void {
    this.#watched.delete(watch);
  }

  /** Stops the sweep (the server is closing); watched requests end with their connections. */
  stop(): void {
    this.#watched.clear();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #add(watch: Watch): void {
    this.#watched.add(watch);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), this.#tickMs);
      // The sweep alone never keeps the process alive: the connections it watches do.
      this.#timer.unref();
    }
  }

  #sweep(): void {
    const now = performance.now();
    for (const watch of this.#watched) {
      const { req, res } = watch;
      // A reply that is out, or an ordinary request whose body is whole, is past its bound: what
      // follows is the daemon's own work.
      if (res.writableEnded || res.destroyed || (!watch.streaming && req.complete)) {
        this.#watched.delete(watch);
      } else if (now >= watch.due) {
        this.#watched.delete(watch);
        expire(
          req,
          res,
          watch.streaming
            ? `the stream was idle for ${this.#timeouts.streamIdleMs} ms`
            : `the request did not arrive whole within ${this.#timeouts.requestMs} ms`,
        );
      }
    }
    if (this.#watched.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
