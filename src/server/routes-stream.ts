// Streaming seal/unseal routes of the daemon (SPEC §6.2, §10.1 "Streams"): `POST /v1/keys/{id}/
// seal-stream` and `unseal-stream` take an application/octet-stream body of any length and answer with
// the sealed or opened stream as it is produced (chunked transfer), holding about one chunk in memory
// whatever the size. Errors found before the first byte are ordinary JSON errors; an error after it
// (a tampered or truncated chunk, a key revoked mid-stream) is reported in an HTTP trailer to clients
// that sent `TE: trailers`, and otherwise by cutting the connection before the terminating chunk, so
// that no HTTP client can mistake an incomplete stream for a whole one.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Keystore } from '../core/keystore.js';
import type { ByteStream } from '../core/stream-seal.js';
import { asCofferError, CofferError } from '../errors.js';
import { RAW_TYPE, sendError } from './http.js';
import { type Context, MAX_HEADER_AAD, type Route, route } from './router.js';
import { decodeBase64 } from './schema.js';
import type { TokenOp } from './tokens.js';

/** Trailer fields of a streamed reply: `ok` or the error code, and the (percent-encoded) message. */
export const STATUS_TRAILER = 'coffer-status';
export const ERROR_TRAILER = 'coffer-error';
/** Response header naming the key version that sealed (or had sealed) the stream. */
export const VERSION_HEADER = 'coffer-key-version';

type Open = (
  ks: Keystore,
  id: string,
  body: AsyncIterable<Uint8Array>,
  aad: Uint8Array | undefined,
) => Promise<ByteStream>;

/** Whether the client announced it reads trailers (RFC 9110 §10.1.4, `TE: trailers`). */
function acceptsTrailers(req: IncomingMessage): boolean {
  return String(req.headers.te ?? '')
    .split(',')
    .some((token) => token.split(';')[0]?.trim().toLowerCase() === 'trailers');
}

/** Resolves when `res` can take more bytes; rejects when the client went away first. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) {
      reject(new CofferError('EUNAVAIL', 'the client closed the connection during the stream'));
      return;
    }
    const onDrain = () => {
      res.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      res.off('drain', onDrain);
      reject(new CofferError('EUNAVAIL', 'the client closed the connection during the stream'));
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

async function serve(
  ctx: Context<undefined, undefined>,
  req: IncomingMessage,
  res: ServerResponse,
  open: Open,
): Promise<void> {
  const trailers = acceptsTrailers(req);
  let stream: ByteStream;
  try {
    const aadHeader = req.headers['coffer-aad'];
    const aad =
      typeof aadHeader === 'string' ? decodeBase64(aadHeader, 'Coffer-AAD', MAX_HEADER_AAD) : undefined;
    // Stopping early (a bad chunk, a lock) must not destroy the request: that would take the socket,
    // and the reply's trailer with it. The unread rest goes when the connection closes.
    const body = req.iterator({ destroyOnReturn: false }) as AsyncIterableIterator<Uint8Array>;
    stream = await open(ctx.daemon.keystore(), ctx.params.id ?? '', body, aad);
  } catch (caught) {
    const error = asCofferError(caught);
    ctx.note.error = error.code;
    // The body was (mostly) not read: close instead of draining a possibly huge upload.
    if (!req.complete) res.setHeader('connection', 'close');
    sendError(res, error);
    return;
  }
  res.writeHead(200, {
    'content-type': RAW_TYPE,
    'cache-control': 'no-store',
    [VERSION_HEADER]: String(stream.version),
    ...(trailers ? { trailer: 'Coffer-Status, Coffer-Error' } : {}),
  });
  res.flushHeaders(); // the client learns at once that the stream started (its upload goes on)
  let bytesOut = 0;
  try {
    for await (const piece of stream) {
      bytesOut += piece.length;
      if (!res.write(piece)) await drained(res);
    }
  } catch (caught) {
    const error = asCofferError(caught);
    ctx.note.error = error.code;
    ctx.note.bytesOut = bytesOut;
    if (res.destroyed || res.writableEnded) return; // the client is gone: nobody to tell
    if (trailers) {
      res.addTrailers({ [STATUS_TRAILER]: error.code, [ERROR_TRAILER]: encodeURIComponent(error.message) });
      res.end();
      // Discard the rest of the upload rather than leave it unread: closing a socket with unread data
      // sends a reset, which can destroy the reply (and its trailer) before the client has read it.
      req.resume();
    } else {
      res.destroy(); // no terminating chunk: the response is visibly incomplete to any HTTP client
    }
    return;
  }
  ctx.note.bytesOut = bytesOut;
  if (trailers) res.addTrailers({ [STATUS_TRAILER]: 'ok' });
  res.end();
}

function streamRoute(name: string, op: TokenOp, summary: string, open: Open): Route {
  return route<undefined, undefined>({
    method: 'POST',
    path: `/v1/keys/{id}/${name}`,
    summary,
    auth: 'token',
    op,
    maxBody: 0,
    streamsBody: true,
    response: {
      type: 'string',
      format: 'binary',
      description:
        'The output stream (chunked). Header Coffer-Key-Version names the key version. With `TE: trailers` the reply ends with trailer Coffer-Status (`ok`, or the error code of a failure after the first byte, with Coffer-Error holding the percent-encoded message); without it such a failure cuts the connection before the terminating chunk.',
    },
    handler: (ctx) => ({
      stream: (req, res) => {
        serve(ctx, req, res, open).catch(() => res.destroy()); // never an unhandled rejection
      },
    }),
  });
}

export const streamRoutes: Route[] = [
  streamRoute(
    'seal-stream',
    'seal',
    'Seal an octet-stream body of any length as a sealed stream (SPEC §6.2), streamed back; AAD in Coffer-AAD',
    (ks, id, body, aad) => ks.sealStream(id, body, aad ? { aad } : {}),
  ),
  streamRoute(
    'unseal-stream',
    'unseal',
    'Open a sealed stream (or a one-shot blob) sent as an octet-stream body, streamed back chunk by chunk; AAD in Coffer-AAD',
    (ks, id, body, aad) => ks.unsealStream(id, body, aad ? { aad } : {}),
  ),
];
