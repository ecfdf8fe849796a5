// HTTP plumbing of the sync server (SPEC §17.8): JSON answers and the error
// shape `{"error": {"code", "message"}}` with the status of the error table (SPEC §10.1), 401 with
// `WWW-Authenticate` for a missing or dead session, `Retry-After` on ERATE. Bodies are never logged;
// they are read with the daemon's bounded reader (src/server/http.ts readBody).
import type { ServerResponse } from 'node:http';
import { CofferError, ERROR_CODES } from '../../errors.js';
import { RateLimitError } from './limits.js';

/** A request without a live session (401, code EPERM). */
export class Unauthenticated extends CofferError {
  constructor(message = 'authentication failed') {
    super('EPERM', message);
  }
}

export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new CofferError('EINVAL', 'the request body is not valid JSON');
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown): number {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-store',
  });
  res.end(body);
  return status;
}

export function sendError(
  res: ServerResponse,
  error: CofferError,
  extra: Record<string, unknown> = {},
): number {
  if (res.headersSent) {
    res.destroy();
    return 500;
  }
  const unauthenticated = error instanceof Unauthenticated;
  if (unauthenticated) res.setHeader('www-authenticate', 'Bearer realm="coffer-sync"');
  if (error instanceof RateLimitError) res.setHeader('retry-after', String(error.retryAfterSeconds));
  const status = unauthenticated ? 401 : ERROR_CODES[error.code].http;
  return sendJson(res, status, { error: { code: error.code, message: error.message }, ...extra });
}
