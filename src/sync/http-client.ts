// One JSON request to the sync server over node:http/https (SPEC §17.8), for HttpSyncTransport:
// counts the bytes each way, turns `{error: {code, message}}` answers into CofferErrors (ERATE
// carrying Retry-After), and accepts a private CA for a server with a self-signed certificate.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CofferError, isErrorCode } from '../errors.js';

export interface JsonAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface Traffic {
  roundTrips: number;
  bytesUp: number;
  bytesDown: number;
}

/** ERATE from the server, with the seconds it asked us to wait. */
export class RemoteRateLimit extends CofferError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('ERATE', message);
  }
}

const MAX_ANSWER = 64 * 1024 * 1024;

type RequestOptions = {
  body?: unknown;
  token?: string;
  ca?: string | Buffer | (string | Buffer)[];
  traffic: Traffic;
};

/**
 * One request. A keep-alive socket the server closed while idle fails as ECONNRESET before the
 * server saw anything; that one case is retried once on a fresh socket (a repeated record write
 * would be harmless anyway: compare-and-swap makes it lose to itself, SPEC §17.2).
 */
export async function jsonRequest(
  base: URL,
  method: string,
  path: string,
  options: RequestOptions,
): Promise<JsonAnswer> {
  try {
    return await once(base, method, path, options);
  } catch (error) {
    if (error instanceof StaleSocket) return once(base, method, path, options);
    throw error;
  }
}

class StaleSocket extends Error {}

function once(base: URL, method: string, path: string, options: RequestOptions): Promise<JsonAnswer> {
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const url = new URL(path, base);
  const headers: Record<string, string | number> = { accept: 'application/json' };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = payload.length;
  }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method, headers, ...(options.ca ? { ca: options.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER) {
          req.destroy(new CofferError('E2BIG', 'the sync server answered more than 64 MiB'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (error) => reject(unavailable(error)));
      res.on('end', () => {
        options.traffic.bytesDown += size;
        let body: Record<string, unknown>;
        try {
          const parsed = size === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
            throw new Error('not an object');
          body = parsed as Record<string, unknown>;
        } catch {
          reject(
            new CofferError('EBADMSG', `the sync server's answer to ${method} ${url.pathname} is not JSON`),
          );
          return;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (req.reusedSocket && error.code === 'ECONNRESET') reject(new StaleSocket());
      else reject(error instanceof CofferError ? error : unavailable(error));
    });
    options.traffic.roundTrips += 1;
    options.traffic.bytesUp += payload?.length ?? 0;
    req.end(payload);
  });
}

function unavailable(error: Error): CofferError {
  return new CofferError('EUNAVAIL', `the sync server cannot be reached: ${error.message}`, { cause: error });
}

/** The CofferError a non-2xx answer carries. */
export function answerError(answer: JsonAnswer): CofferError {
  const error = answer.body.error as { code?: unknown; message?: unknown } | undefined;
  const code = isErrorCode(error?.code) ? error.code : answer.status >= 500 ? 'EUNAVAIL' : 'EBADMSG';
  const message =
    typeof error?.message === 'string' ? error.message : `sync server answered ${answer.status}`;
  if (code === 'ERATE') {
    const retry = Number(answer.headers['retry-after']);
    return new RemoteRateLimit(message, Number.isFinite(retry) && retry >= 0 ? retry : 1);
  }
  return new CofferError(code, message);
}
