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

/**
 * Arms the whole-request bound for `req`; the returned function switches it to the idle bound of a
 * stream. Both end with the response.
 */
export function armDeadline(req: IncomingMessage, res: ServerResponse, timeouts: Timeouts): StartStreaming {
  let timer: NodeJS.Timeout | undefined = setTimeout(
    () => expire(req, res, `the request did not arrive whole within ${timeouts.requestMs} ms`),
    timeouts.requestMs,
  );
  const clear = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  let streaming = false;
  // A complete body ends the bound (what follows is the daemon's own work); a closed reply too.
  req.once('end', () => {
    if (!streaming) clear();
  });
  res.once('close', clear);
  return () => {
    streaming = true;
    clear();
    if (res.destroyed || res.writableEnded) return () => {};
    timer = setTimeout(
      () => expire(req, res, `the stream was idle for ${timeouts.streamIdleMs} ms`),
      timeouts.streamIdleMs,
    );
    const idle = timer;
    return () => {
      if (timer === idle) idle.refresh();
    };
  };
}
