// `coffer/client` (SPEC §10): a typed client for the daemon's /v1 API. It implements the operations
// surface (client/surface.ts) — the same methods, arguments and results as a Keystore in this process,
// plus the hd, backup, rotation and tokens namespaces — and throws CofferError with the daemon's codes
// (from its `{ error: { code, message } }`). It uses only node:http / node:https and imports nothing of
// core or crypto at run time (key import loads its wrapping code when first used), and keeps connections alive (Unix socket or TCP/TLS).
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AuditEntry, AuditReport } from '../core/audit.js';
import type { SignDigestOptions } from '../core/digest-sign.js';
import type { ImportKeySpec, TrustAnchorSpec } from '../core/imported.js';
import type { ProtectorInfo } from '../core/keyslots.js';
import type {
  Aad,
  AuditPage,
  AuditPageRequest,
  KeyFilter,
  KeyPage,
  KeyPageRequest,
  SignatureCheck,
  SignatureEncoding,
} from '../core/surface.js';
import type { CreateKeySpec, KeyInfo } from '../core/types.js';
import { CofferError, isErrorCode } from '../errors.js';
import { assertByteSource, ByteReader, type ByteSource } from '../format/byte-reader.js';
import type { KeyInput } from '../format/key-import.js';

export type { ByteSource } from '../format/byte-reader.js';

import { assertBytes, fromBase64, toBase64 } from './bytes.js';
import { BackupClient, type Call, HdClient, keyPath, RotationClient, TokenClient } from './groups.js';
import { KeychainClient } from './keychain.js';
import { followPages } from './pages.js';
import type { CofferOperations } from './surface.js';
import { SyncClient } from './sync.js';

export type {
  Aad,
  KeyFilter,
  SignatureCheck,
  SignatureEncoding,
  TokenInfo,
  TokenSpec,
} from '../core/surface.js';
export { type CofferOperations, OPERATION_NAMES, type OperationName } from './surface.js';

export interface ClientOptions {
  /** Unix socket path of the daemon. */
  socket?: string;
  /** http(s)://host:port of the daemon. */
  url?: string;
  /** Bearer token (`coffer_…`); health, status and unlock need none. */
  token?: string;
  /** PEM CA certificate(s) to trust for an https url (e.g. the daemon's self-signed cert). */
  ca?: string;
  /** Per-request timeout in ms (default 120 s: an unlock runs a slow KDF). */
  timeoutMs?: number;
}

export interface DaemonStatus {
  locked: boolean;
  lockedOutUntil?: number;
  keystoreId: string;
  version: string;
}

/** Unlock attempts and lockout (SPEC §10.4), readable without a token. */
export interface UnlockAttempts {
  failures: number;
  maxFailures: number;
  lockedOutUntil?: number;
}

export type BatchError = { ok: false; error: { code: string; message: string } };
export type BatchResult<T> = ({ ok: true } & T) | BatchError;

/**
 * ERATE from the daemon (HTTP 429): this token is over its concurrency or rate limit. `retryAfterSeconds`
 * is the daemon's Retry-After (seconds; undefined when it sent none): retrying sooner fails again.
 */
export class RateLimitedError extends CofferError {
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, retryAfterSeconds: number | undefined) {
    super('ERATE', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Retry-After as seconds: delta-seconds, or an HTTP date (RFC 9110 §10.2.3); undefined if absent or bad. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** Payloads at least this large go as raw octet-stream bodies (no base64) unless told otherwise. */
const RAW_THRESHOLD = 64 * 1024;
const encoder = new TextEncoder();
const b64 = toBase64;
const unb64 = fromBase64;

function aadBytes(aad: Aad | undefined): Uint8Array | undefined {
  if (aad === undefined) return undefined;
  return typeof aad === 'string' ? encoder.encode(aad) : aad;
}

function decodeItem<T>(item: unknown, decode: (ok: Record<string, unknown>) => T): BatchResult<T> {
  const r = item as Record<string, unknown> & { ok?: boolean; error?: { code: string; message: string } };
  if (r.ok === true) return { ok: true, ...decode(r) };
  return { ok: false, error: { code: String(r.error?.code), message: String(r.error?.message) } };
}

/**
 * What sealStream / unsealStream resolve to: the daemon's output as an async iterable of byte pieces,
 * iterated once. It ends normally only when the daemon confirmed the whole stream (trailer
 * `Coffer-Status: ok`); a failure after the first byte (EBADMSG for a tampered or truncated stream,
 * EKEYREVOKED, …) is thrown at the end with the daemon's code, and a connection that broke off is
 * EUNAVAIL. `return()` (a `break`) stops the upload and the download.
 */
export class ClientByteStream implements AsyncIterableIterator<Uint8Array> {
  readonly keyId: string;
  /** The key version that sealed (or had sealed) the stream (the Coffer-Key-Version header). */
  readonly version: number;
  readonly #inner: AsyncGenerator<Uint8Array>;
  readonly #stop: () => void;

  constructor(keyId: string, version: number, inner: AsyncGenerator<Uint8Array>, stop: () => void) {
    this.keyId = keyId;
    this.version = version;
    this.#inner = inner;
    this.#stop = stop;
  }
  next(): Promise<IteratorResult<Uint8Array>> {
    return this.#inner.next();
  }
  async return(): Promise<IteratorResult<Uint8Array>> {
    this.#stop();
    return this.#inner.return(undefined);
  }
  async throw(error?: unknown): Promise<IteratorResult<Uint8Array>> {
    this.#stop();
    return this.#inner.throw(error);
  }
  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** Reads a bounded error body of a failed streaming request into the daemon's CofferError. */
function streamError(res: IncomingMessage): Promise<CofferError> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = () => {
      let code: unknown;
      let message = `the daemon answered HTTP ${res.statusCode}`;
      try {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          error?: { code?: unknown; message?: unknown };
        };
        code = parsed.error?.code;
        if (typeof parsed.error?.message === 'string') message = parsed.error.message;
      } catch {
        // not a Coffer error body (a proxy?): keep the status in the message
      }
      resolve(new CofferError(isErrorCode(code) ? code : 'EINTERNAL', message));
    };
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= 64 * 1024) chunks.push(chunk);
    });
    res.on('end', finish);
    res.on('error', finish);
  });
}

export class CofferClient implements CofferOperations {
  readonly hd: HdClient;
  readonly backup: BackupClient;
  readonly rotation: RotationClient;
  readonly tokens: TokenClient;
  readonly keychain: KeychainClient;
  readonly sync: SyncClient;
  readonly #base: RequestOptions;
  readonly #send: typeof httpRequest;
  readonly #agent: HttpAgent;
  readonly #token: string | undefined;
  readonly #timeout: number;
  readonly #where: string;

  constructor(options: ClientOptions) {
    if (typeof options !== 'object' || options === null)
      throw new CofferError('EINVAL', 'options must be an object');
    const { socket, url, token, ca } = options;
    if ((socket === undefined) === (url === undefined))
      throw new CofferError('EINVAL', 'give exactly one of socket or url');
    if (token !== undefined && (typeof token !== 'string' || token.length === 0))
      throw new CofferError('EINVAL', 'token must be a non-empty string');
    this.#token = token;
    this.#timeout = options.timeoutMs ?? 120_000;
    if (socket !== undefined) {
      if (typeof socket !== 'string' || socket.length === 0)
        throw new CofferError('EINVAL', 'socket must be a path');
      this.#agent = new HttpAgent({ keepAlive: true });
      this.#base = { socketPath: socket, agent: this.#agent };
      this.#send = httpRequest;
      this.#where = socket;
    } else {
      let parsed: URL;
      try {
        parsed = new URL(String(url));
      } catch {
        throw new CofferError('EINVAL', 'url must be http(s)://host:port');
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
        throw new CofferError('EINVAL', 'url must be http(s)://host:port');
      const https = parsed.protocol === 'https:';
      this.#agent = https
        ? new HttpsAgent({ keepAlive: true, ...(ca ? { ca } : {}) })
        : new HttpAgent({ keepAlive: true });
      this.#base = {
        protocol: parsed.protocol,
        hostname: parsed.hostname.replace(/^\[|\]$/g, ''),
        port: parsed.port,
        agent: this.#agent,
      };
      this.#send = https ? (httpsRequest as unknown as typeof httpRequest) : httpRequest;
      this.#where = parsed.origin;
    }
    const json = <T>(method: string, path: string, call?: Call) => this.#json<T>(method, path, call);
    this.hd = new HdClient(json);
    this.backup = new BackupClient(json);
    this.rotation = new RotationClient(json);
    this.tokens = new TokenClient(json);
    this.keychain = new KeychainClient(json);
    this.sync = new SyncClient(json);
  }

  /** Closes idle keep-alive connections (the client can still be used afterwards). */
  close(): void {
    this.#agent.destroy();
  }

  #request(method: string, path: string, call: Call = {}): Promise<{ body: Buffer; type: string }> {
    const query = Object.entries(call.query ?? {}).filter(([, v]) => v !== undefined);
    const search = query.length
      ? `?${new URLSearchParams(query.map(([k, v]): [string, string] => [k, String(v)])).toString()}`
      : '';
    const payload =
      call.raw !== undefined
        ? Buffer.from(call.raw.buffer, call.raw.byteOffset, call.raw.byteLength)
        : call.json !== undefined
          ? Buffer.from(JSON.stringify(call.json))
          : undefined;
    const headers: Record<string, string | number> = { accept: 'application/json', ...call.headers };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (payload !== undefined) {
      headers['content-type'] = call.raw !== undefined ? 'application/octet-stream' : 'application/json';
      headers['content-length'] = payload.length;
    } else if (method !== 'GET') {
      headers['content-length'] = 0;
    }
    return new Promise((done, fail) => {
      const req = this.#send(
        { ...this.#base, method, path: `/v1${path}${search}`, headers },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', () => fail(new CofferError('EUNAVAIL', `the connection to ${this.#where} broke`)));
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            const type = String(res.headers['content-type'] ?? '');
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return done({ body, type });
            let code: unknown;
            let message = `the daemon answered HTTP ${status}`;
            try {
              const parsed = JSON.parse(body.toString('utf8')) as {
                error?: { code?: unknown; message?: unknown };
              };
              code = parsed.error?.code;
              if (typeof parsed.error?.message === 'string') message = parsed.error.message;
            } catch {
              // not a Coffer error body (a proxy?): keep the status in the message
            }
            if (code === 'ERATE' || (status === 429 && code === undefined))
              return fail(new RateLimitedError(message, parseRetryAfter(res.headers['retry-after'])));
            fail(new CofferError(isErrorCode(code) ? code : 'EINTERNAL', message));
          });
        },
      );
      req.setTimeout(this.#timeout, () => {
        req.destroy(
          new CofferError('EUNAVAIL', `the daemon at ${this.#where} did not answer in ${this.#timeout} ms`),
        );
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error instanceof CofferError) return fail(error);
        fail(
          new CofferError(
            'EUNAVAIL',
            `cannot reach the daemon at ${this.#where} (${error.code ?? error.message}); is it running?`,
          ),
        );
      });
      req.end(payload);
    });
  }

  async #json<T>(method: string, path: string, call?: Call): Promise<T> {
    const { body } = await this.#request(method, path, call);
    return JSON.parse(body.toString('utf8')) as T;
  }

  #streamAgent: HttpAgent | undefined;

  /**
   * Streams get a connection of their own, never a pooled keep-alive one: a pooled socket may be the
   * one the daemon is closing at that moment (its keep-alive timeout), and a stream cannot be retried
   * once its upload has begun.
   */
  #freshConnections(): HttpAgent {
    if (this.#streamAgent === undefined) {
      const pooled = this.#agent;
      this.#streamAgent =
        pooled instanceof HttpsAgent
          ? new HttpsAgent({ keepAlive: false, ...(pooled.options.ca ? { ca: pooled.options.ca } : {}) })
          : new HttpAgent({ keepAlive: false });
    }
    return this.#streamAgent;
  }

  /**
   * Streams `source` through `POST /v1/keys/{id}/<route>` (SPEC §6.2, §10.1): the upload runs while
   * the reply is read, both with backpressure, so memory stays bounded whatever the size.
   */
  #stream(
    route: 'seal-stream' | 'unseal-stream',
    id: string,
    source: ByteSource,
    options: { aad?: Aad },
  ): Promise<ClientByteStream> {
    assertByteSource('source', source);
    const aad = aadBytes(options.aad);
    const headers: Record<string, string> = {
      accept: 'application/octet-stream',
      'content-type': 'application/octet-stream',
      te: 'trailers',
      // Not `close` (what a non-pooling agent sends): on a failure mid-stream the daemon would then shut
      // the socket on an unread upload, and the reset can destroy the reply's trailer before it is read.
      // The socket is still never reused: the agent drops it once the reply ended.
      connection: 'keep-alive',
      ...(aad ? { 'coffer-aad': b64(aad) } : {}),
    };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    const path = `/v1${this.#key(id)}/${route}`;
    return new Promise((resolve, reject) => {
      const req = this.#send({
        ...this.#base,
        agent: this.#freshConnections(),
        method: 'POST',
        path,
        headers,
      });
      const reader = new ByteReader(source);
      let finished = false; // the reply ended, failed or was abandoned: stop uploading
      let sourceError: unknown;
      let responded = false;
      const stop = () => {
        finished = true;
        req.destroy();
      };
      const pump = async () => {
        try {
          for await (const piece of reader.rest()) {
            if (finished) return;
            if (!req.write(piece))
              await new Promise<void>((done) => {
                const go = () => {
                  req.off('drain', go);
                  req.off('close', go);
                  done();
                };
                req.on('drain', go);
                req.on('close', go);
              });
          }
          if (!finished) req.end();
        } catch (error) {
          // The source failed: the daemon must not see a clean end of an incomplete input.
          sourceError = error;
          finished = true;
          req.destroy();
          if (!responded) reject(error);
        } finally {
          await reader.close();
        }
      };
      const where = this.#where;
      req.setTimeout(this.#timeout, () => {
        req.destroy(
          new CofferError('EUNAVAIL', `the daemon at ${where} did not answer in ${this.#timeout} ms`),
        );
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (responded || sourceError !== undefined) return; // the reply (or the source) reports it
        finished = true;
        reject(
          error instanceof CofferError
            ? error
            : new CofferError(
                'EUNAVAIL',
                `cannot reach the daemon at ${where} (${error.code ?? error.message}); is it running?`,
              ),
        );
      });
      req.on('response', (res: IncomingMessage) => {
        responded = true;
        if (res.statusCode !== 200) {
          finished = true;
          void streamError(res).then((error) => {
            req.destroy();
            reject(error);
          });
          return;
        }
        async function* body(): AsyncGenerator<Uint8Array> {
          try {
            try {
              for await (const chunk of res as AsyncIterable<Buffer>)
                yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
            } catch {
              if (sourceError !== undefined) throw sourceError;
              throw new CofferError(
                'EUNAVAIL',
                `the stream from the daemon at ${where} broke off before its end`,
              );
            }
            if (sourceError !== undefined) throw sourceError;
            const status = res.trailers['coffer-status'];
            if (status === 'ok') return;
            if (isErrorCode(status))
              throw new CofferError(status, decodeURIComponent(res.trailers['coffer-error'] ?? status));
            throw new CofferError(
              'EUNAVAIL',
              `the daemon at ${where} ended the stream without confirming it`,
            );
          } finally {
            stop();
          }
        }
        resolve(new ClientByteStream(id, Number(res.headers['coffer-key-version']), body(), stop));
      });
      req.flushHeaders();
      void pump();
    });
  }
  /**
   * Seals an input of any size through the daemon (SPEC §6.2): resolves once the daemon accepted the
   * request (key, scope and state checked), with the sealed stream as it is produced.
   */
  async sealStream(id: string, source: ByteSource, options: { aad?: Aad } = {}): Promise<ClientByteStream> {
    return this.#stream('seal-stream', id, source, options);
  }
  /**
   * Opens a sealed stream (or a one-shot blob) through the daemon, chunk by chunk. As with
   * `Keystore.unsealStream`, plaintext is provisional until the iteration ends without an error: a
   * truncated stream fails (EBADMSG) only at its end.
   */
  async unsealStream(id: string, source: ByteSource, options: { aad?: Aad } = {}): Promise<ClientByteStream> {
    return this.#stream('unseal-stream', id, source, options);
  }

  #key(id: string): string {
    return keyPath(id);
  }

  // ---- daemon ----

  async health(): Promise<{ ok: boolean }> {
    return this.#json('GET', '/health');
  }
  async status(): Promise<DaemonStatus> {
    return this.#json('GET', '/status');
  }
  async unlock(passphrase: string): Promise<DaemonStatus> {
    if (typeof passphrase !== 'string' || passphrase.length === 0)
      throw new CofferError('EINVAL', 'passphrase must be a non-empty string');
    return this.#json('POST', '/unlock', { json: { passphrase } });
  }
  async lock(): Promise<DaemonStatus> {
    return this.#json('POST', '/lock');
  }
  /** Failed unlock attempts so far and the lockout end (no token needed). */
  async unlockAttempts(): Promise<UnlockAttempts> {
    return this.#json('GET', '/unlock/attempts');
  }
  /** The daemon's Prometheus metrics as exposition text (an admin or a metrics token; docs/metrics.md). */
  async metrics(): Promise<string> {
    return (await this.#request('GET', '/metrics')).body.toString('utf8');
  }
  async openapi(): Promise<Record<string, unknown>> {
    return this.#json('GET', '/openapi.json');
  }

  // ---- keys ----

  // ---- standard formats (SPEC §14.15) ----
  /**
   * Imports a private key: parsed (and decrypted) here, wrapped to the daemon's import key for the
   * spec's app and purpose (SPEC §14.15.3); the key and its passphrase never travel in clear.
   */
  async importKey(
    spec: ImportKeySpec,
    key: KeyInput,
    options: { passphrase?: string } = {},
  ): Promise<KeyInfo> {
    if (typeof spec !== 'object' || spec === null) throw new CofferError('EINVAL', 'spec must be an object');
    const published = await this.#json<{ algorithm: string; fingerprint: string; publicKey: string }>(
      'GET',
      '/import-key',
    );
    const { wrapForDaemon } = await import('./import-wrap.js');
    const wrapped = wrapForDaemon(
      { ...published, publicKey: unb64(published.publicKey) },
      { app: spec.app, purpose: spec.purpose },
      key,
      options.passphrase,
    );
    return this.#json('POST', '/keys/import', { json: { spec, wrapped: b64(wrapped) } });
  }
  /** Holds a public key (PEM, OpenSSH line, JWK, SPKI DER or raw bytes) as a verify-only trust anchor. */
  async addTrustAnchor(spec: TrustAnchorSpec, key: KeyInput): Promise<KeyInfo> {
    const body =
      typeof key === 'string'
        ? { spec, text: key }
        : key instanceof Uint8Array
          ? { spec, raw: b64(key) }
          : { spec, text: JSON.stringify(key) };
    return this.#json('POST', '/trust-anchors', { json: body });
  }
  async signDigest(
    id: string,
    digest: Uint8Array,
    options: SignDigestOptions,
  ): Promise<{ signature: Uint8Array; version: number }> {
    assertBytes('digest', digest);
    const r = await this.#json<{ signature: string; version: number }>(
      'POST',
      `${this.#key(id)}/sign-digest`,
      {
        json: { digest: b64(digest), hash: options?.hash, recoverable: options?.recoverable },
      },
    );
    return { signature: unb64(r.signature), version: r.version };
  }
  /** The JWK Set of an app (`GET /v1/apps/{app}/jwks.json`; needs `read` for the app). */
  async jwks(app: string): Promise<{ keys: Record<string, string>[] }> {
    return this.#json('GET', `/apps/${encodeURIComponent(app)}/jwks.json`);
  }

  async createKey(spec: CreateKeySpec): Promise<KeyInfo> {
    return this.#json('POST', '/keys', { json: spec });
  }
  /** Creates the keys in one durable batch on the daemon (at most 2000, MAX_CREATE_BATCH). */
  async createKeys(specs: CreateKeySpec[]): Promise<KeyInfo[]> {
    if (!Array.isArray(specs)) throw new CofferError('EINVAL', 'specs must be an array');
    return (await this.#json<{ keys: KeyInfo[] }>('POST', '/keys/batch', { json: { specs } })).keys;
  }
  async listKeys(filter: KeyFilter = {}): Promise<KeyInfo[]> {
    return (await this.#json<{ keys: KeyInfo[] }>('GET', '/keys', { query: { ...filter } })).keys;
  }
  /** One page of keys and the cursor for the next (SPEC §4.6). */
  async listKeysPage(request: KeyPageRequest = {}): Promise<KeyPage> {
    const page = await this.#json<KeyPage>('GET', '/keys', {
      query: {
        app: request.app,
        purpose: request.purpose,
        limit: request.limit ?? 100,
        cursor: request.cursor,
      },
    });
    return { keys: page.keys, ...(page.cursor !== undefined ? { cursor: page.cursor } : {}) };
  }
  /** Every page of a key listing in turn, following the cursors (SPEC §4.6); one page in memory at a time. */
  keyPages(request: Omit<KeyPageRequest, 'cursor'> = {}): AsyncGenerator<KeyPage, void, undefined> {
    return followPages((cursor) => this.listKeysPage({ ...request, ...cursor }));
  }
  async getKey(id: string): Promise<KeyInfo> {
    return this.#json('GET', this.#key(id));
  }
  async publicKey(
    id: string,
    format = 'raw',
    options: { version?: number } = {},
  ): Promise<Uint8Array | string | object> {
    const r = await this.#json<{ encoding: string; publicKey: unknown }>('GET', `${this.#key(id)}/public`, {
      query: { format, version: options.version },
    });
    if (r.encoding === 'base64') return unb64(r.publicKey);
    return r.publicKey as string | object;
  }
  async rotate(id: string, options: { reason?: string } = {}): Promise<KeyInfo> {
    return this.#json('POST', `${this.#key(id)}/rotate`, { json: options });
  }
  async activate(id: string): Promise<KeyInfo> {
    return this.#json('POST', `${this.#key(id)}/activate`);
  }
  async suspend(id: string, options: { reason?: string } = {}): Promise<KeyInfo> {
    return this.#json('POST', `${this.#key(id)}/suspend`, { json: options });
  }
  async resume(id: string): Promise<KeyInfo> {
    return this.#json('POST', `${this.#key(id)}/resume`);
  }
  async revoke(id: string, reason: string, options: { version?: number } = {}): Promise<KeyInfo> {
    return this.#json('POST', `${this.#key(id)}/revoke`, { json: { reason, ...options } });
  }
  async destroy(id: string, options: { version?: number; reason?: string } = {}): Promise<KeyInfo> {
    return this.#json('POST', `${this.#key(id)}/destroy`, { json: options });
  }

  // ---- operations ----

  async sign(
    id: string,
    data: Uint8Array,
    options: { encoding?: SignatureEncoding; context?: Uint8Array } = {},
  ): Promise<{ signature: Uint8Array; version: number }> {
    assertBytes('data', data);
    const r = await this.#json<{ signature: string; version: number }>('POST', `${this.#key(id)}/sign`, {
      json: { data: b64(data), encoding: options.encoding, context: options.context && b64(options.context) },
    });
    return { signature: unb64(r.signature), version: r.version };
  }
  async verify(
    id: string,
    data: Uint8Array,
    signature: Uint8Array,
    options: { version?: number; encoding?: SignatureEncoding; context?: Uint8Array } = {},
  ): Promise<boolean> {
    return (await this.#verifyLike<{ valid: boolean }>('verify', id, data, signature, options)).valid;
  }
  async checkSignature(
    id: string,
    data: Uint8Array,
    signature: Uint8Array,
    options: { version?: number; encoding?: SignatureEncoding; context?: Uint8Array } = {},
  ): Promise<SignatureCheck> {
    return this.#verifyLike<SignatureCheck>('check-signature', id, data, signature, options);
  }
  #verifyLike<T>(
    route: 'verify' | 'check-signature',
    id: string,
    data: Uint8Array,
    signature: Uint8Array,
    options: { version?: number; encoding?: SignatureEncoding; context?: Uint8Array },
  ): Promise<T> {
    assertBytes('data', data);
    assertBytes('signature', signature);
    return this.#json<T>('POST', `${this.#key(id)}/${route}`, {
      json: {
        data: b64(data),
        signature: b64(signature),
        version: options.version,
        encoding: options.encoding,
        context: options.context && b64(options.context),
      },
    });
  }

  async #sealLike(
    route: 'seal' | 'unseal',
    field: 'plaintext' | 'sealed',
    out: 'sealed' | 'plaintext',
    id: string,
    input: Uint8Array,
    options: { aad?: Aad; transport?: 'json' | 'raw' },
  ): Promise<Uint8Array> {
    assertBytes(field, input);
    const aad = aadBytes(options.aad);
    const path = `${this.#key(id)}/${route}`;
    if ((options.transport ?? (input.length >= RAW_THRESHOLD ? 'raw' : 'json')) === 'raw') {
      const { body } = await this.#request('POST', path, {
        raw: input,
        headers: { accept: 'application/octet-stream', ...(aad ? { 'coffer-aad': b64(aad) } : {}) },
      });
      return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    }
    const r = await this.#json<Record<string, string>>('POST', path, {
      json: { [field]: b64(input), ...(aad ? { aad: b64(aad) } : {}) },
    });
    return unb64(r[out]);
  }
  /** Large payloads (≥ 64 KiB) travel as raw octet-stream; `transport` forces one way. */
  async seal(
    id: string,
    plaintext: Uint8Array,
    options: { aad?: Aad; transport?: 'json' | 'raw' } = {},
  ): Promise<Uint8Array> {
    return this.#sealLike('seal', 'plaintext', 'sealed', id, plaintext, options);
  }
  async unseal(
    id: string,
    sealed: Uint8Array,
    options: { aad?: Aad; transport?: 'json' | 'raw' } = {},
  ): Promise<Uint8Array> {
    return this.#sealLike('unseal', 'sealed', 'plaintext', id, sealed, options);
  }
  async rewrap(id: string, sealed: Uint8Array, options: { aad?: Aad } = {}): Promise<Uint8Array> {
    assertBytes('sealed', sealed);
    const aad = aadBytes(options.aad);
    const r = await this.#json<{ sealed: string }>('POST', `${this.#key(id)}/rewrap`, {
      json: { sealed: b64(sealed), ...(aad ? { aad: b64(aad) } : {}) },
    });
    return unb64(r.sealed);
  }
  async generateDataKey(
    id: string,
    options: { aad?: Aad; includePlaintext?: boolean } = {},
  ): Promise<{ wrapped: Uint8Array; plaintext?: Uint8Array; version: number }> {
    const aad = aadBytes(options.aad);
    const r = await this.#json<{ wrapped: string; plaintext?: string; version: number }>(
      'POST',
      `${this.#key(id)}/data-key`,
      { json: { ...(aad ? { aad: b64(aad) } : {}), includePlaintext: options.includePlaintext } },
    );
    return {
      wrapped: unb64(r.wrapped),
      ...(r.plaintext !== undefined ? { plaintext: unb64(r.plaintext) } : {}),
      version: r.version,
    };
  }
  async encapsulate(
    id: string,
  ): Promise<{ ciphertext: Uint8Array; sharedSecret: Uint8Array; version: number }> {
    const r = await this.#json<{ ciphertext: string; sharedSecret: string; version: number }>(
      'POST',
      `${this.#key(id)}/encapsulate`,
    );
    return { ciphertext: unb64(r.ciphertext), sharedSecret: unb64(r.sharedSecret), version: r.version };
  }
  async decapsulate(
    id: string,
    ciphertext: Uint8Array,
    options: { version?: number } = {},
  ): Promise<Uint8Array> {
    assertBytes('ciphertext', ciphertext);
    const r = await this.#json<{ sharedSecret: string }>('POST', `${this.#key(id)}/decapsulate`, {
      json: { ciphertext: b64(ciphertext), version: options.version },
    });
    return unb64(r.sharedSecret);
  }
  async mac(id: string, data: Uint8Array): Promise<{ mac: Uint8Array; version: number }> {
    assertBytes('data', data);
    const r = await this.#json<{ mac: string; version: number }>('POST', `${this.#key(id)}/mac`, {
      json: { data: b64(data) },
    });
    return { mac: unb64(r.mac), version: r.version };
  }
  async verifyMac(
    id: string,
    data: Uint8Array,
    mac: Uint8Array,
    options: { version?: number } = {},
  ): Promise<boolean> {
    assertBytes('data', data);
    assertBytes('mac', mac);
    const r = await this.#json<{ valid: boolean }>('POST', `${this.#key(id)}/verify-mac`, {
      json: { data: b64(data), mac: b64(mac), version: options.version },
    });
    return r.valid;
  }

  // ---- batches: one result per item, in order ----

  async #batch<T>(id: string, route: string, items: unknown[], decode: (r: Record<string, unknown>) => T) {
    if (!Array.isArray(items)) throw new CofferError('EINVAL', 'items must be an array');
    const r = await this.#json<{ results: unknown[] }>('POST', `${this.#key(id)}/${route}`, {
      json: { items },
    });
    return r.results.map((item) => decodeItem(item, decode));
  }
  async signBatch(
    id: string,
    items: Uint8Array[],
  ): Promise<BatchResult<{ signature: Uint8Array; version: number }>[]> {
    return this.#batch(
      id,
      'sign-batch',
      items.map((data) => ({ data: b64(data) })),
      (r) => ({ signature: unb64(r.signature), version: r.version as number }),
    );
  }
  async verifyBatch(
    id: string,
    items: { data: Uint8Array; signature: Uint8Array; version?: number }[],
  ): Promise<BatchResult<{ valid: boolean }>[]> {
    return this.#batch(
      id,
      'verify-batch',
      items.map((i) => ({ data: b64(i.data), signature: b64(i.signature), version: i.version })),
      (r) => ({ valid: r.valid as boolean }),
    );
  }
  async sealBatch(
    id: string,
    items: { plaintext: Uint8Array; aad?: Aad }[],
  ): Promise<BatchResult<{ sealed: Uint8Array }>[]> {
    return this.#batch(
      id,
      'seal-batch',
      items.map((i) => {
        const aad = aadBytes(i.aad);
        return { plaintext: b64(i.plaintext), ...(aad ? { aad: b64(aad) } : {}) };
      }),
      (r) => ({ sealed: unb64(r.sealed) }),
    );
  }
  async unsealBatch(
    id: string,
    items: { sealed: Uint8Array; aad?: Aad }[],
  ): Promise<BatchResult<{ plaintext: Uint8Array }>[]> {
    return this.#batch(
      id,
      'unseal-batch',
      items.map((i) => {
        const aad = aadBytes(i.aad);
        return { sealed: b64(i.sealed), ...(aad ? { aad: b64(aad) } : {}) };
      }),
      (r) => ({ plaintext: unb64(r.plaintext) }),
    );
  }

  // ---- audit, protectors (admin) ----

  async auditTail(count?: number): Promise<AuditEntry[]> {
    return (await this.#json<{ entries: AuditEntry[] }>('GET', '/audit', { query: { count } })).entries;
  }
  /** One page of the audit log (SPEC §8.1): `GET /v1/audit?limit=&cursor=&order=…`. */
  async auditPage(request: AuditPageRequest = {}): Promise<AuditPage> {
    const { limit, cursor, order, since, until, keyId, event, actor } = request;
    const page = await this.#json<AuditPage>('GET', '/audit', {
      query: { limit: limit ?? 100, cursor, order, since, until, keyId, event, actor },
    });
    return { entries: page.entries, ...(page.cursor !== undefined ? { cursor: page.cursor } : {}) };
  }
  /** Every page of the audit log in turn, following the cursors; one page in memory at a time. */
  auditPages(request: Omit<AuditPageRequest, 'cursor'> = {}): AsyncGenerator<AuditPage, void, undefined> {
    return followPages((cursor) => this.auditPage({ ...request, ...cursor }));
  }
  async verifyAudit(): Promise<AuditReport> {
    return this.#json('GET', '/audit/verify');
  }
  async listProtectors(): Promise<ProtectorInfo[]> {
    return (await this.#json<{ protectors: ProtectorInfo[] }>('GET', '/protectors')).protectors;
  }
}
