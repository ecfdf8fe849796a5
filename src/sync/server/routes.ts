// The sync server's routes (SPEC §17.8): authentication, accounts and circles, records, change
// log, range reconciliation, device manifests and invite mailboxes. Each handler checks its body
// completely (parse.ts) before the store is touched, so a refused request changes nothing.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { b64 } from '../../core/encoding.js';
import { CofferError } from '../../errors.js';
import { answerRanges, type RangeAnswer } from '../reconcile.js';
import {
  authMessage,
  CHALLENGE_TTL_MS,
  checkCircle,
  checkId,
  decodeB64,
  SESSION_TTL_MS,
  tokenHash,
  verifyBoth,
} from './auth.js';
import { Unauthenticated } from './http.js';
import type { Buckets } from './limits.js';
import type { ManifestCache } from './manifest-cache.js';
import {
  checkMailboxId,
  object,
  parseChangesQuery,
  parsePuts,
  parseRanges,
  parseUuids,
  safeInt,
} from './parse.js';
import type { Identity, SyncStore } from './store.js';

export const MAX_DEVICE_MANIFEST = 64 * 1024;
export const MAX_JOIN_REQUEST = 64 * 1024;
export const MAX_JOIN_REPLY = 1024 * 1024;
export const MAX_INVITE_MS = 24 * 3600_000;

export interface RouteContext {
  store: SyncStore;
  cache: ManifestCache;
  now: () => number;
  perDevice: Buckets;
  perAccount: Buckets;
  perAddress: Buckets;
}

export interface Answer {
  status: number;
  body: unknown;
  /** An error answer that still carries data (409 with the server's current copy). */
  error?: CofferError;
}

const ok = (body: unknown = {}): Answer => ({ status: 200, body });

/** The live session of a request, or 401; then the per-device and per-account rate limits. */
export async function authenticate(ctx: RouteContext, req: IncomingMessage): Promise<Identity> {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9_-]{16,128})$/.exec(header) : null;
  if (match === null) throw new Unauthenticated('a session token is required (Authorization: Bearer …)');
  const who = await ctx.store.session(tokenHash(match[1] as string), ctx.now());
  if (who === undefined) throw new Unauthenticated('the session is unknown or has ended');
  ctx.perDevice.admit(`${who.accountId}\0${who.deviceId}`);
  ctx.perAccount.admit(who.accountId);
  return who;
}

// ── authentication and accounts ─────────────────────────────────────────────────────────────────

export async function challenge(ctx: RouteContext, body: unknown): Promise<Answer> {
  const b = object(body, 'body', ['accountId', 'deviceId']);
  const who = { accountId: checkId(b.accountId, 'accountId'), deviceId: checkId(b.deviceId, 'deviceId') };
  const nonce = b64.encode(randomBytes(32));
  const expiresAt = ctx.now() + CHALLENGE_TTL_MS;
  await ctx.store.putChallenge(nonce, who, expiresAt, ctx.now());
  return ok({ serverId: ctx.store.serverId, nonce, expiresAt });
}

/** Checks a challenge response; `devices` are the keys it may be signed by. */
async function answerChallenge(
  ctx: RouteContext,
  accountId: string,
  response: Record<string, unknown>,
  devicesOf: () => Promise<readonly { deviceId: string; ed25519: string; mldsa65: string }[] | undefined>,
): Promise<Identity> {
  const deviceId = checkId(response.deviceId, 'deviceId');
  if (typeof response.nonce !== 'string' || response.nonce.length > 64) throw new Unauthenticated();
  const taken = await ctx.store.takeChallenge(response.nonce);
  if (taken === undefined || taken.accountId !== accountId || taken.deviceId !== deviceId)
    throw new Unauthenticated();
  if (taken.expiresAt <= ctx.now()) throw new Unauthenticated();
  const keys = (await devicesOf())?.find((d) => d.deviceId === deviceId);
  if (keys === undefined) throw new Unauthenticated();
  const message = authMessage({
    accountId,
    deviceId,
    expiresAt: taken.expiresAt,
    nonce: response.nonce,
    serverId: ctx.store.serverId,
  });
  if (!verifyBoth(keys, message, { ed25519: response.ed25519, mldsa65: response.mldsa65 }))
    throw new Unauthenticated();
  return { accountId, deviceId };
}

async function newSession(ctx: RouteContext, who: Identity): Promise<Answer> {
  const token = Buffer.from(randomBytes(32)).toString('base64url');
  const expiresAt = ctx.now() + SESSION_TTL_MS;
  await ctx.store.putSession(tokenHash(token), who, expiresAt);
  return ok({ token, expiresAt });
}

export async function session(ctx: RouteContext, body: unknown): Promise<Answer> {
  const b = object(body, 'body', ['accountId', 'deviceId', 'nonce', 'ed25519', 'mldsa65']);
  const accountId = checkId(b.accountId, 'accountId');
  const who = await answerChallenge(ctx, accountId, b, () => ctx.store.devices(accountId));
  return newSession(ctx, who);
}

export async function createAccount(ctx: RouteContext, body: unknown): Promise<Answer> {
  const b = object(body, 'body', ['accountId', 'circle', 'auth']);
  const accountId = checkId(b.accountId, 'accountId');
  const circle = checkCircle(b.circle);
  if (circle.version !== 1) throw new CofferError('EINVAL', 'a new account starts at circle version 1');
  const auth = object(b.auth, 'auth', ['deviceId', 'nonce', 'ed25519', 'mldsa65']);
  // The creator proves it holds the keys of a device the new circle lists.
  const who = await answerChallenge(ctx, accountId, auth, async () => circle.devices);
  await ctx.store.createAccount(accountId, circle);
  return newSession(ctx, who);
}

// ── circle ─────────────────────────────────────────────────────────────────────────────────────

export async function getCircle(ctx: RouteContext, who: Identity): Promise<Answer> {
  const circle = await ctx.store.circle(who.accountId);
  if (circle === undefined) throw new CofferError('ENOENT', 'no such account');
  return ok(circle);
}

export async function putCircle(ctx: RouteContext, who: Identity, body: unknown): Promise<Answer> {
  const b = object(body, 'body', ['ifVersion', 'circle']);
  const ifVersion = safeInt(b.ifVersion, 'ifVersion', 1);
  const circle = checkCircle(b.circle);
  const outcome = await ctx.store.putCircle(who.accountId, ifVersion, circle);
  if (outcome.ok) return ok({ version: circle.version });
  return {
    status: 409,
    body: { current: outcome.current },
    error: new CofferError('ECONFLICT', `the circle is at version ${outcome.current.version}`),
  };
}

// ── records ────────────────────────────────────────────────────────────────────────────────────

export async function putRecords(ctx: RouteContext, who: Identity, body: unknown): Promise<Answer> {
  const puts = parsePuts(body);
  const results = await ctx.store.putRecords(who, puts);
  const lost = results.filter((r) => !r.ok).length;
  if (lost === 0) return ok({ results });
  return {
    status: 409,
    body: { results },
    error: new CofferError('ECONFLICT', `${lost} of ${results.length} writes lost the compare-and-swap`),
  };
}

export async function getRecords(ctx: RouteContext, who: Identity, body: unknown): Promise<Answer> {
  return ok({ records: await ctx.store.getRecords(who.accountId, parseUuids(body)) });
}

export async function changes(ctx: RouteContext, who: Identity, query: URLSearchParams): Promise<Answer> {
  const { since, limit } = parseChangesQuery(query);
  const { value, digest } = await ctx.cache.use(who.accountId, (cachedSeq) =>
    ctx.store.changes(who.accountId, since, limit, cachedSeq),
  );
  const last = value.records.at(-1)?.seq;
  return ok({
    records: value.records,
    nextSeq: last ?? since,
    more: value.more,
    digest,
  });
}

export async function ranges(ctx: RouteContext, who: Identity, body: unknown): Promise<Answer> {
  const requests = parseRanges(body);
  const { manifest, digest } = await ctx.cache.use(who.accountId, (cachedSeq) =>
    ctx.store.manifestSince(who.accountId, cachedSeq),
  );
  // The divergence check (SPEC §17.5) — the whole set, equal digests — is answered from the cached
  // digest; everything else goes through answerRanges, which also validates every request.
  return ok({
    answers: requests.map((request) =>
      request.prefix === '' && request.fingerprint === digest
        ? { prefix: '', result: 'same' as const }
        : (answerRanges(manifest, [request])[0] as RangeAnswer),
    ),
  });
}

// ── device manifests ───────────────────────────────────────────────────────────────────────────

export async function putDeviceManifest(ctx: RouteContext, who: Identity, body: unknown): Promise<Answer> {
  const b = object(body, 'body', ['manifest']);
  await ctx.store.putDeviceManifest(who, decodeB64(b.manifest, 'manifest', MAX_DEVICE_MANIFEST));
  return ok();
}

export async function getDeviceManifests(ctx: RouteContext, who: Identity): Promise<Answer> {
  const manifests = await ctx.store.deviceManifests(who.accountId);
  return ok({
    manifests: manifests.map((m) => ({ deviceId: m.deviceId, manifest: b64.encode(m.manifest) })),
  });
}

// ── invite mailboxes ───────────────────────────────────────────────────────────────────────────

export async function openInvite(ctx: RouteContext, who: Identity, body: unknown): Promise<Answer> {
  const b = object(body, 'body', ['mailboxId', 'expiresAt']);
  const mailboxId = checkMailboxId(b.mailboxId);
  const expiresAt = safeInt(b.expiresAt, 'expiresAt');
  const now = ctx.now();
  if (expiresAt <= now || expiresAt > now + MAX_INVITE_MS)
    throw new CofferError('EINVAL', 'expiresAt must be in the future and at most 24 hours ahead');
  await ctx.store.openMailbox(who.accountId, mailboxId, expiresAt, now);
  return ok();
}

export async function postJoinRequest(ctx: RouteContext, mailboxId: string, body: unknown): Promise<Answer> {
  const b = object(body, 'body', ['request']);
  await ctx.store.postJoinRequest(
    checkMailboxId(mailboxId),
    decodeB64(b.request, 'request', MAX_JOIN_REQUEST),
    ctx.now(),
  );
  return ok();
}

export async function takeJoinRequest(ctx: RouteContext, who: Identity, mailboxId: string): Promise<Answer> {
  const request = await ctx.store.takeJoinRequest(who.accountId, checkMailboxId(mailboxId), ctx.now());
  return ok(request === undefined ? {} : { request: b64.encode(request) });
}

export async function postJoinReply(
  ctx: RouteContext,
  who: Identity,
  mailboxId: string,
  body: unknown,
): Promise<Answer> {
  const b = object(body, 'body', ['reply']);
  const reply = decodeB64(b.reply, 'reply', MAX_JOIN_REPLY);
  await ctx.store.postJoinReply(who.accountId, checkMailboxId(mailboxId), reply, ctx.now());
  return ok();
}

export async function takeJoinReply(ctx: RouteContext, mailboxId: string): Promise<Answer> {
  const reply = await ctx.store.takeJoinReply(checkMailboxId(mailboxId), ctx.now());
  return ok(reply === undefined ? {} : { reply: b64.encode(reply) });
}
