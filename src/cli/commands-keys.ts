// `coffer key …`: create (one or many, with a progress bar), list, show, the lifecycle transitions
// of DESIGN §3 (rotate, suspend, resume, revoke, destroy) and public key export, including the
// `coffer` public-key string for X-Wing keys that `coffer encrypt --to` takes.
import { PUBLIC_KEY_FORMATS, type PublicKeyFormat } from '../core/public-key.js';
import { encodePublicKeyString } from '../core/public-key-string.js';
import {
  type CreateKeySpec,
  KEY_ALGORITHMS,
  type KeyAlgorithm,
  type KeyUse,
  type RotationPolicy,
} from '../core/types.js';
import { CofferError } from '../errors.js';
import {
  type Command,
  type Context,
  duration,
  emit,
  flag,
  int,
  keyDetails,
  keyRow,
  note,
  requireStr,
  str,
  strings,
} from './command.js';
import { writeBinary, writeText } from './io.js';
import { ProgressBar } from './progress.js';

const CLI_FORMATS = [...PUBLIC_KEY_FORMATS, 'coffer'] as const;

function labels(values: Context['values']): Record<string, string> | undefined {
  const list = strings(values, 'label');
  if (list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CofferError('EINVAL', `--label takes KEY=VALUE, got ${JSON.stringify(item)}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

function rotation(values: Context['values']): RotationPolicy | undefined {
  const policy: RotationPolicy = {};
  const every = duration(values, 'rotate-every');
  const grace = duration(values, 'grace');
  const maxUses = int(values, 'max-uses', 1, Number.MAX_SAFE_INTEGER);
  if (every !== undefined) policy.intervalMs = every;
  if (grace !== undefined) policy.gracePeriodMs = grace;
  if (maxUses !== undefined) policy.maxUses = maxUses;
  const warn = duration(values, 'warn-before');
  if (warn !== undefined) policy.advanceWarningMs = warn;
  if (values.confirm === true) policy.requireConfirmation = true;
  return Object.keys(policy).length > 0 ? policy : undefined;
}

const create: Command = {
  path: ['key', 'create'],
  summary: 'create a key (or --count N keys) for an app and purpose',
  usage: '--app APP --purpose PURPOSE --alg ALG [--uses U,U] [--label K=V]… [--count N]',
  options: {
    app: { type: 'string' },
    purpose: { type: 'string' },
    alg: { type: 'string' },
    uses: { type: 'string' },
    label: { type: 'string', multiple: true },
    count: { type: 'string' },
    'pre-active': { type: 'boolean' },
    'no-backup': { type: 'boolean' },
    'rotate-every': { type: 'string' },
    'warn-before': { type: 'string' },
    confirm: { type: 'boolean' },
    grace: { type: 'string' },
    'max-uses': { type: 'string' },
  },
  optionHelp: [
    ['--alg ALG', KEY_ALGORITHMS.join(' | ')],
    ['--uses U,U', 'allowed uses (default: every use the algorithm supports)'],
    ['--label K=V', 'a label (repeatable)'],
    ['--count N', 'create N keys in durable batches, with a progress bar on a terminal (max 100000)'],
    ['--rotate-every DUR', 'rotation interval, e.g. 90d; --grace DUR, --max-uses N'],
    [
      '--warn-before DUR',
      'advance warning before a rotation is due; --confirm: rotations wait for a confirmation',
    ],
    ['--pre-active', 'create the key pre-active (it cannot protect until activated)'],
    ['--no-backup', 'keep this key out of encrypted backups'],
  ],
  examples: [
    'coffer key create --app billing --purpose invoices --alg ed25519',
    'coffer key create --app web --purpose sessions --alg aes-256-gcm --json',
    'coffer key create --app iot --purpose devices --alg ecdsa-p256 --count 1000',
  ],
  positionals: 0,
  async run(ctx) {
    const v = ctx.values;
    const alg = requireStr(v, 'alg', KEY_ALGORITHMS.join(', '));
    if (!(KEY_ALGORITHMS as readonly string[]).includes(alg))
      throw new CofferError('EINVAL', `unknown --alg ${alg}: use one of ${KEY_ALGORITHMS.join(', ')}`);
    const uses = strings(v, 'uses');
    const spec: CreateKeySpec = {
      app: requireStr(v, 'app'),
      purpose: requireStr(v, 'purpose'),
      algorithm: alg as KeyAlgorithm,
      ...(uses.length > 0 ? { uses: uses as KeyUse[] } : {}),
      ...(labels(v) ? { labels: labels(v) } : {}),
      ...(rotation(v) ? { rotation: rotation(v) } : {}),
      ...(flag(v, 'pre-active') ? { preActive: true } : {}),
      ...(flag(v, 'no-backup') ? { backupAllowed: false } : {}),
    };
    const count = int(v, 'count', 1, 100_000);
    const backend = await ctx.backend();
    if (count === undefined) {
      const [key] = await backend.createKeys([spec]);
      if (key?.insecure) note(ctx, 'warning: insecure deterministic mode: this key is predictable');
      return emit(ctx, key, key!.id);
    }
    const bar = new ProgressBar(ctx.config.streams, count, 'Creating keys');
    let last = 0;
    const keys = await backend.createKeys(
      Array.from({ length: count }, () => ({ ...spec })),
      (done) => {
        bar.tick(done - last);
        last = done;
      },
    );
    bar.finish();
    return emit(
      ctx,
      keys,
      keys.map((k) => k.id),
    );
  },
};

const list: Command = {
  path: ['key', 'list'],
  summary: 'list keys, optionally of one app (and purpose)',
  usage: '[--app APP [--purpose PURPOSE]]',
  options: { app: { type: 'string' }, purpose: { type: 'string' } },
  examples: ['coffer key list', 'coffer key list --app billing --json'],
  positionals: 0,
  async run(ctx) {
    const app = str(ctx.values, 'app');
    const purpose = str(ctx.values, 'purpose');
    const keys = await (await ctx.backend()).listKeys({
      ...(app !== undefined ? { app } : {}),
      ...(purpose !== undefined ? { purpose } : {}),
    });
    return emit(ctx, keys, keys.length === 0 ? [] : keys.map(keyRow));
  },
};

const show: Command = {
  path: ['key', 'show'],
  summary: "show a key's metadata, versions and states",
  usage: 'ID',
  examples: ['coffer key show k_abcdefghijklmnopqrstuvwxyz', 'coffer key show "$KEY" --json'],
  positionals: 1,
  async run(ctx) {
    const key = await (await ctx.backend()).getKey(ctx.args[0]!);
    return emit(ctx, key, keyDetails(key));
  },
};

function transition(name: 'rotate' | 'suspend' | 'resume', summary: string, example: string): Command {
  return {
    path: ['key', name],
    summary,
    usage: name === 'resume' ? 'ID' : 'ID [--reason TEXT]',
    options: name === 'resume' ? {} : { reason: { type: 'string' } },
    examples: [example],
    positionals: 1,
    async run(ctx) {
      const backend = await ctx.backend();
      const id = ctx.args[0]!;
      const reason = str(ctx.values, 'reason');
      const opts = reason !== undefined ? { reason } : {};
      const key =
        name === 'rotate'
          ? await backend.rotate(id, opts)
          : name === 'suspend'
            ? await backend.suspend(id, opts)
            : await backend.resume(id);
      return emit(ctx, key, `${key.id} ${key.state}, primary version v${key.primaryVersion}`);
    },
  };
}

const revoke: Command = {
  path: ['key', 'revoke'],
  summary: 'mark a key (or one version) compromised: every private operation then fails (exit 6)',
  usage: 'ID --reason TEXT [--version N]',
  options: { reason: { type: 'string' }, version: { type: 'string' } },
  examples: ['coffer key revoke "$KEY" --reason "laptop stolen"'],
  positionals: 1,
  async run(ctx) {
    const reason = requireStr(
      ctx.values,
      'reason',
      'say why the key is compromised (it goes into the audit log)',
    );
    const version = int(ctx.values, 'version', 1, 0xffffffff);
    const key = await (await ctx.backend()).revoke(
      ctx.args[0]!,
      reason,
      version !== undefined ? { version } : {},
    );
    return emit(ctx, key, `${key.id} ${version !== undefined ? `v${version} ` : ''}revoked (compromised)`);
  },
};

const destroy: Command = {
  path: ['key', 'destroy'],
  summary: "wipe a key's (or one version's) secret material; metadata and audit trail stay",
  usage: 'ID --yes [--version N] [--reason TEXT]',
  options: { yes: { type: 'boolean' }, version: { type: 'string' }, reason: { type: 'string' } },
  optionHelp: [['--yes', 'confirm: destruction cannot be undone']],
  examples: ['coffer key destroy "$KEY" --yes --reason "retired"'],
  positionals: 1,
  async run(ctx) {
    if (!flag(ctx.values, 'yes'))
      throw new CofferError('EINVAL', 'destroying key material cannot be undone: add --yes to confirm');
    const version = int(ctx.values, 'version', 1, 0xffffffff);
    const reason = str(ctx.values, 'reason');
    const key = await (await ctx.backend()).destroy(ctx.args[0]!, {
      ...(version !== undefined ? { version } : {}),
      ...(reason !== undefined ? { reason } : {}),
    });
    return emit(ctx, key, `${key.id} ${version !== undefined ? `v${version} ` : ''}destroyed`);
  },
};

const publicKey: Command = {
  path: ['key', 'public'],
  summary: 'export a public key (pem, ssh, jwk, raw, spki, or a coffer string for X-Wing keys)',
  usage: 'ID [--format pem|ssh|jwk|raw|spki|coffer] [--version N] [--out FILE]',
  options: {
    format: { type: 'string' },
    version: { type: 'string' },
    out: { type: 'string' },
    base64: { type: 'boolean' },
  },
  optionHelp: [
    [
      '--format F',
      'pem (SPKI, default), ssh (OpenSSH line), jwk, raw or spki (bytes), coffer (X-Wing: for `coffer encrypt --to`)',
    ],
    [
      '--out FILE',
      'write to FILE instead of stdout (raw and spki are bytes: they need --out, --base64 or a pipe)',
    ],
  ],
  examples: [
    'coffer key public "$KEY" --format pem > signer.pem',
    'coffer key public "$KEY" --format ssh --out id_coffer.pub',
    'coffer key public "$XWING" --format coffer',
  ],
  positionals: 1,
  async run(ctx) {
    const id = ctx.args[0]!;
    const format = str(ctx.values, 'format') ?? 'pem';
    if (!(CLI_FORMATS as readonly string[]).includes(format))
      throw new CofferError('EINVAL', `--format must be one of ${CLI_FORMATS.join(', ')}`);
    const version = int(ctx.values, 'version', 1, 0xffffffff);
    const out = str(ctx.values, 'out');
    const backend = await ctx.backend();
    let result: Uint8Array | string | object;
    if (format === 'coffer') {
      const key = await backend.getKey(id);
      if (key.algorithm !== 'x-wing')
        throw new CofferError(
          'EINVAL',
          `the coffer public-key string exists for x-wing keys only, not ${key.algorithm}`,
        );
      const v = version ?? key.primaryVersion;
      const raw = await backend.publicKey(id, 'raw', { version: v });
      result = encodePublicKeyString({ keyId: id, version: v, publicKey: raw as Uint8Array });
    } else {
      result = await backend.publicKey(
        id,
        format as PublicKeyFormat,
        version !== undefined ? { version } : {},
      );
    }
    if (result instanceof Uint8Array) {
      if (ctx.config.json) return emit(ctx, { id, format, publicKey: result }, '');
      return writeBinary(ctx.config.streams, result, { out, base64: flag(ctx.values, 'base64') });
    }
    const text = typeof result === 'string' ? result : JSON.stringify(result, null, 2);
    if (ctx.config.json) return emit(ctx, { id, format, publicKey: result }, '');
    if (out !== undefined && out !== '-')
      return writeBinary(ctx.config.streams, Buffer.from(text.endsWith('\n') ? text : `${text}\n`), { out });
    return writeText(ctx.config.streams, text);
  },
};

export const keyCommands: Command[] = [
  create,
  list,
  show,
  transition(
    'rotate',
    'add a new version and make it primary (old versions still verify/unseal)',
    'coffer key rotate "$KEY" --reason "yearly"',
  ),
  transition(
    'suspend',
    'suspend a key: protect operations fail (exit 6), verify/unseal still work',
    'coffer key suspend "$KEY"',
  ),
  transition('resume', 'make a suspended key active again', 'coffer key resume "$KEY"'),
  revoke,
  destroy,
  publicKey,
];
