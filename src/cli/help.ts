// Help text from the command table (docs/cli.md): an overview of every command, per group and per
// command its usage, options, notes and examples, so `coffer <command> --help` is enough to use it.
// Loads nothing but the table.
import type { CommandSpec, OptionSpec } from './spec.js';
import { BACKUP_LIMIT, formatSize, GLOBAL_OPTIONS, SEAL_LIMIT, SIGN_LIMIT } from './table/global.js';

function table(rows: [string, string][], indent = '  '): string[] {
  const width = Math.min(28, Math.max(...rows.map(([a]) => a.length)));
  return rows.map(([a, b]) =>
    a.length > width
      ? `${indent}${a}\n${indent}${' '.repeat(width)}  ${b}`
      : `${indent}${a.padEnd(width)}  ${b}`,
  );
}

function optionRow(name: string, spec: OptionSpec): [string, string] {
  const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
  return [flag, spec.help];
}

const GLOBAL_SHOWN = [
  'store',
  'socket',
  'url',
  'passphrase-file',
  'protector',
  'no-agent',
  'agent-idle',
  'json',
  'help',
  'version',
] as const;

export function overview(commands: readonly CommandSpec[]): string {
  const rows = commands.filter((c) => !c.hidden).map((c): [string, string] => [c.path.join(' '), c.summary]);
  return [
    'coffer — a post-quantum-ready keystore: key handles and operations, never private key bytes',
    '',
    'Usage: coffer <command> [arguments] [--json]',
    '',
    'Commands:',
    ...table(rows),
    '',
    'Global options (each also from its environment variable or the config file, see docs/cli.md):',
    ...table(
      GLOBAL_SHOWN.map((name) => {
        const spec = GLOBAL_OPTIONS[name];
        const [flag, help] = optionRow(name, spec);
        return [flag, 'env' in spec ? `${help} [${spec.env}]` : help];
      }),
    ),
    '  Protector settings: --keyring-service/--keyring-account, --tcti/--pcrs, --pkcs11-module/-token/-key;',
    '  daemon: --ca PEM, --token-file FILE (or COFFER_TOKEN).',
    '  Rollback anchor outside the store (docs/protectors.md): COFFER_ANCHOR=file:/PATH, tpm2[:0xINDEX],',
    '  keyring:SERVICE/ACCOUNT or a JSON config; COFFER_ACCEPT_ROLLBACK=REASON opens a store the anchor',
    '  calls older (audited); COFFER_UPGRADE=1 upgrades a format-1 store.',
    '',
    'Modes: with --socket/--url (or COFFER_SOCKET/COFFER_URL) commands go to that daemon. Otherwise the',
    '  first command that needs the keystore unlocks it and starts a per-user agent, so later commands',
    '  skip the passphrase KDF; it locks and exits after --agent-idle unused, or on `coffer lock`.',
    '',
    `Limits: sign and verify take at most ${formatSize(SIGN_LIMIT)} of data (sign a hash of larger files); encrypt`,
    `  and mac at most ${formatSize(SEAL_LIMIT)} per call; seal and unseal any size (over ${formatSize(SEAL_LIMIT)} as a sealed`,
    `  stream, in bounded memory); backups through the agent or a daemon at most ${formatSize(BACKUP_LIMIT)}.`,
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
    "Run 'coffer <command> --help' for a command's options and examples; 'coffer completion bash|zsh|fish'",
    'prints a completion script.',
  ].join('\n');
}

export function groupHelp(commands: readonly CommandSpec[], group: string): string {
  const members = commands.filter((c) => c.path[0] === group && c.path.length === 2 && !c.hidden);
  return [
    `Usage: coffer ${group} <${members.map((c) => c.path[1]).join('|')}> …`,
    '',
    ...table(members.map((c): [string, string] => [c.path.join(' '), c.summary])),
    '',
    `Run 'coffer ${group} <subcommand> --help' for details.`,
  ].join('\n');
}

export function commandHelp(command: CommandSpec): string {
  const lines = [
    `Usage: coffer ${command.path.join(' ')}${command.usage ? ` ${command.usage}` : ''}`,
    '',
    command.summary,
  ];
  const options = Object.entries(command.options ?? {});
  if (options.length > 0)
    lines.push('', 'Options:', ...table(options.map(([name, spec]) => optionRow(name, spec))));
  if (command.notes) lines.push('', ...command.notes);
  if (command.examples.length > 0) lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  lines.push('', "Global options (--store, --socket, --no-agent, --json, …): 'coffer --help'.");
  return lines.join('\n');
}

/** `usage: coffer key show ID` with what was wrong, for a wrong number of arguments. */
export function usageLine(command: CommandSpec): string {
  return `usage: coffer ${command.path.join(' ')} ${command.usage}`.trimEnd();
}
