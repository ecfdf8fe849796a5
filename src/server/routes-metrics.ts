// GET /v1/metrics (docs/metrics.md): the daemon's Prometheus metrics in the text exposition format, for
// an admin token or a metrics-only token (`coffer token create --app '*' --ops metrics`). The same text
// is served without a token on the optional loopback-only metrics listener (`--metrics-listen`), which
// also answers while the daemon is locked, when no token can be checked.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CofferError } from '../errors.js';
import type { Daemon } from './daemon.js';
import { sendError } from './http.js';
import { type Route, route } from './router.js';

/** Writes the scrape: the registry's text with Prometheus' content type, never cached. */
export async function sendMetrics(res: ServerResponse, daemon: Daemon): Promise<void> {
  const metrics = daemon.metrics;
  if (!metrics) throw new CofferError('EUNAVAIL', 'this daemon keeps no metrics');
  const body = Buffer.from(await metrics.text());
  res.writeHead(200, {
    'content-type': metrics.contentType,
    'content-length': body.length,
    'cache-control': 'no-store',
  });
  res.end(body);
}

export const metricsRoutes: Route[] = [
  route({
    method: 'GET',
    path: '/v1/metrics',
    summary: 'Prometheus metrics in the text exposition format (an admin or a metrics token)',
    auth: 'token',
    op: 'metrics',
    orAdmin: true,
    maxBody: 0,
    response: { type: 'string', description: 'text/plain; version=0.0.4 (Prometheus exposition format)' },
    handler: ({ daemon }) => {
      if (!daemon.metrics) throw new CofferError('EUNAVAIL', 'this daemon keeps no metrics');
      return {
        stream: (_req, res) => {
          sendMetrics(res, daemon).catch((error: unknown) =>
            sendError(
              res,
              error instanceof CofferError ? error : new CofferError('EINTERNAL', 'scrape failed'),
            ),
          );
        },
      };
    },
  }),
];

/** The request handler of the metrics listener: GET /metrics (and /v1/metrics), nothing else. */
export function metricsListenerHandler(daemon: Daemon) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('connection', 'close');
      sendError(res, new CofferError('EINVAL', 'the metrics listener answers GET only'));
      return;
    }
    if (path !== '/metrics' && path !== '/v1/metrics') {
      sendError(res, new CofferError('ENOENT', 'the metrics listener serves /metrics only'));
      return;
    }
    sendMetrics(res, daemon).catch((error: unknown) =>
      sendError(res, error instanceof CofferError ? error : new CofferError('EINTERNAL', 'scrape failed')),
    );
  };
}
