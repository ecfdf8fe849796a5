// `HttpSyncTransport`: the SyncTransport of SPEC §17.8 over HTTP(S) and WebSocket. It signs the
// server's challenges with the device's two keys (DeviceSigner), keeps the short-lived session and
// renews it on a 401, maps the server's error answers to CofferErrors, and counts round trips and
// bytes (bodies and push frames) for `sync.now()`. Without a signer only the joiner's
// unauthenticated invite calls work. Everything it receives is checked again by its callers.
import { b64 } from '../core/encoding.js';
import { CofferError } from '../errors.js';
import { answerError, type JsonAnswer, jsonRequest, type Traffic } from './http-client.js';
import { PushSubscription } from './push-subscription.js';
import type { RangeAnswer, RangeRequest } from './reconcile.js';
import { authMessage } from './server/auth.js';
import type {
  CasOutcome,
  ChangesPage,
  CircleUpload,
  DeviceSigner,
  InviteMailbox,
  PushEvent,
  RecordPut,
  RecordPutResult,
  StoredCircle,
  SyncTransport,
} from './transport.js';
import type { WireRecord } from './wire-record.js';

export interface HttpSyncTransportOptions {
  /** The server's base URL (`SyncServer.url`). */
  url: string;
  signer?: DeviceSigner;
  /** PEM CA certificate(s) to trust for an https server with a private certificate. */
  ca?: string | Buffer | (string | Buffer)[];
}

/** Renew a session this long before the server's expiry. */
const RENEW_MARGIN_MS = 30_000;

export class HttpSyncTransport implements SyncTransport {
  readonly stats: Traffic = { roundTrips: 0, bytesUp: 0, bytesDown: 0 };
  readonly #base: URL;
  readonly #signer: DeviceSigner | undefined;
  readonly #ca: HttpSyncTransportOptions['ca'];
  #session: { token: string; expiresAt: number } | undefined;
  readonly #subscriptions = new Set<PushSubscription>();

  constructor(options: HttpSyncTransportOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new CofferError('EINVAL', 'the sync server URL is not a URL');
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:')
      throw new CofferError('EINVAL', 'the sync server URL must be http:// or https://');
    this.#base = base;
    this.#signer = options.signer;
    this.#ca = options.ca;
  }

  #signerOrThrow(): DeviceSigner {
    if (this.#signer === undefined)
      throw new CofferError(
        'EINVAL',
        'this transport has no device signer: only the invite calls of a joining device work',
      );
    return this.#signer;
  }

  async #call(method: string, path: string, body?: unknown, token?: string): Promise<JsonAnswer> {
    return jsonRequest(this.#base, method, path, { body, token, ca: this.#ca, traffic: this.stats });
  }

  /** Challenge → both signatures (SPEC §17.8). */
  async #respond(accountId: string): Promise<Record<string, string>> {
    const signer = this.#signerOrThrow();
    const answer = await this.#call('POST', '/v1/auth/challenge', { accountId, deviceId: signer.deviceId });
    if (answer.status !== 200) throw answerError(answer);
    const { serverId, nonce, expiresAt } = answer.body as {
      serverId: string;
      nonce: string;
      expiresAt: number;
    };
    const message = authMessage({ accountId, deviceId: signer.deviceId, expiresAt, nonce, serverId });
    const signatures = await signer.sign(message);
    return {
      deviceId: signer.deviceId,
      nonce,
      ed25519: b64.encode(signatures.ed25519),
      mldsa65: b64.encode(signatures.mldsa65),
    };
  }

  #keepSession(answer: JsonAnswer): void {
    const { token, expiresAt } = answer.body as { token: string; expiresAt: number };
    if (typeof token !== 'string' || typeof expiresAt !== 'number')
      throw new CofferError('EBADMSG', 'the sync server answered a session without a token');
    this.#session = { token, expiresAt };
  }

  async #token(fresh = false): Promise<string> {
    if (!fresh && this.#session !== undefined && this.#session.expiresAt - RENEW_MARGIN_MS > Date.now())
      return this.#session.token;
    const signer = this.#signerOrThrow();
    const response = await this.#respond(signer.accountId);
    const answer = await this.#call('POST', '/v1/auth/session', { accountId: signer.accountId, ...response });
    if (answer.status !== 200) throw answerError(answer);
    this.#keepSession(answer);
    return (this.#session as { token: string }).token;
  }

  /** An authenticated request; a 401 (session expired or unknown) is retried once with a new session. */
  async #authed(method: string, path: string, body?: unknown, accept: number[] = [200]): Promise<JsonAnswer> {
    let answer = await this.#call(method, path, body, await this.#token());
    if (answer.status === 401) answer = await this.#call(method, path, body, await this.#token(true));
    if (!accept.includes(answer.status)) throw answerError(answer);
    return answer;
  }

  // ── account and circle ─────────────────────────────────────────────────────────────────────────

  async createAccount(accountId: string, circle: CircleUpload): Promise<void> {
    const signer = this.#signerOrThrow();
    if (accountId !== signer.accountId)
      throw new CofferError('EINVAL', "accountId must be the signer's account");
    const auth = await this.#respond(accountId);
    const answer = await this.#call('POST', '/v1/accounts', { accountId, circle, auth });
    if (answer.status !== 200) throw answerError(answer);
    this.#keepSession(answer);
  }

  async getCircle(): Promise<StoredCircle> {
    const { body } = await this.#authed('GET', '/v1/circle');
    return { version: body.version as number, document: body.document as string };
  }

  async putCircle(ifVersion: number, circle: CircleUpload): Promise<CasOutcome<StoredCircle>> {
    const answer = await this.#authed('PUT', '/v1/circle', { ifVersion, circle }, [200, 409]);
    if (answer.status === 200) return { ok: true };
    const current = answer.body.current as StoredCircle | undefined;
    if (current === undefined) throw answerError(answer);
    return { ok: false, current };
  }

  // ── invites ────────────────────────────────────────────────────────────────────────────────────

  async openInvite(mailbox: InviteMailbox): Promise<void> {
    await this.#authed('POST', '/v1/invites', { mailboxId: mailbox.mailboxId, expiresAt: mailbox.expiresAt });
  }

  async postJoinRequest(mailboxId: string, request: Uint8Array): Promise<void> {
    const answer = await this.#call('PUT', `/v1/invites/${encodeURIComponent(mailboxId)}/request`, {
      request: b64.encode(request),
    });
    if (answer.status !== 200) throw answerError(answer);
  }

  async takeJoinRequest(mailboxId: string): Promise<Uint8Array | undefined> {
    const { body } = await this.#authed('GET', `/v1/invites/${encodeURIComponent(mailboxId)}/request`);
    return typeof body.request === 'string' ? b64.decode(body.request) : undefined;
  }

  async postJoinReply(mailboxId: string, reply: Uint8Array): Promise<void> {
    await this.#authed('PUT', `/v1/invites/${encodeURIComponent(mailboxId)}/reply`, {
      reply: b64.encode(reply),
    });
  }

  async takeJoinReply(mailboxId: string): Promise<Uint8Array | undefined> {
    const answer = await this.#call('GET', `/v1/invites/${encodeURIComponent(mailboxId)}/reply`);
    if (answer.status !== 200) throw answerError(answer);
    return typeof answer.body.reply === 'string' ? b64.decode(answer.body.reply) : undefined;
  }

  // ── records ────────────────────────────────────────────────────────────────────────────────────

  async putRecords(puts: readonly RecordPut[]): Promise<RecordPutResult[]> {
    if (puts.length === 0) return [];
    const answer = await this.#authed('POST', '/v1/records/put', { puts }, [200, 409]);
    const results = answer.body.results;
    if (!Array.isArray(results)) throw answerError(answer);
    return results as RecordPutResult[];
  }

  async getRecords(uuids: readonly string[]): Promise<WireRecord[]> {
    if (uuids.length === 0) return [];
    const { body } = await this.#authed('POST', '/v1/records/get', { uuids });
    return body.records as WireRecord[];
  }

  async changes(sinceSeq: number, limit?: number): Promise<ChangesPage> {
    const query = new URLSearchParams({ since: String(sinceSeq) });
    if (limit !== undefined) query.set('limit', String(limit));
    const { body } = await this.#authed('GET', `/v1/changes?${query}`);
    return body as unknown as ChangesPage;
  }

  async ranges(requests: readonly RangeRequest[]): Promise<RangeAnswer[]> {
    const { body } = await this.#authed('POST', '/v1/ranges', { requests });
    return body.answers as RangeAnswer[];
  }

  // ── device manifests ───────────────────────────────────────────────────────────────────────────

  async putDeviceManifest(manifest: Uint8Array): Promise<void> {
    await this.#authed('PUT', '/v1/device-manifest', { manifest: b64.encode(manifest) });
  }

  async getDeviceManifests(): Promise<{ deviceId: string; manifest: Uint8Array }[]> {
    const { body } = await this.#authed('GET', '/v1/device-manifests');
    return (body.manifests as { deviceId: string; manifest: string }[]).map((m) => ({
      deviceId: m.deviceId,
      manifest: b64.decode(m.manifest),
    }));
  }

  // ── push ───────────────────────────────────────────────────────────────────────────────────────

  async subscribe(
    onEvent: (event: PushEvent) => void,
    onClose?: (error?: Error) => void,
  ): Promise<() => void> {
    const subscription: PushSubscription = new PushSubscription({
      url: this.#base,
      token: (fresh) => this.#token(fresh),
      ca: this.#ca,
      onEvent,
      onClose: (error) => {
        this.#subscriptions.delete(subscription);
        onClose?.(error);
      },
      onBytes: (n) => {
        this.stats.bytesDown += n;
      },
    });
    await subscription.start();
    this.#subscriptions.add(subscription);
    return () => subscription.stop();
  }

  async close(): Promise<void> {
    for (const subscription of [...this.#subscriptions]) subscription.stop();
    this.#session = undefined;
  }
}
