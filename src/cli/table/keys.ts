// `coffer key …`: create, list, show, the lifecycle (SPEC §2) and public key export.
import { KEY_ALGORITHMS } from '../../core/types.js';
import type { CommandSpec, RunName } from '../spec.js';

const run = (name: RunName<typeof import('../commands/keys.js')>) => async () =>
  (await import('../commands/keys.js'))[name];

/** `key public --format` values: the library's formats plus the coffer recipient string. */
export const CLI_PUBLIC_FORMATS = ['pem', 'ssh', 'jwk', 'raw', 'spki', 'coffer'] as const;

const ID = [{ name: 'ID' }] as const;
const REASON = {
  reason: { type: 'string', value: 'TEXT', help: 'why (recorded in the audit log)' },
} as const;

export const keyTable: CommandSpec[] = [
  {
    path: ['key', 'create'],
    summary: 'create a key (or --count N keys) for an app and purpose',
    usage: '--app APP --purpose PURPOSE --alg ALG [--uses U,U] [--label K=V]… [--count N]',
    options: {
      app: {
        type: 'string',
        value: 'APP',
        help: 'the application the key belongs to ([a-z0-9][a-z0-9._-]*)',
      },
      purpose: { type: 'string', value: 'PURPOSE', help: 'what the key is for within the app' },
      alg: {
        type: 'string',
        value: 'ALG',
        help: KEY_ALGORITHMS.join(' | '),
        choices: KEY_ALGORITHMS,
        elsewhere: {
          'hd-seed': 'HD seeds are created with `coffer hd create` (or imported with `coffer hd import`)',
        },
      },
      uses: {
        type: 'string',
        value: 'U,U',
        help: 'allowed uses (default: every use the algorithm supports)',
      },
      label: { type: 'string', multiple: true, value: 'K=V', help: 'a label (repeatable)' },
      count: {
        type: 'string',
        value: 'N',
        help: 'create N keys in durable batches, with a progress bar on a terminal (max 100000)',
      },
      'pre-active': {
        type: 'boolean',
        help: 'create the key pre-active: it cannot protect until `coffer key activate`',
      },
      'no-backup': { type: 'boolean', help: 'keep this key out of encrypted backups' },
      'rotate-every': { type: 'string', value: 'DUR', help: 'rotation interval, e.g. 90d' },
      'warn-before': { type: 'string', value: 'DUR', help: 'advance warning before a rotation is due' },
      confirm: {
        type: 'boolean',
        help: 'rotations wait for `coffer rotate confirm` instead of happening by themselves',
      },
      grace: { type: 'string', value: 'DUR', help: 'how long a rotated-out version still verifies/unseals' },
      'max-uses': { type: 'string', value: 'N', help: 'rotate after N protect operations' },
    },
    notes: ['HD seeds are not created here: use `coffer hd create` (or `coffer hd import`).'],
    examples: [
      'coffer key create --app billing --purpose invoices --alg ed25519',
      'coffer key create --app web --purpose sessions --alg aes-256-gcm --json',
      'coffer key create --app api --purpose webhooks --alg hmac-sha256',
      'coffer key create --app iot --purpose devices --alg ecdsa-p256 --count 1000',
    ],
    load: run('create'),
  },
  {
    path: ['key', 'list'],
    summary: 'list keys, optionally of one app (and purpose)',
    usage: '[--app APP [--purpose PURPOSE]]',
    options: {
      app: { type: 'string', value: 'APP', help: 'only keys of this app' },
      purpose: { type: 'string', value: 'PURPOSE', help: 'only keys of this purpose (needs --app)' },
    },
    examples: ['coffer key list', 'coffer key list --app billing --json'],
    load: run('list'),
  },
  {
    path: ['key', 'show'],
    summary: "show a key's metadata, versions and states",
    usage: 'ID',
    args: ID,
    examples: ['coffer key show k_abcdefghijklmnopqrstuvwxyz', 'coffer key show "$KEY" --json'],
    load: run('show'),
  },
  {
    path: ['key', 'activate'],
    summary: 'make a pre-active key active (created with --pre-active)',
    usage: 'ID',
    args: ID,
    examples: ['coffer key activate "$KEY"'],
    load: run('activate'),
  },
  {
    path: ['key', 'rotate'],
    summary: 'add a new version and make it primary (old versions still verify/unseal)',
    usage: 'ID [--reason TEXT]',
    args: ID,
    options: REASON,
    examples: ['coffer key rotate "$KEY" --reason "yearly"'],
    load: run('rotate'),
  },
  {
    path: ['key', 'suspend'],
    summary: 'suspend a key: protect operations fail (exit 6), verify/unseal still work',
    usage: 'ID [--reason TEXT]',
    args: ID,
    options: REASON,
    examples: ['coffer key suspend "$KEY" --reason audit'],
    load: run('suspend'),
  },
  {
    path: ['key', 'resume'],
    summary: 'make a suspended key active again',
    usage: 'ID',
    args: ID,
    examples: ['coffer key resume "$KEY"'],
    load: run('resume'),
  },
  {
    path: ['key', 'revoke'],
    summary: 'mark a key (or one version) compromised: every private operation then fails (exit 6)',
    usage: 'ID --reason TEXT [--version N]',
    args: ID,
    options: {
      reason: { type: 'string', value: 'TEXT', help: 'why the key is compromised (required; audited)' },
      version: { type: 'string', value: 'N', help: 'revoke only this version' },
    },
    notes: ['`coffer verify` still answers for a revoked key, with a warning: see `coffer verify --help`.'],
    examples: ['coffer key revoke "$KEY" --reason "laptop stolen"'],
    load: run('revoke'),
  },
  {
    path: ['key', 'destroy'],
    summary: "wipe a key's (or one version's) secret material; metadata and audit trail stay",
    usage: 'ID --yes [--version N] [--reason TEXT]',
    args: ID,
    options: {
      yes: { type: 'boolean', help: 'confirm: destruction cannot be undone' },
      version: { type: 'string', value: 'N', help: 'destroy only this version' },
      ...REASON,
    },
    examples: ['coffer key destroy "$KEY" --yes --reason "retired"'],
    load: run('destroy'),
  },
  {
    path: ['key', 'public'],
    summary: 'export a public key (pem, ssh, jwk, raw, spki, or a coffer string for X-Wing keys)',
    usage: 'ID [--format pem|ssh|jwk|raw|spki|coffer] [--version N] [--out FILE]',
    args: ID,
    options: {
      format: {
        type: 'string',
        value: 'F',
        help: 'pem (SPKI, default), ssh (OpenSSH line), jwk, raw or spki (bytes), coffer (X-Wing: for `coffer encrypt --to`)',
        choices: CLI_PUBLIC_FORMATS,
      },
      version: { type: 'string', value: 'N', help: 'this version (default: the primary)' },
      out: {
        type: 'string',
        value: 'FILE',
        help: 'write to FILE instead of stdout (raw and spki are bytes: they need --out, --base64 or a pipe)',
        complete: 'file',
      },
      base64: { type: 'boolean', help: 'raw and spki as base64 text' },
    },
    examples: [
      'coffer key public "$KEY" --format pem > signer.pem',
      'coffer key public "$KEY" --format ssh --out id_coffer.pub',
      'coffer key public "$XWING" --format coffer',
    ],
    load: run('publicKey'),
  },
];
