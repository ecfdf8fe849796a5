// The daemon's per-request log line (docs/daemon.md "Logs"): which level a finished request is
// logged at. Request counts by route and status are always in the metrics (coffer_http_requests_total,
// docs/metrics.md), so a successful request is a debug line: at the default level (info) the hot path
// never builds or writes one — a pino line per request was ≈10 % of the daemon's CPU (issue 14).
// Refusals (4xx) stay at info because they are what an operator reads after an incident (an unknown
// token, a key outside a token's apps, a wrong passphrase); 429 is the exception, at debug, since a
// client over its rate limit can produce thousands per second and the metrics already count them.
// Failures (5xx) are logged at error.
import type { Logger } from 'pino';

export type AccessLevel = 'debug' | 'info' | 'error';

/** The pino levels a request may be logged at. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The level a request finished with `status` is logged at. */
export function accessLevel(status: number): AccessLevel {
  if (status >= 500) return 'error';
  if (status >= 400 && status !== 429) return 'info';
  return 'debug';
}

/**
 * Logs one finished request. `fields` is only called when the line will be written, so a request
 * logged below the logger's level costs one comparison.
 */
export function logRequest(logger: Logger, status: number, fields: () => Record<string, unknown>): void {
  const level = accessLevel(status);
  if (!logger.isLevelEnabled(level)) return;
  logger[level](fields(), 'request');
}
