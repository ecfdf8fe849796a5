#!/usr/bin/env node
// The `coffer` command line (DESIGN §7): finds the command, parses its flags with node:util
// parseArgs, runs it against a daemon or the store directly, and maps every failure to the exit
// code of its CofferError code (DESIGN §4) with a message on stderr that says what to do.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { asCofferError, CofferError, type ERROR_CODES } from '../errors.js';
import type { Backend } from './backend.js';
import type { Command, Context, OptionTable, Values } from './command.js';
import { adminCommands } from './commands-admin.js';
import { dataCommands } from './commands-data.js';
import { keyCommands } from './commands-keys.js';
import { rotationCommands } from './commands-rotation.js';
import { Config, type Env, GLOBAL_OPTIONS, type GlobalValues } from './config.js';
import { doctorCommand } from './doctor.js';
import { commandHelp, groupHelp, overview } from './help.js';
import { processStreams, type Streams } from './io.js';
import { canPrompt, promptHidden } from './prompt.js';
import { serveCommand } from './serve.js';

export const COMMANDS: Command[] = [
  ...adminCommands.filter((c) => ['init', 'status', 'unlock', 'lock'].includes(c.path[0]!)),
  ...keyCommands,
  ...dataCommands,
  ...adminCommands.filter((c) => !['init', 'status', 'unlock', 'lock'].includes(c.path[0]!)),
  ...rotationCommands,
  serveCommand,
  doctorCommand,
];

/** Hints added to an error message by code, when the message alone may not say what to do. */
const HINTS: Partial<Record<keyof typeof ERROR_CODES, string>> = {
  ELOCKED:
    'the keystore stays locked: with a daemon run `coffer unlock`; in direct mode give the right secret (COFFER_PASSPHRASE, or COFFER_PKCS11_PIN for a pkcs11 protector)',
  EUNAVAIL: 'run `coffer doctor` to see which protectors and backends work on this machine',
  EINTERNAL: 'this is a bug in coffer: please report it with the command you ran (never include secrets)',
};

function valueTaking(): Set<string> {
  const names = new Set<string>();
  const add = (table: OptionTable | undefined) => {
    for (const [name, spec] of Object.entries(table ?? {})) {
      if (spec.type === 'string') {
        names.add(`--${name}`);
        if (spec.short) names.add(`-${spec.short}`);
      }
    }
  };
  add(GLOBAL_OPTIONS as unknown as OptionTable);
  for (const c of COMMANDS) add(c.options);
  return names;
}

/** The leading positional words of argv (the command path candidates), skipping option values. */
function commandWords(argv: string[]): string[] {
  const taking = valueTaking();
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-') && arg !== '-') {
      if (!arg.includes('=') && taking.has(arg)) i++;
      continue;
    }
    words.push(arg);
  }
  return words;
}

function findCommand(words: string[]): Command | undefined {
  return (
    COMMANDS.find((c) => c.path.length === 2 && c.path[0] === words[0] && c.path[1] === words[1]) ??
    COMMANDS.find((c) => c.path.length === 1 && c.path[0] === words[0])
  );
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function reportError(streams: Streams, json: boolean, error: CofferError): void {
  const hint = HINTS[error.code];
  if (json) {
    streams.stderr.write(
      `${JSON.stringify({ error: { code: error.code, message: error.message, ...(hint ? { hint } : {}) } })}\n`,
    );
    return;
  }
  streams.stderr.write(`coffer: ${error.message} (${error.code})\n`);
  if (hint && !error.message.includes(hint)) streams.stderr.write(`hint: ${hint}\n`);
}

/** Runs one CLI invocation and resolves with its exit code (never throws). */
export async function runCli(
  argv: string[],
  env: Env = process.env,
  streams: Streams = processStreams,
): Promise<number> {
  const wantsJson = argv.includes('--json');
  let backend: Backend | undefined;
  try {
    const words = commandWords(argv);
    const help = argv.includes('--help') || argv.includes('-h');
    if (words.length === 0 || words[0] === 'help') {
      if (argv.includes('--version')) {
        streams.stdout.write(`coffer ${version()}\n`);
        return 0;
      }
      const target =
        words[0] === 'help' ? findCommand(argv.filter((a) => !a.startsWith('-')).slice(1)) : undefined;
      streams.stdout.write(`${target ? commandHelp(target) : overview(COMMANDS)}\n`);
      if (words.length === 0 && !help) return 2;
      return 0;
    }
    if (words[0] === 'backup') return await runBackup(argv, env, streams);
    const command = findCommand(words);
    if (command === undefined) {
      if (COMMANDS.some((c) => c.path[0] === words[0] && c.path.length === 2)) {
        if (help && words.length === 1) {
          streams.stdout.write(`${groupHelp(COMMANDS, words[0]!)}\n`);
          return 0;
        }
        streams.stderr.write(`${groupHelp(COMMANDS, words[0]!)}\n`);
        throw new CofferError(
          'EINVAL',
          words[1] ? `unknown subcommand: ${words.join(' ')}` : `${words[0]} needs a subcommand`,
        );
      }
      throw new CofferError(
        'EINVAL',
        `unknown command ${JSON.stringify(words[0])}: run \`coffer --help\` for the list`,
      );
    }
    if (help) {
      streams.stdout.write(`${commandHelp(command)}\n`);
      return 0;
    }
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({
        args: argv,
        options: { ...(GLOBAL_OPTIONS as unknown as OptionTable), ...(command.options ?? {}) },
        allowPositionals: true,
        strict: true,
      }) as { values: Values; positionals: string[] };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new CofferError('EINVAL', `${message} — see \`coffer ${command.path.join(' ')} --help\``);
    }
    const args = parsed.positionals.slice(command.path.length);
    const [min, max] =
      typeof command.positionals === 'number'
        ? [command.positionals, command.positionals]
        : (command.positionals ?? [0, 0]);
    if (args.length < min || args.length > max) {
      throw new CofferError(
        'EINVAL',
        `usage: coffer ${command.path.join(' ')} ${command.usage}`.trimEnd() +
          (args.length > max ? ` (unexpected ${JSON.stringify(args[max])})` : ''),
      );
    }
    const config = new Config(parsed.values as GlobalValues, env, streams);
    const ctx: Context = {
      config,
      args,
      values: parsed.values,
      backend: async () => {
        if (backend) return backend;
        if (config.daemon !== undefined) {
          const { openRemote } = await import('./remote.js');
          backend = await openRemote(config);
        } else {
          const { openDirect } = await import('./direct.js');
          backend = await openDirect(config);
        }
        return backend;
      },
    };
    await command.run(ctx);
    return 0;
  } catch (error) {
    const e = asCofferError(error);
    reportError(streams, wantsJson, e);
    // Stack traces only on request: they can name paths but never carry key material.
    if (env.COFFER_DEBUG === '1' && error instanceof Error) streams.stderr.write(`${error.stack}\n`);
    return e.exitCode;
  } finally {
    if (backend) await backend.close().catch(() => {});
  }
}

/**
 * `coffer backup …` lives in src/backup/command.ts with its own parser: the global options (store,
 * protector, passphrase sources) are taken out here and used to open the keystore directly.
 */
async function runBackup(argv: string[], env: Env, streams: Streams): Promise<number> {
  const globals = GLOBAL_OPTIONS as unknown as OptionTable;
  const { values, tokens } = parseArgs({
    args: argv,
    options: globals,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const drop = new Set<number>();
  for (const token of tokens ?? []) {
    if (token.kind !== 'option' || !(token.name in globals) || token.name === 'json' || token.name === 'help')
      continue;
    drop.add(token.index);
    if (token.value !== undefined && !token.inlineValue) drop.add(token.index + 1);
  }
  const rest = argv.filter((_, i) => !drop.has(i));
  rest.splice(rest.indexOf('backup'), 1);
  const config = new Config(values as GlobalValues, env, streams);
  if (config.daemon !== undefined && !rest.includes('inspect')) {
    throw new CofferError(
      'EINVAL',
      'backups run directly on a store (--store or COFFER_STORE), not through a daemon',
    );
  }
  const { openKeystore } = await import('./direct.js');
  const { backupCommand } = await import('../backup/command.js');
  return backupCommand(rest, {
    stdout: streams.stdout,
    stderr: streams.stderr,
    env,
    openKeystore: () => openKeystore(config),
    ...(canPrompt(streams) ? { promptHidden: (question: string) => promptHidden(streams, question) } : {}),
  });
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  // A closed pipe (`coffer key list | head -1`) is not an error worth a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
  });
  const code = await runCli(process.argv.slice(2));
  process.exitCode = code;
}
