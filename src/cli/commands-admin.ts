// Keystore administration: init (store + first keyslot + admin token), status / unlock / lock,
// tokens, the audit log and keyslots (protectors). Status, unlock and lock mean different things by
// mode: a daemon keeps the keystore unlocked between requests, direct mode unlocks per command.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { HEADER_KEY, parseHeader, readSlots } from '../core/keyslots.js';
import { Keystore } from '../core/keystore.js';
import type { ProtectorConfig } from '../core/protectors.js';
import { CofferError } from '../errors.js';
import { openStorage, parseStoreUrl } from '../storage/open.js';
import { type Command, type Context, emit, flag, int, iso, note, str, strings } from './command.js';
import type { Config } from './config.js';
import { openKeystore } from './direct.js';
import { withClient } from './remote.js';

/** A store URL safe to print: postgres URLs may carry a password. */
export function displayStore(url: string): string {
  return /^postgres(ql)?:/i.test(url) ? url.replace(/\/\/[^@/]*@/, '//…@') : url;
}

/** `--kdf alg[,field=value…]`, e.g. `argon2id,memoryKiB=19456,iterations=2,parallelism=1`. */
export function parseKdf(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  const [alg, ...fields] = text.split(',');
  const floors: Record<string, Record<string, number>> = {
    argon2id: { memoryKiB: 65_536, iterations: 3, parallelism: 1 },
    scrypt: { N: 2 ** 17, r: 8, p: 1 },
    'pbkdf2-sha256': { iterations: 600_000 },
  };
  const base = alg === undefined ? undefined : floors[alg];
  if (base === undefined)
    throw new CofferError('EINVAL', '--kdf must start with argon2id, scrypt or pbkdf2-sha256');
  const out: Record<string, unknown> = { alg, ...base };
  for (const field of fields) {
    const match = /^([A-Za-z]+)=([0-9]+)$/.exec(field);
    if (!match)
      throw new CofferError('EINVAL', `--kdf field ${JSON.stringify(field)} must look like name=number`);
    out[match[1]!] = Number(match[2]);
  }
  return out;
}

/** Creates the directory a local store will live in (0700: it holds wrapped keys). */
function prepareStoreDir(url: string): void {
  const location = parseStoreUrl(url);
  if (location.kind === 'postgres') return;
  const dir = location.kind === 'sqlite' ? dirname(resolve(location.path)) : dirname(resolve(location.path));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

async function storeHasKeystore(url: string): Promise<boolean> {
  let storage: Awaited<ReturnType<typeof openStorage>>;
  try {
    storage = await openStorage(url);
  } catch (error) {
    if (error instanceof CofferError && error.code === 'ENOENT') return false;
    throw error;
  }
  try {
    return (await storage.get(HEADER_KEY)) !== undefined;
  } finally {
    await storage.close();
  }
}

const init: Command = {
  path: ['init'],
  summary: 'create a keystore with its first protector, and an admin token for the daemon',
  usage: '[--store URL] [--protector passphrase|keyring|tpm2|pkcs11] [--kdf SPEC]',
  options: { kdf: { type: 'string' } },
  optionHelp: [
    [
      '--store URL',
      'sqlite:PATH (default sqlite:$COFFER_HOME/keystore.db, COFFER_HOME=~/.coffer), dir:PATH, postgres://…',
    ],
    ['--protector TYPE', 'passphrase (default; COFFER_PASSPHRASE or a prompt), keyring, tpm2, pkcs11'],
    [
      '--kdf SPEC',
      'passphrase KDF: argon2id (default, 64 MiB, t=3), or e.g. argon2id,memoryKiB=19456,iterations=2',
    ],
  ],
  notes: ['The admin token is printed once and stored only as a hash: keep it (e.g. in COFFER_TOKEN).'],
  examples: [
    'coffer init',
    'COFFER_PASSPHRASE=… coffer init --store sqlite:/var/lib/coffer/keystore.db --json',
    'coffer init --store dir:./keys --protector tpm2',
  ],
  positionals: 0,
  async run(ctx) {
    const config = ctx.config;
    const store = config.store;
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
    prepareStoreDir(store);
    const { anchor } = await config.keystoreOptions();
    const ks = await Keystore.open({
      store,
      protector,
      create: true,
      actor: 'cli:init',
      ...(anchor ? { anchor } : {}),
    });
    try {
      const { createToken } = await import('../server/tokens.js');
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
      note(
        ctx,
        `Created keystore ${ks.id} at ${displayStore(store)} (protector: ${type}).\n` +
          'The line above is the admin token for the daemon; it is shown only this once.',
      );
    } finally {
      await ks.close();
    }
  },
};

async function directStatus(ctx: Context): Promise<void> {
  const store = ctx.config.store;
  const storage = await openStorage(store).catch((error: unknown) => {
    if (error instanceof CofferError && error.code === 'ENOENT')
      throw new CofferError(
        'ENOENT',
        `no keystore at ${displayStore(store)}: create one with \`coffer init\``,
      );
    throw error;
  });
  try {
    const record = await storage.get(HEADER_KEY);
    if (!record)
      throw new CofferError(
        'ENOENT',
        `no keystore at ${displayStore(store)}: create one with \`coffer init\``,
      );
    const header = parseHeader(record.value);
    const { slots } = await readSlots(storage);
    const protectors = slots.map(({ slot }) => ({ id: slot.id, type: slot.type }));
    await emit(
      ctx,
      {
        mode: 'direct',
        store: displayStore(store),
        keystoreId: header.id,
        createdAt: header.createdAt,
        locked: true,
        protectors,
      },
      [
        `mode        direct (each command unlocks the store itself; nothing stays unlocked)`,
        `store       ${displayStore(store)}`,
        `keystore    ${header.id}, created ${iso(header.createdAt)}`,
        `protectors  ${protectors.map((p) => `${p.type} (${p.id})`).join(', ')}`,
      ],
    );
  } finally {
    await storage.close();
  }
}

const status: Command = {
  path: ['status'],
  summary: 'show the keystore (direct) or daemon status: locked, lockout, keystore id',
  usage: '',
  examples: ['coffer status', 'COFFER_SOCKET=/run/coffer/coffer.sock coffer status --json'],
  positionals: 0,
  async run(ctx) {
    if (ctx.config.daemon === undefined) return directStatus(ctx);
    const s = await withClient(ctx.config, { needToken: false }, (client) => client.status());
    return emit(ctx, { mode: 'daemon', ...s }, [
      `mode        daemon`,
      `locked      ${s.locked ? 'yes' : 'no'}`,
      ...(s.lockedOutUntil
        ? [`locked out  until ${iso(s.lockedOutUntil)} (too many wrong passphrases)`]
        : []),
      `keystore    ${s.keystoreId}`,
      `version     ${s.version}`,
    ]);
  },
};

const unlock: Command = {
  path: ['unlock'],
  summary: 'unlock the daemon with the passphrase (direct mode: check that the passphrase opens the store)',
  usage: '',
  examples: [
    'coffer unlock            # prompts on a terminal',
    'COFFER_PASSPHRASE_FILE=/run/secrets/coffer coffer unlock',
  ],
  notes: ['5 wrong passphrases lock the daemon out for 15 minutes (exit 8), even across restarts.'],
  positionals: 0,
  async run(ctx) {
    if (ctx.config.daemon === undefined) {
      const ks = await openKeystore(ctx.config);
      const id = ks.id;
      await ks.close();
      return emit(
        ctx,
        { mode: 'direct', keystoreId: id, unlocked: true },
        `the passphrase opens keystore ${id} (direct mode: nothing stays unlocked)`,
      );
    }
    const passphrase = await ctx.config.passphrase();
    await withClient(ctx.config, { needToken: false }, (client) => client.unlock(passphrase));
    return emit(ctx, { mode: 'daemon', unlocked: true }, 'daemon unlocked');
  },
};

const lock: Command = {
  path: ['lock'],
  summary: 'lock the daemon: it forgets the master key until the next unlock',
  usage: '',
  examples: ['coffer lock'],
  positionals: 0,
  async run(ctx) {
    if (ctx.config.daemon === undefined) {
      throw new CofferError(
        'EINVAL',
        '`coffer lock` locks a running daemon (set --socket/--url or COFFER_SOCKET/COFFER_URL); ' +
          'in direct mode every command unlocks and locks the store by itself',
      );
    }
    await withClient(ctx.config, { needToken: false }, (client) => client.lock());
    return emit(ctx, { mode: 'daemon', locked: true }, 'daemon locked');
  },
};

const tokenCreate: Command = {
  path: ['token', 'create'],
  summary: 'create a bearer token for apps and operations (shown once)',
  usage: '--app APP[,APP] --ops OP[,OP] [--name NAME] [--admin]',
  options: {
    app: { type: 'string', multiple: true },
    ops: { type: 'string' },
    name: { type: 'string' },
    admin: { type: 'boolean' },
  },
  optionHelp: [
    ['--app APP', "apps the token may use keys of (repeatable or comma-separated; '*' = all)"],
    ['--ops OPS', "operations, e.g. sign,verify or seal,unseal ('*' = all)"],
    ['--admin', 'may also manage keys, tokens and the audit log'],
  ],
  examples: [
    'coffer token create --app billing --ops sign,verify --json',
    "coffer token create --name ops --app '*' --ops '*' --admin",
  ],
  positionals: 0,
  async run(ctx) {
    const apps = strings(ctx.values, 'app');
    const ops = strings(ctx.values, 'ops');
    if (apps.length === 0) throw new CofferError('EINVAL', "--app is required (an app name, or '*')");
    if (ops.length === 0) throw new CofferError('EINVAL', "--ops is required (e.g. sign,verify, or '*')");
    const name = str(ctx.values, 'name');
    const result = await (await ctx.backend()).createToken({
      apps,
      ops,
      ...(name !== undefined ? { name } : {}),
      ...(flag(ctx.values, 'admin') ? { admin: true } : {}),
    });
    await emit(ctx, { id: result.id, token: result.token }, result.token);
    note(ctx, `token ${result.id} created; it is shown only this once`);
  },
};

const tokenList: Command = {
  path: ['token', 'list'],
  summary: 'list tokens (never their secrets)',
  usage: '',
  examples: ['coffer token list --json'],
  positionals: 0,
  async run(ctx) {
    const tokens = await (await ctx.backend()).listTokens();
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
  },
};

const tokenRevoke: Command = {
  path: ['token', 'revoke'],
  summary: 'revoke a token by id',
  usage: 'TOKEN_ID',
  examples: ['coffer token revoke t_abc…'],
  positionals: 1,
  async run(ctx) {
    await (await ctx.backend()).revokeToken(ctx.args[0]!);
    return emit(ctx, { id: ctx.args[0], revoked: true }, `token ${ctx.args[0]} revoked`);
  },
};

const auditTail: Command = {
  path: ['audit', 'tail'],
  summary: 'show the newest audit entries',
  usage: '[-n N]',
  options: { count: { type: 'string', short: 'n' } },
  examples: ['coffer audit tail -n 50', 'coffer audit tail --json'],
  positionals: 0,
  async run(ctx) {
    const count = int(ctx.values, 'count', 1, 10_000) ?? 20;
    const entries = await (await ctx.backend()).auditTail(count);
    return emit(
      ctx,
      entries,
      entries.map((e) =>
        [
          String(e.seq).padStart(6),
          iso(e.at),
          e.actor,
          e.event,
          e.keyId ?? '',
          e.details ? JSON.stringify(e.details) : '',
        ]
          .join('  ')
          .trimEnd(),
      ),
    );
  },
};

const auditVerify: Command = {
  path: ['audit', 'verify'],
  summary: 'check the hash chain and MACs of the whole audit log (a broken log exits 7)',
  usage: '',
  examples: ['coffer audit verify'],
  positionals: 0,
  async run(ctx) {
    const report = await (await ctx.backend()).auditVerify();
    if (!report.ok) {
      if (ctx.config.json) await emit(ctx, report, '');
      throw new CofferError(
        'EBADMSG',
        `the audit log does not verify: ${report.problems.slice(0, 5).join('; ')}`,
      );
    }
    return emit(ctx, report, `audit log OK: ${report.entries} entries, hash chain and MACs intact`);
  },
};

const protectorList: Command = {
  path: ['protector', 'list'],
  summary: 'list the keyslots (any one of them opens the keystore)',
  usage: '',
  examples: ['coffer protector list'],
  positionals: 0,
  async run(ctx) {
    const list = await (await ctx.backend()).listProtectors();
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
  },
};

function directOnly(config: Config, what: string): void {
  if (config.daemon !== undefined)
    throw new CofferError(
      'EINVAL',
      `${what} works on the store directly: run it with --store (not through the daemon)`,
    );
}

const protectorAdd: Command = {
  path: ['protector', 'add'],
  summary: 'add a keyslot: passphrase, keyring, tpm2 or pkcs11 (opened with --protector, default passphrase)',
  usage:
    'TYPE [--keyring-service S --keyring-account A | --tcti T --pcrs P | --pkcs11-module M --pkcs11-token L --pkcs11-key K] [--kdf SPEC]',
  options: { kdf: { type: 'string' } },
  notes: [
    'A new passphrase comes from COFFER_NEW_PASSPHRASE (or a prompt); a PKCS#11 PIN from COFFER_PKCS11_PIN.',
    'The store is opened with the current protector (--protector, default passphrase from COFFER_PASSPHRASE).',
  ],
  examples: [
    'COFFER_NEW_PASSPHRASE=… coffer protector add passphrase',
    'coffer protector add tpm2 --tcti device:/dev/tpmrm0',
  ],
  positionals: 1,
  async run(ctx) {
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
    const backend = await ctx.backend();
    if (backend.mode !== 'direct') throw new CofferError('EINVAL', 'protector add needs direct mode');
    const { DirectBackend } = await import('./direct.js');
    const info = await (backend as InstanceType<typeof DirectBackend>).ks.addProtector(config);
    return emit(ctx, info, `added keyslot ${info.id} (${info.type})`);
  },
};

const protectorRemove: Command = {
  path: ['protector', 'remove'],
  summary: 'remove a keyslot (the last one is refused: the store could never be opened again)',
  usage: 'SLOT_ID --yes [--keep-platform-key]',
  options: { yes: { type: 'boolean' }, 'keep-platform-key': { type: 'boolean' } },
  optionHelp: [
    ['--yes', 'confirm: a removed keyslot cannot be restored'],
    [
      '--keep-platform-key',
      'leave the keyring entry / token key in place (by default it is deleted; a pkcs11 slot then needs --pkcs11-* and COFFER_PKCS11_PIN)',
    ],
  ],
  examples: [
    'coffer protector remove s_abcdefghijklmnop --yes',
    'COFFER_PKCS11_PIN=… coffer protector remove s_abcdefghijklmnop --yes --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pkcs11-token coffer --pkcs11-key coffer-kek',
  ],
  positionals: 1,
  async run(ctx) {
    directOnly(ctx.config, 'protector remove');
    if (!flag(ctx.values, 'yes'))
      throw new CofferError('EINVAL', 'removing a keyslot cannot be undone: add --yes to confirm');
    const backend = await ctx.backend();
    const { DirectBackend } = await import('./direct.js');
    const ks = (backend as InstanceType<typeof DirectBackend>).ks;
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
    const note =
      result.platformKey === 'left'
        ? ` (platform key left in place: ${result.reason ?? 'could not delete it'})`
        : '';
    return emit(
      ctx,
      { ...result, removed: true },
      `removed keyslot ${result.id} (${result.type}); platform key ${result.platformKey}${note}`,
    );
  },
};

export const adminCommands: Command[] = [
  init,
  status,
  unlock,
  lock,
  tokenCreate,
  tokenList,
  tokenRevoke,
  auditTail,
  auditVerify,
  protectorAdd,
  protectorRemove,
  protectorList,
];
