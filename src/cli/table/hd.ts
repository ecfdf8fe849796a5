// `coffer hd …`: BIP-39 seeds in the keystore, keys derived by path, BIP-44 accounts, xpubs, and the
// mnemonic paper backup (QR code in the terminal, as PNG and as SVG) — SPEC §12.
import type { CommandSpec, OptionSpec, RunName } from '../spec.js';

const run = (name: RunName<typeof import('../commands/hd.js')>) => async () =>
  (await import('../commands/hd.js'))[name];

/** BIP-39 wordlist languages (crypto/wordlists: checked equal by table.test.ts). */
export const BIP39_LANGUAGE_NAMES = [
  'english',
  'japanese',
  'korean',
  'spanish',
  'chinese_simplified',
  'chinese_traditional',
  'french',
  'italian',
  'czech',
  'portuguese',
] as const;

const SEED = [{ name: 'SEED' }] as const;
const language: OptionSpec = {
  type: 'string',
  value: 'LANG',
  help: 'BIP-39 wordlist (default english)',
  choices: BIP39_LANGUAGE_NAMES,
};
const bip39Passphrase: OptionSpec = {
  type: 'boolean',
  help: 'ask for a BIP-39 passphrase ("25th word"; or COFFER_BIP39_PASSPHRASE); it is not stored',
};
const paperFiles = {
  png: {
    type: 'string',
    value: 'FILE',
    help: 'write the QR code as a PNG image (mode 0600)',
    complete: 'file',
  },
  svg: {
    type: 'string',
    value: 'FILE',
    help: 'write a printable SVG page: QR code and numbered words (mode 0600)',
    complete: 'file',
  },
  qr: { type: 'boolean', help: 'draw the QR code in the terminal' },
} as const satisfies Record<string, OptionSpec>;
const coordinates = {
  coin: {
    type: 'string',
    value: 'N',
    help: 'BIP-44 coin type (SLIP-44: 0 bitcoin, 60 ethereum, 501 solana…)',
  },
  account: { type: 'string', value: 'N', help: 'account number (default 0)' },
} as const satisfies Record<string, OptionSpec>;
const alg: OptionSpec = {
  type: 'string',
  value: 'ALG',
  help: 'secp256k1 (BIP-32, default) or ed25519 (SLIP-10, hardened paths only)',
  choices: ['secp256k1', 'ed25519'],
};

export const hdTable: CommandSpec[] = [
  {
    path: ['hd', 'create'],
    summary: 'create an HD seed from fresh entropy and show its mnemonic once, for a paper backup',
    usage: '--app APP --purpose PURPOSE [--words 12|15|18|21|24] [--qr] [--png FILE] [--svg FILE]',
    options: {
      app: { type: 'string', value: 'APP', help: 'the application the seed (and its keys) belong to' },
      purpose: { type: 'string', value: 'PURPOSE', help: 'default purpose of derived keys' },
      words: {
        type: 'string',
        value: 'N',
        help: 'mnemonic length: 12, 15, 18, 21 or 24 (default 24: 256 bits)',
        choices: ['12', '15', '18', '21', '24'],
      },
      language,
      label: { type: 'string', value: 'TEXT', help: 'a label for the seed' },
      'bip39-passphrase': bip39Passphrase,
      ...paperFiles,
    },
    notes: [
      'The seed id is the first line of output; the mnemonic follows and is never shown again: write it down',
      '(or print --svg) and keep it offline. Only the seed is stored, sealed in the keystore.',
    ],
    examples: [
      'coffer hd create --app wallet --purpose btc',
      'coffer hd create --app wallet --purpose eth --words 12 --qr',
      'coffer hd create --app wallet --purpose btc --svg backup.svg --json',
    ],
    load: run('create'),
  },
  {
    path: ['hd', 'import'],
    summary: 'import an HD seed from a BIP-39 mnemonic (prompt, --mnemonic-file or stdin; never an argument)',
    usage: '--app APP --purpose PURPOSE [--mnemonic-file FILE] [--language LANG]',
    options: {
      app: { type: 'string', value: 'APP', help: 'the application the seed belongs to' },
      purpose: { type: 'string', value: 'PURPOSE', help: 'default purpose of derived keys' },
      'mnemonic-file': {
        type: 'string',
        value: 'FILE',
        help: 'read the mnemonic from FILE (else stdin when piped, else a hidden prompt)',
        complete: 'file',
      },
      language,
      label: { type: 'string', value: 'TEXT', help: 'a label for the seed' },
      'bip39-passphrase': bip39Passphrase,
    },
    examples: [
      'coffer hd import --app wallet --purpose btc            # asks for the words',
      'coffer hd import --app wallet --purpose btc --mnemonic-file words.txt',
    ],
    load: run('importSeed'),
  },
  {
    path: ['hd', 'list'],
    summary: 'list HD seeds',
    usage: '[--app APP]',
    options: { app: { type: 'string', value: 'APP', help: 'only seeds of this app' } },
    examples: ['coffer hd list', 'coffer hd list --app wallet --json'],
    load: run('list'),
  },
  {
    path: ['hd', 'show'],
    summary: "show a seed's metadata (never the seed)",
    usage: 'SEED',
    args: SEED,
    examples: ['coffer hd show "$SEED"'],
    load: run('show'),
  },
  {
    path: ['hd', 'destroy'],
    summary: 'wipe a seed: keys already derived stay, nothing new can be derived',
    usage: 'SEED --yes [--reason TEXT]',
    args: SEED,
    options: {
      yes: { type: 'boolean', help: 'confirm: only the mnemonic can bring the seed back' },
      reason: { type: 'string', value: 'TEXT', help: 'why (audited)' },
    },
    examples: ['coffer hd destroy "$SEED" --yes --reason retired'],
    load: run('destroy'),
  },
  {
    path: ['hd', 'derive'],
    summary: 'derive the key at a path into the keystore (idempotent) and print its id',
    usage: 'SEED PATH [--alg secp256k1|ed25519] [--purpose P] [--label K=V]…',
    args: [{ name: 'SEED' }, { name: 'PATH' }],
    options: {
      alg,
      purpose: { type: 'string', value: 'PURPOSE', help: "the key's purpose (default: the seed's)" },
      label: { type: 'string', multiple: true, value: 'K=V', help: 'a label (repeatable)' },
      'no-backup': { type: 'boolean', help: 'keep the derived key out of encrypted backups' },
    },
    examples: [
      'coffer hd derive "$SEED" "m/84\'/0\'/0\'/0/0"',
      'coffer hd derive "$SEED" "m/44\'/501\'/0\'/0\'" --alg ed25519',
    ],
    load: run('derive'),
  },
  {
    path: ['hd', 'keys'],
    summary: 'list the keys derived from a seed, with their paths',
    usage: 'SEED',
    args: SEED,
    examples: ['coffer hd keys "$SEED"'],
    load: run('keys'),
  },
  {
    path: ['hd', 'xpub'],
    summary: 'print the BIP-32 extended public key at a path (default m), for watch-only wallets',
    usage: 'SEED [PATH]',
    args: [{ name: 'SEED' }, { name: 'PATH', optional: true }],
    examples: ['coffer hd xpub "$SEED" "m/84\'/0\'/0\'"'],
    load: run('xpub'),
  },
  {
    path: ['hd', 'add-account'],
    summary: "create a BIP-44 account m/44'/coin'/account' on a seed",
    usage: 'SEED --coin N [--account N] [--alg secp256k1|ed25519] [--purpose P]',
    args: SEED,
    options: {
      ...coordinates,
      alg,
      purpose: {
        type: 'string',
        value: 'PURPOSE',
        help: "purpose of the account's keys (default: the seed's)",
      },
    },
    examples: [
      'coffer hd add-account "$SEED" --coin 0',
      'coffer hd add-account "$SEED" --coin 501 --alg ed25519',
    ],
    load: run('addAccount'),
  },
  {
    path: ['hd', 'account'],
    summary: 'show a BIP-44 account: algorithm, xpub and the next unused indices',
    usage: 'SEED --coin N [--account N]',
    args: SEED,
    options: coordinates,
    examples: ['coffer hd account "$SEED" --coin 0 --json'],
    load: run('account'),
  },
  {
    path: ['hd', 'next'],
    summary: 'derive the next unused receiving (or --change) key of an account; never the same index twice',
    usage: 'SEED --coin N [--account N] [--change]',
    args: SEED,
    options: { ...coordinates, change: { type: 'boolean', help: 'the change chain instead of receiving' } },
    examples: ['coffer hd next "$SEED" --coin 0', 'coffer hd next "$SEED" --coin 0 --change --json'],
    load: run('next'),
  },
  {
    path: ['hd', 'paper'],
    summary: 'render a mnemonic as a paper backup: numbered words and QR code (terminal, PNG, SVG)',
    usage: '[--mnemonic-file FILE] [--language LANG] [--png FILE] [--svg FILE] [--no-qr]',
    options: {
      'mnemonic-file': {
        type: 'string',
        value: 'FILE',
        help: 'read the mnemonic from FILE (else stdin when piped, else a hidden prompt)',
        complete: 'file',
      },
      language,
      png: paperFiles.png,
      svg: paperFiles.svg,
      'no-qr': { type: 'boolean', help: 'no QR code in the terminal, only the words' },
    },
    notes: ['The output is the secret itself: print it, do not keep it in files or logs.'],
    examples: ['coffer hd paper < words.txt', 'coffer hd paper --png seed.png --svg seed.svg'],
    load: run('paper'),
  },
];
