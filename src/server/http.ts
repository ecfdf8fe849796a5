// HTTP plumbing of the daemon (SPEC "Daemon API / conventions"): bounded body reading, JSON and raw
// replies, and the one error shape `{ "error": { "code", "message" } }` with the status from
// ERROR_CODES (SPEC §10.1). Nothing here logs or echoes a body: bodies carry plaintexts and passphrases.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CofferError, ERROR_CODES } from '../errors.js';
import { RateLimitError } from './limits.js';

export const JSON_TYPE = 'application/json';
export const RAW_TYPE = 'application/octet-stream';

/** Reads the whole body, refusing (E2BIG) as soon as it is known to exceed `limit`. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit)
    return Promise.reject(new CofferError('E2BIG', `the request body is larger than ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (error: CofferError) => {
      if (done) return;
      done = true;
      req.removeListener('data', onData);
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        fail(new CofferError('E2BIG', `the request body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    req.on('error', () => fail(new CofferError('EINVAL', 'the request body could not be read')));
    req.on('aborted', () => fail(new CofferError('EINVAL', 'the request was aborted')));
  });
}

export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new CofferError('EINVAL', 'the request body is not valid JSON');
  }
}

/** The media type of a request, without parameters, lower-cased ('' when absent). */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Sends a JSON reply: a value, or JSON bytes already encoded (codec.ts). */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = value instanceof Uint8Array ? value : Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    'content-type': `${JSON_TYPE}; charset=utf-8`,
    'content-length': body.length,
    'cache-control': 'no-store',
  });
  res.end(body);
}

export function sendRaw(res: ServerResponse, bytes: Uint8Array, headers: Record<string, string> = {}): void {
  res.writeHead(200, {
    'content-type': RAW_TYPE,
    'content-length': bytes.byteLength,
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(bytes);
}

/** The HTTP status for an error; a missing/unknown credential is 401 (still code EPERM). */
export function statusFor(error: CofferError, unauthenticated = false): number {
  return unauthenticated ? 401 : ERROR_CODES[error.code].http;
}

export function sendError(res: ServerResponse, error: CofferError, unauthenticated = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (unauthenticated) res.setHeader('www-authenticate', 'Bearer realm="coffer"');
  if (error instanceof RateLimitError) res.setHeader('retry-after', String(error.retryAfterSeconds));
  sendJson(res, statusFor(error, unauthenticated), { error: { code: error.code, message: error.message } });
}
