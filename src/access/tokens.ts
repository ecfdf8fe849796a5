// Access: daemon bearer tokens (SPEC "Daemon API / tokens"): `coffer_` + base64url of 32 random bytes, shown
// once. The store keeps only a SHA-256 hash, inside a sealed record `ext/daemon/tokens/<id>` (readable
// only while the keystore is unlocked, bound to its record key), so a copy of the store yields no usable
// token. The id is a truncated hash of the token under another label: it lets `authenticate` find the
// record in one read without a table scan, and being a one-way function of 256 random bits it tells
// nothing about the token. Works on any open Keystore, with or without a daemon (`coffer init`).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Keystore } from '../core/keystore.js';
import { assertMetadataString, assertName } from '../core/names.js';
import type { TokenInfo, TokenOperations, TokenSpec } from '../core/surface.js';
import { CofferError } from '../errors.js';

/** What a token may be scoped to; `'*'` alone grants all of them. Admin is a separate flag. */
export const TOKEN_OPS = [
  'read',
  'create',
  'activate',
  'rotate',
  'suspend',
  'resume',
  'revoke',
  'destroy',
  'sign',
  'verify',
  'seal',
  'unseal',
  'rewrap',
  'data-key',
  'encapsulate',
  'decapsulate',
  'mac',
  'verify-mac',
  // Reads GET /v1/metrics and nothing else: the scope of a Prometheus scraper (docs/metrics.md).
  'metrics',
  // keychain items (SPEC §16): metadata and find, secrets, changes
  'item-read',
  'item-reveal',
  'item-write',
] as const;
export type TokenOp = (typeof TOKEN_OPS)[number];

/** One TokenInfo for the daemon, the client and the CLI (core/surface.ts). */
export type { TokenInfo };

interface TokenRecord extends TokenInfo {
  /** Hex SHA-256 of the whole token string under the label 'coffer:token:v1'. */
  hash: string;
}

export type CreateTokenOptions = TokenSpec;

const NAMESPACE = 'daemon';
const TOKEN_FORMAT = /^coffer_[A-Za-z0-9_-]{43}$/;
const ID_FORMAT = /^tok_[A-Za-z0-9_-]{16}$/;
const MAX_SCOPE_ENTRIES = 64;

function recordName(id: string): string {
  return `tokens/${id}`;
}

function digest(label: string, token: string): Buffer {
  return createHash('sha256').update(label).update('\0').update(token).digest();
}

/** The token's id: 96 bits of a hash under its own label (never the stored hash itself). */
export function tokenId(token: string): string {
  return `tok_${digest('coffer:token-id:v1', token).subarray(0, 12).toString('base64url')}`;
}

function validateScope(options: CreateTokenOptions): { apps: string[]; ops: string[] } {
  const list = (field: 'apps' | 'ops', value: unknown, check: (entry: unknown) => void): string[] => {
    if (!Array.isArray(value) || value.length === 0)
      throw new CofferError('EINVAL', `${field} must be a non-empty array (or ['*'])`);
    if (value.length > MAX_SCOPE_ENTRIES)
      throw new CofferError('E2BIG', `${field} holds at most ${MAX_SCOPE_ENTRIES} entries`);
    if (value.includes('*')) {
      if (value.length !== 1) throw new CofferError('EINVAL', `'*' in ${field} must stand alone`);
      return ['*'];
    }
    value.forEach(check);
    return [...new Set(value as string[])].sort();
  };
  const apps = list('apps', options.apps, (app) => assertName('app', app));
  const ops = list('ops', options.ops, (op) => {
    if (typeof op !== 'string' || !(TOKEN_OPS as readonly string[]).includes(op))
      throw new CofferError('EINVAL', `unknown token operation; use '*' or some of ${TOKEN_OPS.join(', ')}`);
  });
  return { apps, ops };
}

function publicInfo(record: TokenRecord): TokenInfo {
  return {
    id: record.id,
    ...(record.name !== undefined ? { name: record.name } : {}),
    apps: [...record.apps],
    ops: [...record.ops],
    admin: record.admin,
    createdAt: record.createdAt,
    ...(record.lastUsedAt !== undefined ? { lastUsedAt: record.lastUsedAt } : {}),
  };
}

/** Creates a token and returns it once; only its hash is stored. Audited as `token.create`. */
export async function createToken(
  ks: Keystore,
  options: CreateTokenOptions,
  at: { now?: number } = {},
): Promise<{ id: string; token: string }> {
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'options must be an object');
  const { apps, ops } = validateScope(options);
  if (options.name !== undefined) assertMetadataString('name', options.name);
  if (options.admin !== undefined && typeof options.admin !== 'boolean')
    throw new CofferError('EINVAL', 'admin must be a boolean');
  // Always the OS CSPRNG, even in deterministic test mode: a predictable credential has no use.
  const token = `coffer_${randomBytes(32).toString('base64url')}`;
  const id = tokenId(token);
  const record: TokenRecord = {
    id,
    ...(options.name !== undefined ? { name: options.name } : {}),
    apps,
    ops,
    admin: options.admin === true,
    createdAt: at.now ?? Date.now(),
    hash: digest('coffer:token:v1', token).toString('hex'),
  };
  await ks.writeRecords(
    NAMESPACE,
    [{ name: recordName(id), value: record, expectRevision: 0 }],
    [{ event: 'token.create', details: { id, apps, ops, admin: record.admin } }],
  );
  return { id, token };
}

export async function listTokens(ks: Keystore): Promise<TokenInfo[]> {
  const records = await ks.listRecords<TokenRecord>(NAMESPACE, 'tokens/');
  return records.map((r) => publicInfo(r.value));
}

function assertTokenId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !ID_FORMAT.test(id))
    throw new CofferError('EINVAL', 'token id must look like tok_ followed by 16 base64url characters');
}

/** Deletes a token; further requests with it are refused. Audited as `token.revoke`. */
export async function revokeToken(ks: Keystore, id: string): Promise<void> {
  assertTokenId(id);
  const record = await ks.getRecord<TokenRecord>(NAMESPACE, recordName(id));
  if (!record) throw new CofferError('ENOENT', `no token ${id}`);
  await ks.writeRecords(
    NAMESPACE,
    [{ name: recordName(id), value: undefined, expectRevision: record.revision }],
    [{ event: 'token.revoke', details: { id } }],
  );
}

/**
 * The token's scope, or EPERM for anything that is not a live token. The message never repeats the
 * presented value: it is a credential, and error text reaches logs.
 */
export async function authenticate(ks: Keystore, bearer: string): Promise<TokenInfo> {
  return (await authenticateWithRevision(ks, bearer)).info;
}

/** authenticate, plus the record revision (for a compare-and-swap `lastUsedAt` update). */
export async function authenticateWithRevision(
  ks: Keystore,
  bearer: string,
): Promise<{ info: TokenInfo; revision: number }> {
  if (typeof bearer !== 'string' || !TOKEN_FORMAT.test(bearer))
    throw new CofferError('EPERM', 'missing or malformed bearer token');
  const record = await ks.getRecord<TokenRecord>(NAMESPACE, recordName(tokenId(bearer)));
  const presented = digest('coffer:token:v1', bearer);
  const stored = record ? Buffer.from(record.value.hash, 'hex') : undefined;
  if (!record || !stored || stored.length !== presented.length || !timingSafeEqual(stored, presented))
    throw new CofferError('EPERM', 'unknown or revoked token');
  return { info: publicInfo(record.value), revision: record.revision };
}

/**
 * Records when a token was last used. Compare-and-swap on the revision `authenticate` read, so it can
 * never resurrect a token revoked meanwhile; losing that race is not an error. No audit event: this is
 * bookkeeping, and an audit entry per request would flood the log.
 */
export async function touchToken(
  ks: Keystore,
  info: TokenInfo,
  revision: number,
  now: number,
): Promise<void> {
  const record = await ks.getRecord<TokenRecord>(NAMESPACE, recordName(info.id));
  if (!record || record.revision !== revision) return;
  try {
    await ks.writeRecords(NAMESPACE, [
      { name: recordName(info.id), value: { ...record.value, lastUsedAt: now }, expectRevision: revision },
    ]);
  } catch (error) {
    if (!(error instanceof CofferError && error.code === 'ECONFLICT')) throw error;
  }
}

export function allowsOp(token: TokenInfo, op: TokenOp): boolean {
  return token.ops.includes('*') || token.ops.includes(op);
}

export function allowsApp(token: TokenInfo, app: string): boolean {
  return token.apps.includes('*') || token.apps.includes(app);
}

/** The token operations of the shared surface on a keystore in this process (`coffer token …` direct). */
export function tokenOperations(ks: Keystore): TokenOperations {
  return {
    create: (spec) => createToken(ks, spec),
    list: () => listTokens(ks),
    revoke: (id) => revokeToken(ks, id),
  };
}
