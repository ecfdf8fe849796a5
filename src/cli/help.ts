// Help text (DESIGN §7): an overview of every command, and per command its usage, options and
// examples, so `coffer <command> --help` is enough to use it.
import type { Command } from './command.js';

const GLOBAL_HELP: [string, string][] = [
  [
    '--store URL',
    'store for direct mode: sqlite:PATH, dir:PATH, postgres://… (env COFFER_STORE; default sqlite:$COFFER_HOME/keystore.db, COFFER_HOME=~/.coffer)',
  ],
  [
    '--socket PATH | --url URL',
    'use a running daemon instead (env COFFER_SOCKET / COFFER_URL; token in COFFER_TOKEN or --token-file FILE; --ca PEM for https)',
  ],
  [
    '--passphrase-file FILE',
    'passphrase from a file (else COFFER_PASSPHRASE, else a hidden prompt on a terminal)',
  ],
  [
    '--protector TYPE',
    'how direct mode opens the store: passphrase (default), keyring, tpm2, pkcs11 (env COFFER_PROTECTOR)',
  ],
  [
    'env COFFER_ANCHOR',
    'rollback anchor outside the store: file:/PATH, tpm2[:0xINDEX], keyring:SERVICE/ACCOUNT or a JSON config (docs/protectors.md); COFFER_ACCEPT_ROLLBACK=REASON opens a store the anchor calls older (audited); COFFER_UPGRADE=1 upgrades a format-1 store',
  ],
  ['--json', 'machine-readable output on stdout (bytes as base64); errors as JSON on stderr'],
  ['-h, --help', 'help for any command'],
];

function table(rows: [string, string][], indent = '  '): string[] {
  const width = Math.min(28, Math.max(...rows.map(([a]) => a.length)));
  return rows.map(([a, b]) => `${indent}${a.padEnd(width)}  ${b}`);
}

export function overview(commands: Command[]): string {
  const rows = commands.map((c): [string, string] => [c.path.join(' '), c.summary]);
  // Backups have their own parser (src/backup/command.ts); list them with the rest.
  rows.push(['backup create', 'write an encrypted backup (passphrase or X-Wing recipient)']);
  rows.push(['backup restore', 'restore keys from an encrypted backup']);
  rows.push(['backup inspect', "print a backup's header without decrypting it"]);
  return [
    'coffer — a post-quantum-ready keystore: key handles and operations, never private key bytes',
    '',
    'Usage: coffer <command> [arguments] [--json]',
    '',
    'Commands:',
    ...table(rows),
    '',
    'Global options:',
    ...table(GLOBAL_HELP),
    '',
    'Exit codes: 0 ok, 2 bad input (EINVAL/E2BIG), 3 not allowed (EPERM), 4 not found (ENOENT),',
    '  5 exists/conflict (EALREADY/ECONFLICT), 6 key state (EKEYREVOKED/EKEYEXPIRED/ESTATE),',
    '  7 authentication failed (EBADMSG, wrong signature), 8 locked (ELOCKED), 9 rate limited (ERATE),',
    '  10 unavailable (EUNAVAIL), 1 internal error.',
    '',
    'Quick start:',
    '  coffer init',
    '  KEY=$(coffer key create --app demo --purpose docs --alg ed25519)',
    '  coffer sign "$KEY" --in README.md --out README.sig && coffer verify "$KEY" --sig README.sig --in README.md',
    '',
    "Run 'coffer <command> --help' for a command's options and examples.",
  ].join('\n');
}

export function groupHelp(commands: Command[], group: string): string {
  const members = commands.filter((c) => c.path[0] === group);
  return [
    `Usage: coffer ${group} <${members.map((c) => c.path[1]).join('|')}> …`,
    '',
    ...table(members.map((c): [string, string] => [c.path.join(' '), c.summary])),
    '',
    `Run 'coffer ${group} <subcommand> --help' for details.`,
  ].join('\n');
}

export function commandHelp(command: Command): string {
  const lines = [
    `Usage: coffer ${command.path.join(' ')}${command.usage ? ` ${command.usage}` : ''}`,
    '',
    command.summary,
  ];
  if (command.optionHelp && command.optionHelp.length > 0)
    lines.push('', 'Options:', ...table(command.optionHelp));
  if (command.notes) lines.push('', ...command.notes);
  lines.push(
    '',
    'Examples:',
    ...command.examples.map((e) => `  ${e}`),
    '',
    "Global options (--store, --socket, --json, …): 'coffer --help'.",
  );
  return lines.join('\n');
}
