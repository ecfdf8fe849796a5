// `coffer key …` (create, list, show, the lifecycle of SPEC §2, public key export) and the data
// commands: sign / verify, seal / unseal, encrypt / decrypt to a public key, mac / verify-mac.
import { KEY_ALGORITHMS } from '../../core/types.js';
import type { CommandSpec, OptionSpec, RunName } from '../spec.js';
import { formatSize, MAC_LIMIT, SEAL_LIMIT, SIGN_LIMIT } from './global.js';

const keys = (name: RunName<typeof import('../commands/keys.js')>) => async () =>
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
      syncable: {
        type: 'boolean',
        help: 'may become a keychain item (`coffer item add --kind key`) whose material travels, encrypted, to your devices',
      },
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
    load: keys('create'),
  },
  {
    path: ['key', 'list'],
    summary: 'list keys, optionally of one app (and purpose)',
    usage: '[--app APP [--purpose PURPOSE]] [--page-size N]',
    options: {
      app: { type: 'string', value: 'APP', help: 'only keys of this app' },
      purpose: { type: 'string', value: 'PURPOSE', help: 'only keys of this purpose (needs --app)' },
      'page-size': {
        type: 'string',
        value: 'N',
        help: 'keys fetched per page, 1-1000 (default 500); pages are printed as they arrive',
      },
    },
    examples: ['coffer key list', 'coffer key list --app billing --json'],
    load: keys('list'),
  },
  {
    path: ['key', 'show'],
    summary: "show a key's metadata, versions and states",
    usage: 'ID',
    args: ID,
    examples: ['coffer key show k_abcdefghijklmnopqrstuvwxyz', 'coffer key show "$KEY" --json'],
    load: keys('show'),
  },
  {
    path: ['key', 'activate'],
    summary: 'make a pre-active key active (created with --pre-active)',
    usage: 'ID',
    args: ID,
    examples: ['coffer key activate "$KEY"'],
    load: keys('activate'),
  },
  {
    path: ['key', 'rotate'],
    summary: 'add a new version and make it primary (old versions still verify/unseal)',
    usage: 'ID [--reason TEXT]',
    args: ID,
    options: REASON,
    examples: ['coffer key rotate "$KEY" --reason "yearly"'],
    load: keys('rotate'),
  },
  {
    path: ['key', 'suspend'],
    summary: 'suspend a key: protect operations fail (exit 6), verify/unseal still work',
    usage: 'ID [--reason TEXT]',
    args: ID,
    options: REASON,
    examples: ['coffer key suspend "$KEY" --reason audit'],
    load: keys('suspend'),
  },
  {
    path: ['key', 'resume'],
    summary: 'make a suspended key active again',
    usage: 'ID',
    args: ID,
    examples: ['coffer key resume "$KEY"'],
    load: keys('resume'),
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
    load: keys('revoke'),
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
    load: keys('destroy'),
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
    load: keys('publicKey'),
  },
];

const data = (name: RunName<typeof import('../commands/data.js')>) => async () =>
  (await import('../commands/data.js'))[name];

const file = (help: string): OptionSpec => ({ type: 'string', value: 'FILE', help, complete: 'file' });

/** Size limits and streams, in the help of seal and unseal (docs/cli.md "Large inputs"). */
const STREAM_NOTES = [
  `Any size: input of at most ${formatSize(SEAL_LIMIT)} is sealed as a one-shot blob (SPEC §6), larger input`,
  '(or any with --stream) as a sealed stream (SPEC §6.2), in bounded memory; unseal tells them apart by',
  `their header. --base64 and --json's base64 are for blobs only (at most ${formatSize(SEAL_LIMIT)}): with --json a`,
  'stream needs --out FILE, and the JSON summary goes to stdout. A stream to --out FILE is written to a',
  'temporary file beside it and renamed only once whole and authenticated: a failure leaves no FILE. On',
  'stdout, unsealed bytes flow before the end is authenticated: on failure (exit 7 for a tampered, truncated',
  'or wrong-AAD stream) the command says so, and what was already written to the pipe must be discarded.',
  'Without a daemon, a stream opens the store in this process even when the agent is on.',
];

const sealedOptions = {
  aad: {
    type: 'string',
    value: 'TEXT',
    help: 'associated data: authenticated, not encrypted; unseal needs the same text',
  },
  in: file('input (default stdin)'),
  out: file(
    'output (default stdout; binary is never written to a terminal); a stream is written beside FILE and renamed over it only once whole',
  ),
  base64: {
    type: 'boolean',
    help: 'the sealed side is base64 text (output of seal/encrypt, input of unseal/decrypt)',
  },
} as const satisfies Record<string, OptionSpec>;

export const dataTable: CommandSpec[] = [
  {
    path: ['sign'],
    summary: 'sign data with a key: base64 signature on stdout, or raw bytes with --out',
    usage: 'ID [--in FILE] [--out FILE] [--der] [--prehashed HASH]',
    args: ID,
    options: {
      in: file(
        `data to sign (default stdin), at most ${formatSize(SIGN_LIMIT)}: sign a hash of larger files`,
      ),
      out: file('write the raw signature bytes to FILE'),
      der: { type: 'boolean', help: 'ECDSA only: DER (X9.62) signature, as `openssl dgst -verify` expects' },
      prehashed: {
        type: 'string',
        value: 'HASH',
        help: 'ECDSA only: the input is a digest (raw bytes or hex) of this hash, for data of any size',
        choices: ['sha256', 'sha384', 'sha512', 'keccak256'],
      },
    },
    notes: [
      'HMAC keys make tags, not signatures: use `coffer mac`.',
      "With --prehashed the digest length must be the hash's; the signature equals one over the data itself.",
    ],
    examples: [
      'coffer sign "$KEY" --in invoice.pdf --out invoice.sig',
      'echo -n hello | coffer sign "$KEY"',
      'coffer sign "$P256" --der --in msg.txt --out msg.sig.der',
      'sha256sum big.iso | cut -c1-64 | coffer sign "$P256" --prehashed sha256 --der',
    ],
    load: data('sign'),
  },
  {
    path: ['verify'],
    summary: 'verify a signature: exit 0 valid, exit 7 invalid (warns when the key is compromised)',
    usage: 'ID (--sig FILE | --sig-base64 B64) [--in FILE] [--version N] [--der | --raw] [--strict]',
    args: ID,
    options: {
      in: file(`the signed data (default stdin), at most ${formatSize(SIGN_LIMIT)}`),
      sig: file('the signature bytes (as written by `coffer sign --out`)'),
      'sig-base64': {
        type: 'string',
        value: 'B64',
        help: 'the signature as base64 text (as printed by `coffer sign`)',
      },
      version: {
        type: 'string',
        value: 'N',
        help: 'check only this key version (default: every version, newest first)',
      },
      der: { type: 'boolean', help: 'ECDSA: the signature is DER (recognised by itself when not 64 bytes)' },
      raw: { type: 'boolean', help: 'ECDSA: the signature is raw r‖s (64 bytes)' },
      strict: {
        type: 'boolean',
        help: 'fail (exit 6, EKEYREVOKED) when the verifying key or version is compromised or destroyed',
      },
    },
    notes: [
      'Verifying is a public operation: a compromised or destroyed key still answers (its public key is kept),',
      'with a warning on stderr and keyState/versionState in --json — a signature under a leaked key proves',
      'little. Pre-active keys, versions below the minimum decryption version and past their grace end are',
      'refused (exit 6). ECDSA signatures are read as raw when 64 bytes long and as DER otherwise.',
    ],
    examples: [
      'coffer verify "$KEY" --sig invoice.sig --in invoice.pdf',
      'coffer verify "$KEY" --sig-base64 "$SIG" --in msg.txt',
      'coffer verify "$P256" --sig msg.sig.der --in msg.txt --strict --json',
    ],
    load: data('verify'),
  },
  {
    path: ['seal'],
    summary:
      'encrypt data of any size under a key (AES-256-GCM, XChaCha20-Poly1305 or X-Wing) with optional AAD',
    usage: 'ID [--aad TEXT] [--in FILE] [--out FILE] [--base64 | --stream]',
    args: ID,
    options: {
      ...sealedOptions,
      stream: {
        type: 'boolean',
        help: `write a sealed stream even for input of at most ${formatSize(SEAL_LIMIT)}`,
      },
    },
    notes: STREAM_NOTES,
    examples: [
      'coffer seal "$KEY" --aad customer=7 --in card.txt --out card.sealed',
      'echo secret | coffer seal "$KEY" --base64',
      'tar c photos/ | coffer seal "$KEY" --aad photos --out photos.tar.sealed',
    ],
    load: data('seal'),
  },
  {
    path: ['unseal'],
    summary: 'decrypt a sealed blob or stream (the key id is read from its header when ID is left out)',
    usage: '[ID] [--aad TEXT] [--in FILE] [--out FILE] [--base64]',
    args: [{ name: 'ID', optional: true }],
    options: sealedOptions,
    notes: STREAM_NOTES,
    examples: [
      'coffer unseal "$KEY" --aad customer=7 --in card.sealed --out card.txt',
      'coffer unseal --in card.sealed | less',
      'coffer unseal --aad photos --in photos.tar.sealed | tar x',
    ],
    load: data('unseal'),
  },
  {
    path: ['encrypt'],
    summary: 'encrypt to an X-Wing public key (no keystore needed): `coffer key public ID --format coffer`',
    usage: '--to PUBLIC_KEY [--aad TEXT] [--in FILE] [--out FILE] [--base64]',
    options: {
      to: { type: 'string', value: 'KEY', help: 'the recipient: a coffer1:xwing:… public-key string' },
      'to-file': file('read the recipient public-key string from FILE'),
      ...sealedOptions,
      in: file(`input (default stdin), at most ${formatSize(SEAL_LIMIT)} of plaintext per call`),
    },
    examples: [
      'coffer encrypt --to "$(cat alice.coffer)" --in report.pdf --out report.pdf.sealed',
      'coffer encrypt --to-file alice.coffer --base64 < note.txt',
    ],
    load: data('encrypt'),
  },
  {
    path: ['decrypt'],
    summary: 'decrypt what `coffer encrypt` made, with the key its header names',
    usage: '[--aad TEXT] [--in FILE] [--out FILE] [--base64]',
    options: sealedOptions,
    examples: ['coffer decrypt --in report.pdf.sealed --out report.pdf'],
    load: data('decrypt'),
  },
  {
    path: ['mac'],
    summary: 'compute an HMAC-SHA256 tag with an hmac-sha256 key: base64 on stdout, raw bytes with --out',
    usage: 'ID [--in FILE] [--out FILE]',
    args: ID,
    options: {
      in: file(`the data (default stdin), at most ${formatSize(MAC_LIMIT)}`),
      out: file('write the raw 32-byte tag to FILE'),
    },
    examples: [
      'coffer key create --app api --purpose webhooks --alg hmac-sha256',
      'coffer mac "$KEY" --in payload.json',
      'coffer mac "$KEY" --in payload.json --out payload.tag',
    ],
    load: data('mac'),
  },
  {
    path: ['verify-mac'],
    summary: 'check an HMAC tag: exit 0 valid, exit 7 invalid',
    usage: 'ID (--mac FILE | --mac-base64 B64) [--in FILE] [--version N]',
    args: ID,
    options: {
      in: file(`the data (default stdin), at most ${formatSize(MAC_LIMIT)}`),
      mac: file('the raw tag (as written by `coffer mac --out`)'),
      'mac-base64': {
        type: 'string',
        value: 'B64',
        help: 'the tag as base64 text (as printed by `coffer mac`)',
      },
      version: { type: 'string', value: 'N', help: 'check only this key version' },
    },
    examples: [
      'coffer verify-mac "$KEY" --mac-base64 "$TAG" --in payload.json',
      'coffer verify-mac "$KEY" --mac payload.tag --in payload.json',
    ],
    load: data('verifyMac'),
  },
];
