// HD routes of the daemon (SPEC §10.2, §12): seeds, derivation, BIP-44 accounts. A seed belongs to
// an app like a key does, so a token reaches it only with that app in its scope; the operation a route
// needs follows what it does to keys: creating or importing a seed, deriving and claiming the next
// account key need `create`, destroying a seed `destroy`, everything else `read`. The mnemonic of a
// new seed is in the creation reply only, once; an imported mnemonic comes in a request body.
import { BIP39_LANGUAGES } from '../crypto/bip39.js';
import { CofferError } from '../errors.js';
import type { SeedInfo } from '../hd/records.js';
import { HdWallet } from '../hd/wallet.js';
import type { Daemon } from './daemon.js';
import type { Context, Route } from './router.js';
import { route } from './router.js';
import { KEY_INFO } from './routes-keys.js';
import { type JsonSchema, s } from './schema.js';
import { allowsApp } from './tokens.js';

const SMALL_BODY = 64 * 1024;
const NAME = s.string({ maxLength: 64, description: '[a-z0-9][a-z0-9._-]{0,63}' });
const MAX_INDEX = 0x7fffffff;
const ALGORITHM = s.optional(s.enumOf(['secp256k1', 'ed25519'] as const));

const SEED_INFO: JsonSchema = {
  type: 'object',
  description: 'SeedInfo: id, app, purpose, label, source, words, language, passphrase, fingerprint, state',
  properties: {
    id: { type: 'string' },
    app: { type: 'string' },
    purpose: { type: 'string' },
    label: { type: 'string' },
    source: { type: 'string', enum: ['generated', 'imported'] },
    words: { type: 'integer' },
    language: { type: 'string' },
    passphrase: { type: 'boolean' },
    fingerprint: { type: 'string' },
    createdAt: { type: 'integer' },
    state: { type: 'string', enum: ['active', 'destroyed'] },
    destroyedAt: { type: 'integer' },
  },
};

const ACCOUNT_INFO: JsonSchema = {
  type: 'object',
  description: 'AccountInfo: seed, coinType, account, algorithm, keyPurpose, xpub, next indices',
  properties: {
    seed: { type: 'string' },
    coinType: { type: 'integer' },
    account: { type: 'integer' },
    algorithm: { type: 'string' },
    keyPurpose: { type: 'string' },
    xpub: { type: 'string' },
    next: { type: 'object' },
    createdAt: { type: 'integer' },
  },
};

const seedCommon = {
  app: NAME,
  purpose: NAME,
  language: s.optional(s.enumOf(BIP39_LANGUAGES)),
  passphrase: s.optional(s.string({ maxLength: 1024, description: 'BIP-39 passphrase (not stored)' })),
  label: s.optional(s.string({ maxLength: 256 })),
};

function wallet(ctx: Context<unknown, unknown>): HdWallet {
  return new HdWallet(ctx.daemon.keystore());
}

function inScope(ctx: Context<unknown, unknown>, app: string, verb: string): void {
  if (ctx.token && !allowsApp(ctx.token, app))
    throw new CofferError('EPERM', `this token may not ${verb} HD seeds of app '${app}'`);
}

/**
 * The seed named in the path. Its app was checked against the token by the router (`owner` below)
 * before the body was read; a seed of another app answers like one that does not exist.
 */
async function seedInScope(ctx: Context<unknown, unknown>): Promise<SeedInfo> {
  return wallet(ctx).getSeed(ctx.params.seed ?? '');
}

/** The router's scope check for `{seed}` routes (SPEC §10.2: no existence oracle). */
const seedOwner = {
  param: 'seed',
  async app(daemon: Daemon, seedId: string): Promise<string | undefined> {
    try {
      return (await new HdWallet(daemon.keystore()).getSeed(seedId)).app;
    } catch (error) {
      if (error instanceof CofferError && error.code === 'ENOENT') return undefined;
      throw error;
    }
  },
  notFound: (seedId: string) => new CofferError('ENOENT', `no HD seed ${seedId}`),
};

function index(ctx: Context<unknown, unknown>, name: 'coin' | 'account'): number {
  const text = ctx.params[name] ?? '';
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) > MAX_INDEX)
    throw new CofferError('EINVAL', `${name} must be a whole number from 0 to ${MAX_INDEX}`);
  return Number(text);
}

const SEED = '/v1/hd/seeds/{seed}';
const ACCOUNT = `${SEED}/accounts/{coin}/{account}`;

export const hdRoutes: Route[] = [
  route({
    method: 'POST',
    path: '/v1/hd/seeds',
    summary: 'Create an HD seed from fresh entropy; the reply carries its mnemonic, this once',
    auth: 'token',
    op: 'create',
    body: s.object({ ...seedCommon, words: s.optional(s.integer(12, 24, '12, 15, 18, 21 or 24')) }),
    status: 201,
    maxBody: SMALL_BODY,
    response: {
      type: 'object',
      properties: { seed: SEED_INFO, mnemonic: { type: 'string' } },
      required: ['seed', 'mnemonic'],
    },
    handler: async (ctx) => {
      inScope(ctx, ctx.body.app, 'create');
      return { json: await wallet(ctx).createSeed(ctx.body) };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/hd/seeds/import',
    summary: 'Import an HD seed from a BIP-39 mnemonic (EINVAL for a bad word or checksum)',
    auth: 'token',
    op: 'create',
    body: s.object({ ...seedCommon, mnemonic: s.string({ maxLength: 1024, minLength: 1 }) }),
    status: 201,
    maxBody: SMALL_BODY,
    response: SEED_INFO,
    handler: async (ctx) => {
      inScope(ctx, ctx.body.app, 'create');
      return { json: await wallet(ctx).importSeed(ctx.body) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/hd/seeds',
    summary: "List HD seeds (a scoped token sees only its apps' seeds)",
    auth: 'token',
    op: 'read',
    query: s.object({ app: s.optional(NAME) }),
    maxBody: 0,
    response: { type: 'object', properties: { seeds: { type: 'array', items: SEED_INFO } } },
    handler: async (ctx) => {
      if (ctx.query.app !== undefined) inScope(ctx, ctx.query.app, 'read');
      const seeds = await wallet(ctx).listSeeds(ctx.query);
      const token = ctx.token;
      return { json: { seeds: token ? seeds.filter((seed) => allowsApp(token, seed.app)) : seeds } };
    },
  }),
  route({
    method: 'GET',
    path: SEED,
    owner: seedOwner,
    summary: 'Get one HD seed (never its secret)',
    auth: 'token',
    op: 'read',
    maxBody: 0,
    response: SEED_INFO,
    handler: async (ctx) => ({ json: await seedInScope(ctx) }),
  }),
  route({
    method: 'POST',
    path: `${SEED}/destroy`,
    owner: seedOwner,
    summary: 'Wipe an HD seed; keys derived from it stay, nothing new can be derived',
    auth: 'token',
    op: 'destroy',
    body: s.object({ reason: s.optional(s.string({ maxLength: 256 })) }),
    maxBody: SMALL_BODY,
    response: SEED_INFO,
    handler: async (ctx) => {
      const seed = await seedInScope(ctx);
      return { json: await wallet(ctx).destroySeed(seed.id, ctx.body) };
    },
  }),
  route({
    method: 'GET',
    path: `${SEED}/xpub`,
    owner: seedOwner,
    summary: 'The BIP-32 extended public key at a path (default m), for watch-only wallets',
    auth: 'token',
    op: 'read',
    query: s.object({ path: s.optional(s.string({ maxLength: 256 })) }),
    maxBody: 0,
    response: { type: 'object', properties: { xpub: { type: 'string' } }, required: ['xpub'] },
    handler: async (ctx) => {
      const seed = await seedInScope(ctx);
      return { json: { xpub: await wallet(ctx).xpub(seed.id, ctx.query.path) } };
    },
  }),
  route({
    method: 'POST',
    path: `${SEED}/derive`,
    owner: seedOwner,
    summary: 'Derive the key at a path into the keystore (idempotent: the same path gives the same key)',
    auth: 'token',
    op: 'create',
    body: s.object({
      path: s.string({ maxLength: 256, minLength: 1 }),
      algorithm: ALGORITHM,
      purpose: s.optional(NAME),
      labels: s.optional(s.record(s.string({ maxLength: 256 }), 32)),
      backupAllowed: s.optional(s.boolean()),
    }),
    maxBody: SMALL_BODY,
    response: KEY_INFO,
    handler: async (ctx) => {
      const seed = await seedInScope(ctx);
      return { json: await wallet(ctx).deriveKey(seed.id, ctx.body) };
    },
  }),
  route({
    method: 'GET',
    path: `${SEED}/keys`,
    owner: seedOwner,
    summary: 'Keys derived from a seed',
    auth: 'token',
    op: 'read',
    maxBody: 0,
    response: { type: 'object', properties: { keys: { type: 'array', items: KEY_INFO } } },
    handler: async (ctx) => {
      const seed = await seedInScope(ctx);
      return { json: { keys: await wallet(ctx).derivedKeys(seed.id) } };
    },
  }),
  route({
    method: 'POST',
    path: `${SEED}/accounts`,
    owner: seedOwner,
    summary: "Create a BIP-44 account m/44'/coin'/account'",
    auth: 'token',
    op: 'create',
    body: s.object({
      coinType: s.integer(0, MAX_INDEX),
      account: s.optional(s.integer(0, MAX_INDEX)),
      algorithm: ALGORITHM,
      purpose: s.optional(NAME),
    }),
    status: 201,
    maxBody: SMALL_BODY,
    response: ACCOUNT_INFO,
    handler: async (ctx) => {
      const seed = await seedInScope(ctx);
      return { json: await wallet(ctx).createAccount(seed.id, ctx.body) };
    },
  }),
  route({
    method: 'GET',
    path: ACCOUNT,
    owner: seedOwner,
    summary: 'Get a BIP-44 account and its next indices',
    auth: 'token',
    op: 'read',
    maxBody: 0,
    response: ACCOUNT_INFO,
    handler: async (ctx) => {
      const seed = await seedInScope(ctx);
      return { json: await wallet(ctx).getAccount(seed.id, index(ctx, 'coin'), index(ctx, 'account')) };
    },
  }),
  route({
    method: 'POST',
    path: `${ACCOUNT}/next`,
    owner: seedOwner,
    summary: 'Claim the next receiving (or change) index of an account and derive its key',
    auth: 'token',
    op: 'create',
    body: s.object({ chain: s.optional(s.enumOf(['receive', 'change'] as const)) }),
    maxBody: SMALL_BODY,
    response: {
      type: 'object',
      properties: {
        key: KEY_INFO,
        chain: { type: 'string' },
        index: { type: 'integer' },
        path: { type: 'string' },
      },
    },
    handler: async (ctx) => {
      const seed = await seedInScope(ctx);
      return {
        json: await wallet(ctx).nextKey(seed.id, {
          coinType: index(ctx, 'coin'),
          account: index(ctx, 'account'),
          ...(ctx.body.chain !== undefined ? { chain: ctx.body.chain } : {}),
        }),
      };
    },
  }),
];
