// Server-sent events for rotation events (SPEC §13.2), for the daemon to mount on a `node:http` route
// (e.g. GET /v1/rotation/events, admin token). Writes `id:`/`event:`/`data:` frames per the WHATWG
// EventSource format and a comment line every keepAliveMs so proxies and idle timeouts do not cut the
// connection; a client reconnecting with Last-Event-ID gets the recent events it missed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CofferError } from '../errors.js';
import type { RotationEvent, RotationEventStream } from './events.js';

export interface SseOptions {
  /** Interval of `: keep-alive` comments (default 15 s). */
  keepAliveMs?: number;
  /** Client reconnection delay advertised with `retry:` (default 3 s). */
  retryMs?: number;
  /** Only events for which this returns true are sent (e.g. the token's apps). */
  filter?: (event: RotationEvent) => boolean;
}

/** One SSE frame; `data` is single-line JSON, so no line of it can end the frame early. */
export function sseFrame(event: RotationEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * Returns `(req, res)` that streams `stream`'s events until the client goes away. Authentication is
 * the caller's job, done before handing the request over.
 */
export function sseHandler(
  stream: RotationEventStream,
  options: SseOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  if (typeof stream !== 'object' || stream === null || typeof stream.subscribe !== 'function')
    throw new CofferError('EINVAL', 'sseHandler needs a RotationEventStream');
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const retryMs = options.retryMs ?? 3000;
  for (const [name, value] of [
    ['keepAliveMs', keepAliveMs],
    ['retryMs', retryMs],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1 || value > 3_600_000)
      throw new CofferError('EINVAL', `${name} must be an integer 1..3600000`);
  }
  if (options.filter !== undefined && typeof options.filter !== 'function')
    throw new CofferError('EINVAL', 'filter must be a function');
  const filter = options.filter ?? (() => true);

  return (req, res) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Tells nginx-style proxies not to buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${retryMs}\n\n`);
    const header = req.headers['last-event-id'];
    const lastId = Array.isArray(header) ? header[0] : header;
    for (const event of stream.since(lastId)) if (filter(event)) res.write(sseFrame(event));
    const unsubscribe = stream.subscribe((event) => {
      if (filter(event)) res.write(sseFrame(event));
    });
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    keepAlive.unref();
    const end = () => {
      clearInterval(keepAlive);
      unsubscribe();
    };
    req.on('close', end);
    res.on('close', end);
    res.on('error', end);
  };
}
