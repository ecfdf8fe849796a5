// Keystore administration (table/admin.ts): init (store + first keyslot + admin token), status /
// unlock / lock, tokens, the audit log and keyslots. Status, unlock and lock mean different things by
// mode: a daemon keeps the keystore unlocked between requests; in direct mode the per-user agent does
// (started by unlock or the first command), or, with the agent off, nothing stays unlocked.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { CofferClient, UnlockAttempts } from '../../client/index.js';
import type { AuditEntry } from '../../core/audit.js';
import type { StoreHeader } from '../../core/keyslots.js';
import type { AuditPageRequest } from '../../core/surface.js';
import {
  DEFAULT_PASSPHRASE_KDF,
  PASSPHRASE_KDF_LIMITS,
  type PassphraseKdfParams,
  parsePassphraseKdfParams,
} from '../../crypto/passphrase-kdf.js';
import { CofferError } from '../../errors.js';
import type { ProtectorConfig } from '../../protect/configs.js';
import type { AgentStatus } from '../agent/protocol.js';
import type { Config } from '../config.js';
import { connectDaemon, findAgent, startAgent } from '../connect.js';
import { type Context, displayStore, emit, flag, int, iso, note, str, strings } from '../context.js';
import { pagedRows, streamPages } from '../paged-output.js';
import type { CommandRun } from '../spec.js';
import { parseDuration } from '../values.js';

// The keystore, storage and daemon modules are loaded by the commands that need them, so the
// everyday ones (tokens, audit, lock, status through the agent) start as fast as the CLI itself.

/** `--kdf alg[,field=value…]`, e.g. `argon2id,memoryKiB=19456,iterations=2,parallelism=1`. */
/**
 * `--kdf alg[,name=value…]` → validated KDF parameters. Fields not given take the library default
 * (argon2id) or the algorithm's floor (scrypt, pbkdf2-sha256) from crypto/passphrase-kdf.ts, and the
 * result passes the same validation every keyslot does, so the CLI holds no bound of its own.
 */
export function parseKdf(text: string | undefined): PassphraseKdfParams | undefined {
  if (text === undefined) return undefined;
  const [alg, ...fields] = text.split(',');
  if (alg !== 'argon2id' && alg !== 'scrypt' && alg !== 'pbkdf2-sha256')
    throw new CofferError('EINVAL', '--kdf must start with argon2id, scrypt or pbkdf2-sha256');
  const out: Record<string, unknown> =
    alg === 'argon2id'
      ? { ...DEFAULT_PASSPHRASE_KDF }
      : {
          alg,
          ...Object.fromEntries(
            Object.entries(PASSPHRASE_KDF_LIMITS[alg]).flatMap(([name, bound]) =>
              typeof bound === 'object' ? [[name, bound.min]] : [],
            ),
          ),
        };
  for (const field of fields) {
    const match = /^([A-Za-z]+)=([0-9]+)$/.exec(field);
    if (!match)
      throw new CofferError('EINVAL', `--kdf field ${JSON.stringify(field)} must look like name=number`);
    out[match[1]!] = Number(match[2]);
  }
  return parsePassphraseKdfParams(out);
}

/** Creates the directory a local store will live in (0700: it holds wrapped keys). */
async function prepareStoreDir(url: string): Promise<void> {
  const { parseStoreUrl } = await import('../../storage/open.js');
  const location = parseStoreUrl(url);
  if (location.kind === 'postgres') return;
  mkdirSync(dirname(resolve(location.path)), { recursive: true, mode: 0o700 });
}

async function storeHasKeystore(url: string): Promise<boolean> {
  const [{ openStorage }, { readStoreHeader }] = await Promise.all([
    import('../../storage/open.js'),
    import('../../core/keyslots.js'),
  ]);
  let storage: Awaited<ReturnType<typeof openStorage>>;
  try {
    storage = await openStorage(url);
  } catch (error) {
    if (error instanceof CofferError && error.code === 'ENOENT') return false;
    throw error;
  }
  try {
    return (await readStoreHeader(storage)) !== undefined;
  } finally {
    await storage.close();
  }
}

function daemonWhere(config: Config): string {
  const daemon = config.daemon;
  return daemon === undefined ? '' : 'socket' in daemon ? daemon.socket : daemon.url;
}

export const init: CommandRun = async (ctx) => {
  const config = ctx.config;
  const store = config.store;
  const [{ parseStoreUrl }, { Keystore }, { createToken }] = await Promise.all([
    import('../../storage/open.js'),
    import('../../core/keystore.js'),
    import('../../access/tokens.js'),
  ]);
  parseStoreUrl(store);
  const kdf = parseKdf(str(ctx.values, 'kdf'));
  const type = config.protectorType;
  if (kdf !== undefined && type !== 'passphrase')
    throw new CofferError('EINVAL', '--kdf applies to the passphrase protector only');
  if (await storeHasKeystore(store))
    throw new CofferError(
      'EALREADY',
      `a keystore already exists at ${displayStore(store)}: nothing was changed`,
    );
  const protector: ProtectorConfig = await config.protectorConfig(type, {
    newSlot: true,
    ...(kdf ? { kdf } : {}),
  });
  const { anchor } = await config.keystoreOptions();
  await prepareStoreDir(store);
  const ks = await Keystore.open({
    store,
    protector,
    create: true,
    actor: 'cli:init',
    ...(anchor ? { anchor } : {}),
  });
  try {
    const admin = await createToken(ks, { name: 'admin', admin: true, apps: ['*'], ops: ['*'] });
    await emit(
      ctx,
      {
        keystoreId: ks.id,
        store: displayStore(store),
        protector: type,
        adminToken: admin.token,
        adminTokenId: admin.id,
      },
      [admin.token],
    );
    // Where the token went: "the line above" only makes sense when stdout is this terminal.
    const where = ctx.streams.stdout.isTTY
      ? 'The line above is the admin token for the daemon'
      : 'The admin token for the daemon went to standard output';
    note(
      ctx,
      `Created keystore ${ks.id} at ${displayStore(store)} (protector: ${type}).\n${where}; it is shown only this once.`,
    );
  } finally {
    await ks.close();
  }
};

function attemptsLine(attempts: UnlockAttempts | undefined): string[] {
  if (attempts === undefined) return [];
  const out = `unlock      ${attempts.failures} failed attempt${attempts.failures === 1 ? '' : 's'} (lockout after ${attempts.maxFailures} in a row)`;
  return [
    out,
    ...(attempts.lockedOutUntil !== undefined
      ? [`locked out  until ${iso(attempts.lockedOutUntil)} (too many wrong passphrases)`]
      : []),
  ];
}

function agentLine(config: Config, agent: AgentStatus | undefined): string {
  if (agent !== undefined)
    return `agent       running (pid ${agent.pid}), unlocked since ${iso(agent.startedAt)}; locks at ${iso(agent.idleUntil)} unless used`;
  return config.agentEnabled
    ? 'agent       not running: the next command that needs the keystore unlocks it and starts one'
    : 'agent       off: every command unlocks the store itself and nothing stays unlocked';
}

async function directStatus(ctx: Context): Promise<void> {
  const config = ctx.config;
  const store = config.store;
  const [{ openExistingStorage }, { readStoreHeader, readSlots }, { readUnlockAttempts }] = await Promise.all(
    [import('../local.js'), import('../../core/keyslots.js'), import('../../access/lockout.js')],
  );
  const storage = await openExistingStorage(store, config.storeIsDefault);
  let header: StoreHeader;
  let protectors: { id: string; type: string }[];
  let attempts: UnlockAttempts;
  try {
    const found = await readStoreHeader(storage);
    // openExistingStorage has just seen the header; only a concurrent wipe gets here.
    if (!found) throw new CofferError('ENOENT', 'the store no longer holds a keystore');
    header = found;
    protectors = (await readSlots(storage)).slots.map(({ slot }) => ({ id: slot.id, type: slot.type }));
    attempts = await readUnlockAttempts(storage, Date.now());
  } finally {
    await storage.close();
  }
  const connection = await findAgent(config);
  let agent: AgentStatus | undefined;
  try {
    agent = await connection?.status();
  } finally {
    connection?.close();
  }
  await emit(
    ctx,
    {
      mode: 'direct',
      store: displayStore(store),
      keystoreId: header.id,
      createdAt: header.createdAt,
      locked: agent === undefined,
      agentEnabled: config.agentEnabled,
      agent: agent ?? null,
      protectors,
      unlockAttempts: attempts,
    },
    [
      'mode        direct',
      agentLine(config, agent),
      `store       ${displayStore(store)}`,
      `keystore    ${header.id}, created ${iso(header.createdAt)}`,
      `protectors  ${protectors.map((p) => `${p.type} (${p.id})`).join(', ')}`,
      ...attemptsLine(attempts),
    ],
  );
}

/** The daemon's unlock attempts; a daemon from before /v1/unlock/attempts has none to show. */
async function daemonAttempts(client: CofferClient): Promise<UnlockAttempts | undefined> {
  try {
    return await client.unlockAttempts();
  } catch (error) {
    if (error instanceof CofferError && error.code === 'ENOENT') return undefined;
    throw error;
  }
}

export const status: CommandRun = async (ctx) => {
  if (ctx.config.daemon === undefined) return directStatus(ctx);
  const client = await connectDaemon(ctx.config, { needToken: false });
  try {
    const s = await client.status();
    const attempts = await daemonAttempts(client);
    return await emit(ctx, { mode: 'daemon', ...s, ...(attempts ? { unlockAttempts: attempts } : {}) }, [
      `mode        daemon (${daemonWhere(ctx.config)})`,
      `locked      ${s.locked ? 'yes: run `coffer unlock`' : 'no'}`,
      ...attemptsLine(
        attempts ??
          (s.lockedOutUntil ? { failures: 5, maxFailures: 5, lockedOutUntil: s.lockedOutUntil } : undefined),
      ),
      `keystore    ${s.keystoreId}`,
      `version     ${s.version}`,
    ]);
  } finally {
    client.close();
  }
};

function agentSummary(agent: AgentStatus): string {
  return `the agent (pid ${agent.pid}) keeps ${displayStore(agent.store)} unlocked; it locks after ${Math.round(agent.idleTimeoutMs / 60_000) || '<1'} min unused, or on \`coffer lock\``;
}

export const unlock: CommandRun = async (ctx) => {
  const config = ctx.config;
  if (config.daemon !== undefined) {
    const passphrase = await config.passphrase();
    const client = await connectDaemon(config, { needToken: false });
    try {
      await client.unlock(passphrase);
    } finally {
      client.close();
    }
    return emit(ctx, { mode: 'daemon', unlocked: true }, 'daemon unlocked');
  }
  if (!config.agentEnabled) {
    const { openKeystore } = await import('../local.js');
    const ks = await openKeystore(config);
    const id = ks.id;
    await ks.close();
    return emit(
      ctx,
      { mode: 'direct', keystoreId: id, unlocked: true, agent: null },
      `the passphrase opens keystore ${id} (agent off: nothing stays unlocked)`,
    );
  }
  const running = await findAgent(config);
  if (running) {
    const agent = await running.status().finally(() => running.close());
    throw new CofferError('EALREADY', `already unlocked: ${agentSummary(agent)}`);
  }
  const started = await startAgent(config);
  try {
    const agent = await started.status();
    return await emit(
      ctx,
      { mode: 'agent', keystoreId: agent.keystoreId, unlocked: true, agent },
      `unlocked: ${agentSummary(agent)}`,
    );
  } finally {
    started.close();
  }
};

export const lock: CommandRun = async (ctx) => {
  const config = ctx.config;
  if (config.daemon !== undefined) {
    const client = await connectDaemon(config, { needToken: false });
    try {
      await client.lock();
    } finally {
      client.close();
    }
    return emit(ctx, { mode: 'daemon', locked: true }, 'daemon locked');
  }
  const agent = await findAgent(config);
  if (!agent) {
    return emit(
      ctx,
      { mode: 'direct', locked: true, stopped: false },
      `nothing to lock: no agent keeps ${displayStore(config.store)} unlocked`,
    );
  }
  const last = await agent.stop().finally(() => agent.close());
  return emit(
    ctx,
    { mode: 'agent', locked: true, stopped: true, agent: last },
    `locked: the agent (pid ${last.pid}) wiped its keys and stopped`,
  );
};

export const tokenCreate: CommandRun = async (ctx) => {
  const apps = strings(ctx.values, 'app');
  const ops = strings(ctx.values, 'ops');
  if (apps.length === 0) throw new CofferError('EINVAL', "--app is required (an app name, or '*')");
  if (ops.length === 0) throw new CofferError('EINVAL', "--ops is required (e.g. sign,verify, or '*')");
  const name = str(ctx.values, 'name');
  const result = await (await ctx.ops()).tokens.create({
    apps,
    ops,
    ...(name !== undefined ? { name } : {}),
    ...(flag(ctx.values, 'admin') ? { admin: true } : {}),
  });
  await emit(ctx, { id: result.id, token: result.token }, result.token);
  note(ctx, `token ${result.id} created; it is shown only this once`);
};

export const tokenList: CommandRun = async (ctx) => {
  const tokens = await (await ctx.ops()).tokens.list();
  return emit(
    ctx,
    tokens,
    tokens.map((t) =>
      [
        t.id,
        (t.name ?? '-').padEnd(12),
        `apps=${t.apps.join(',')}`,
        `ops=${t.ops.join(',')}`,
        t.admin ? 'admin' : '',
        `last used ${iso(t.lastUsedAt)}`,
      ].join('  '),
    ),
  );
};

export const tokenRevoke: CommandRun = async (ctx) => {
  await (await ctx.ops()).tokens.revoke(ctx.args[0]!);
  return emit(ctx, { id: ctx.args[0], revoked: true }, `token ${ctx.args[0]} revoked`);
};

function auditRow(e: AuditEntry): string {
  return [
    String(e.seq).padStart(6),
    iso(e.at),
    e.actor,
    e.event,
    e.keyId ?? '',
    e.details ? JSON.stringify(e.details) : '',
  ]
    .join('  ')
    .trimEnd();
}

export const auditTail: CommandRun = async (ctx) => {
  const count = int(ctx.values, 'count', 1, 10_000) ?? 20;
  const entries = await (await ctx.ops()).auditTail(count);
  return emit(ctx, entries, entries.map(auditRow));
};

/** An instant for --since/--until: ISO 8601, ms since the epoch, or a duration ago (24h, 7d). */
export function parseInstant(text: string, what: string, now: number): number {
  if (/^[0-9]{1,16}$/.test(text)) return Number(text);
  if (/^[1-9][0-9]{0,9}(ms|s|m|h|d)$/.test(text)) return Math.max(0, now - parseDuration(text, what));
  const at = /^[0-9]{4}-[0-9]{2}-[0-9]{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(at) || at < 0)
    throw new CofferError(
      'EINVAL',
      `${what} must be an ISO 8601 date or time, ms since the epoch, or a duration ago like 24h or 7d`,
    );
  return at;
}

/**
 * Streams the audit log page by page (docs/cli.md "Listings stream", SPEC §8.1): each page is checked
 * against the hash chain as it is read and printed as it arrives, so the log is never held whole.
 */
export const auditList: CommandRun = async (ctx) => {
  const now = Date.now();
  const since = str(ctx.values, 'since');
  const until = str(ctx.values, 'until');
  const request: AuditPageRequest = {
    limit: int(ctx.values, 'page-size', 1, 1000) ?? 500,
    order: flag(ctx.values, 'newest-first') ? 'desc' : 'asc',
    ...(since !== undefined ? { since: parseInstant(since, '--since', now) } : {}),
    ...(until !== undefined ? { until: parseInstant(until, '--until', now) } : {}),
  };
  for (const [option, field] of [
    ['key', 'keyId'],
    ['event', 'event'],
    ['actor', 'actor'],
  ] as const) {
    const value = str(ctx.values, option);
    if (value !== undefined) request[field] = value;
  }
  const ops = await ctx.ops();
  await streamPages(
    ctx,
    pagedRows(
      (cursor) => ops.auditPage({ ...request, ...cursor }),
      (page) => page.entries,
    ),
    auditRow,
  );
};

export const auditVerify: CommandRun = async (ctx) => {
  const report = await (await ctx.ops()).verifyAudit();
  if (!report.ok) {
    if (ctx.config.json) await emit(ctx, report, '');
    throw new CofferError(
      'EBADMSG',
      `the audit log does not verify: ${report.problems.slice(0, 5).join('; ')}`,
    );
  }
  return emit(ctx, report, `audit log OK: ${report.entries} entries, hash chain and MACs intact`);
};

export const protectorList: CommandRun = async (ctx) => {
  const list = await (await ctx.ops()).listProtectors();
  return emit(
    ctx,
    list,
    list.map((p) =>
      [
        p.id,
        p.type.padEnd(10),
        p.capabilities.hardwareBacked ? 'hardware' : 'software',
        p.intact ? '' : 'ALTERED (ignored)',
        `last used ${iso(p.lastUsedAt)}`,
      ]
        .filter((s) => s !== '')
        .join('  '),
    ),
  );
};

/** Keyslot changes need the protector's platform here (its keyring, TPM or token): never through a daemon. */
function directOnly(config: Config, what: string): void {
  if (config.daemon !== undefined)
    throw new CofferError(
      'EINVAL',
      `${what} works on the store directly: run it with --store (not through the daemon)`,
    );
}

export const protectorAdd: CommandRun = async (ctx) => {
  directOnly(ctx.config, 'protector add');
  const type = ctx.args[0]!;
  const kdf = parseKdf(str(ctx.values, 'kdf'));
  let config: ProtectorConfig;
  if (type === 'passphrase') {
    const passphrase = await ctx.config.newPassphrase('COFFER_NEW_PASSPHRASE');
    config = { type, passphrase, ...(kdf ? { kdf } : {}) };
  } else {
    if (kdf) throw new CofferError('EINVAL', '--kdf applies to the passphrase protector only');
    config = await ctx.config.protectorConfig(type);
  }
  const info = await (await ctx.keystore()).addProtector(config);
  return emit(ctx, info, `added keyslot ${info.id} (${info.type})`);
};

export const protectorRemove: CommandRun = async (ctx) => {
  directOnly(ctx.config, 'protector remove');
  if (!flag(ctx.values, 'yes'))
    throw new CofferError('EINVAL', 'removing a keyslot cannot be undone: add --yes to confirm');
  const ks = await ctx.keystore();
  const keep = flag(ctx.values, 'keep-platform-key');
  // A token key can only be deleted by a session logged in with its PIN: pass the pkcs11 config
  // when the command line gives one.
  const slot = (await ks.listProtectors()).find((p) => p.id === ctx.args[0]);
  const config =
    !keep && slot?.type === 'pkcs11' && ctx.config.env.COFFER_PKCS11_PIN
      ? await ctx.config.protectorConfig('pkcs11')
      : undefined;
  const result = await ks.removeProtector(ctx.args[0]!, {
    keepPlatformKey: keep,
    ...(config ? { config } : {}),
  });
  const left =
    result.platformKey === 'left'
      ? ` (platform key left in place: ${result.reason ?? 'could not delete it'})`
      : '';
  return emit(
    ctx,
    { ...result, removed: true },
    `removed keyslot ${result.id} (${result.type}); platform key ${result.platformKey}${left}`,
  );
};
