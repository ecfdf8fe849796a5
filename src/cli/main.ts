#!/usr/bin/env node
// The `coffer` command line (docs/cli.md): finds the command in the declarative table, parses its
// flags with node:util parseArgs, loads only that command's implementation, runs it against a daemon,
// the per-user agent or the store itself, and maps every failure to the exit code of its CofferError
// code (README "Errors") with a message on stderr that says what to do. Help, completion and the
// version load nothing but the table.
import type * as Fs from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import type { CofferError, ErrorCode } from '../errors.js';
import type { Env } from './config.js';
import type { Context, Mode, Values } from './context.js';
import { cachedOverview } from './overview-cache.js';
import type { CommandSpec, OptionSpec } from './spec.js';
import type { Streams } from './streams.js';

// Nothing but the overview cache is imported statically: a bare `--help` prints the overview the
// build rendered (overview-cache.ts); everything else loads the table and the help renderer first,
// and what a command needs (settings, connections, node:util's parser, the implementation) when it
// runs.
type Table = typeof import('./table/index.js');
type Help = typeof import('./help.js');
let COMMANDS: Table['COMMANDS'];
let findCommand: Table['findCommand'];
let isGroup: Table['isGroup'];
let GLOBALS: Readonly<Record<string, OptionSpec>>;
let commandHelp: Help['commandHelp'];
let groupHelp: Help['groupHelp'];
let overview: Help['overview'];
let usageLine: Help['usageLine'];

async function loadTable(): Promise<void> {
  if (COMMANDS) return;
  const [table, global, help] = await Promise.all([
    import('./table/index.js'),
    import('./table/global.js'),
    import('./help.js'),
  ]);
  ({ COMMANDS, findCommand, isGroup } = table);
  GLOBALS = global.GLOBAL_OPTIONS;
  ({ commandHelp, groupHelp, overview, usageLine } = help);
}

/**
 * node:fs without building its ES module namespace (a measurable part of `--help`'s budget):
 * process.getBuiltinModule where Node has it (≥ 20.16), an import otherwise.
 */
async function fs(): Promise<typeof Fs> {
  return process.getBuiltinModule?.('node:fs') ?? (await import('node:fs'));
}

let stdoutGuarded = false;

/** The process's streams, each created on first use: `--help` never sets up stdin or stdout. */
const processStreams: Streams = {
  get stdin() {
    return process.stdin;
  },
  get stdout() {
    // Set up on first use, so `--help` (which writes with write(2)) never builds the stream. A
    // closed pipe (`coffer key list | head -1`) is not an error worth a stack trace.
    if (!stdoutGuarded) {
      stdoutGuarded = true;
      process.stdout.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EPIPE') process.exit(0);
      });
    }
    return process.stdout;
  },
  get stderr() {
    return process.stderr;
  },
};

/**
 * A usage error found before any command runs; it becomes CofferError EINVAL where errors are
 * reported, so the errors module is loaded only when there is an error to report.
 */
class UsageError extends Error {}

/** Flags that take a value, so the value is never mistaken for a command word. */
function valueTaking(): Set<string> {
  const names = new Set<string>();
  const add = (table: Readonly<Record<string, OptionSpec>> | undefined) => {
    for (const [name, spec] of Object.entries(table ?? {})) {
      if (spec.type === 'string') {
        names.add(`--${name}`);
        if (spec.short) names.add(`-${spec.short}`);
      }
    }
  };
  add(GLOBALS);
  for (const c of COMMANDS) add(c.options);
  return names;
}

/** The leading positional words of argv (the command path candidates), skipping option values. */
function commandWords(argv: readonly string[]): string[] {
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

function parseOptions(command: CommandSpec): NonNullable<ParseArgsConfig['options']> {
  const out: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, spec] of [...Object.entries(GLOBALS), ...Object.entries(command.options ?? {})]) {
    out[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  return out;
}

/** Values outside an option's or argument's choices are EINVAL naming the choices. */
function checkChoices(command: CommandSpec, values: Values, args: string[]): void {
  for (const [name, spec] of Object.entries(command.options ?? {})) {
    const value = values[name];
    const elsewhere = typeof value === 'string' ? spec.elsewhere?.[value] : undefined;
    if (elsewhere !== undefined) throw new UsageError(`--${name} ${value}: ${elsewhere}`);
    if (spec.choices && typeof value === 'string' && !spec.choices.includes(value))
      throw new UsageError(`unknown --${name} ${value}: use one of ${spec.choices.join(', ')}`);
  }
  (command.args ?? []).forEach((arg, i) => {
    const value = args[i];
    if (arg.choices && value !== undefined && !arg.choices.includes(value))
      throw new UsageError(`unknown ${arg.name} ${value}: use one of ${arg.choices.join(', ')}`);
  });
}

const UNLOCKING = new Set(['unlock', 'agent start']);

/**
 * Help text to stdout or stderr. The process's own streams get a plain write(2): setting up Node's
 * stream machinery would cost `--help` as much CPU as the rest of it.
 */
async function say(streams: Streams, to: 'stdout' | 'stderr', text: string): Promise<void> {
  if (streams === processStreams) {
    const { writeSync } = await fs();
    const fd = to === 'stdout' ? 1 : 2;
    const bytes = Buffer.from(`${text}\n`);
    for (let at = 0; at < bytes.length; ) {
      try {
        at += writeSync(fd, bytes, at);
      } catch (error) {
        // A full non-blocking pipe: the stream waits for the reader; a closed one has no reader.
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') streams[to].write(bytes.subarray(at));
        return;
      }
    }
    return;
  }
  streams[to].write(`${text}\n`);
}

/** What to add to an error so it says what to do, given the command and where it ran. */
function explain(
  error: CofferError,
  command: CommandSpec | undefined,
  mode: Mode | undefined,
): {
  message: string;
  hint?: string;
} {
  const name = command?.path.join(' ') ?? '';
  const hints: Partial<Record<ErrorCode, string>> = {
    EUNAVAIL: 'run `coffer doctor` to see which protectors and backends work on this machine',
    EINTERNAL: 'this is a bug in coffer: please report it with the command you ran (never include secrets)',
  };
  if (error.code === 'ELOCKED') {
    if (UNLOCKING.has(name)) {
      return {
        message: error.message,
        ...(mode === 'daemon'
          ? {
              hint: 'check the passphrase: 5 failures in a row lock unlocking out for 15 minutes (`coffer status` shows the count)',
            }
          : {
              hint: 'check the secret: COFFER_PASSPHRASE / --passphrase-file, or COFFER_PKCS11_PIN for a pkcs11 protector',
            }),
      };
    }
    // Only unlocking can be locked out: any other ELOCKED from a daemon means it is locked.
    if (mode === 'daemon')
      return { message: 'the daemon is locked: run `coffer unlock` (it asks for the passphrase)' };
    return {
      message: error.message,
      hint: 'the keystore stays locked: give the right secret (COFFER_PASSPHRASE, or COFFER_PKCS11_PIN for a pkcs11 protector)',
    };
  }
  const hint = hints[error.code];
  return { message: error.message, ...(hint && !error.message.includes(hint) ? { hint } : {}) };
}

function reportError(
  streams: Streams,
  json: boolean,
  error: CofferError,
  command: CommandSpec | undefined,
  mode: Mode | undefined,
): void {
  const { message, hint } = explain(error, command, mode);
  if (json) {
    streams.stderr.write(
      `${JSON.stringify({ error: { code: error.code, message, ...(hint ? { hint } : {}) } })}\n`,
    );
    return;
  }
  streams.stderr.write(`coffer: ${message} (${error.code})\n`);
  if (hint) streams.stderr.write(`hint: ${hint}\n`);
}

const VERSION_FLAGS = new Set(['--version', '-V', '--json']);

/** Runs one CLI invocation and resolves with its exit code (never throws). */
export async function runCli(
  argv: string[],
  env: Env = process.env,
  streams: Streams = processStreams,
): Promise<number> {
  const wantsJson = argv.includes('--json');
  let command: CommandSpec | undefined;
  let connection: import('./connect.js').Connection | undefined;
  /** Whether a daemon is configured: commands like unlock talk to it without the connection. */
  let daemonConfigured = false;
  try {
    if (argv.length === 0 || (argv.length === 1 && ['--help', '-h', 'help'].includes(argv[0]!))) {
      const cached = streams === processStreams ? cachedOverview(await fs()) : undefined;
      if (cached !== undefined) {
        // `coffer` alone is a usage error: the overview goes where errors go.
        await say(streams, argv.length === 0 ? 'stderr' : 'stdout', cached);
        return argv.length === 0 ? 2 : 0;
      }
    }
    // `--version` alone is the global flag; after a command word it is that command's --version N.
    // Flags only, so no command word can be among them and the table is not needed to tell.
    const versionOnly = argv.every((a) => VERSION_FLAGS.has(a)) && argv.some((a) => a !== '--json');
    if (!versionOnly) await loadTable();
    const words = versionOnly ? [] : commandWords(argv);
    const help = argv.includes('--help') || argv.includes('-h');
    if (words.length === 0 && (argv.includes('--version') || argv.includes('-V'))) {
      const { packageVersion } = await import('./version.js');
      const version = await packageVersion();
      await say(
        streams,
        'stdout',
        wantsJson ? JSON.stringify({ version, node: process.versions.node }, null, 2) : `coffer ${version}`,
      );
      return 0;
    }
    if (words[0] === 'help') {
      const rest = argv.filter((a) => !a.startsWith('-')).slice(1);
      const target = findCommand(rest);
      if (target === undefined && rest.length > 0 && !isGroup(rest[0]))
        throw new UsageError(
          `unknown command ${JSON.stringify(rest.join(' '))}: run \`coffer --help\` for the list`,
        );
      await say(
        streams,
        'stdout',
        target ? commandHelp(target) : rest[0] ? groupHelp(COMMANDS, rest[0]) : overview(COMMANDS),
      );
      return 0;
    } else if (words.length === 0) {
      // `coffer` alone is a usage error: the overview goes where errors go.
      await say(streams, help ? 'stdout' : 'stderr', overview(COMMANDS));
      return help ? 0 : 2;
    } else {
      command = findCommand(words);
    }
    if (command === undefined) {
      if (isGroup(words[0])) {
        if (help && words.length === 1) {
          await say(streams, 'stdout', groupHelp(COMMANDS, words[0]!));
          return 0;
        }
        await say(streams, 'stderr', groupHelp(COMMANDS, words[0]!));
        throw new UsageError(
          words[1] ? `unknown subcommand: ${words.join(' ')}` : `${words[0]} needs a subcommand`,
        );
      }
      throw new UsageError(`unknown command ${JSON.stringify(words[0])}: run \`coffer --help\` for the list`);
    }
    if (help) {
      await say(streams, 'stdout', commandHelp(command));
      return 0;
    }
    const { parseArgs } = await import('node:util');
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({
        args: argv,
        options: parseOptions(command),
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new UsageError(`${message} — see \`coffer ${command.path.join(' ')} --help\``);
    }
    const args = parsed.positionals.slice(command.path.length);
    const args0 = command.args ?? [];
    const [min, max] = [args0.filter((a) => !a.optional).length, args0.length];
    if (args.length < min || args.length > max) {
      throw new UsageError(
        usageLine(command) + (args.length > max ? ` (unexpected ${JSON.stringify(args[max])})` : ''),
      );
    }
    checkChoices(command, parsed.values, args);
    const [{ Config }, { Connection }] = await Promise.all([import('./config.js'), import('./connect.js')]);
    // A command option that shadows a global one (`version`, `ssh-agent --socket`) is the command's
    // alone: the settings never read it, so `ssh-agent --socket PATH` cannot send the CLI looking for a
    // daemon on the agent's own socket.
    const settings = { ...parsed.values };
    for (const name of Object.keys(command.options ?? {}))
      if (name in GLOBALS && name !== 'version') delete settings[name];
    const config = new Config(settings, env, streams);
    try {
      daemonConfigured = config.daemon !== undefined;
    } catch {
      // a bad daemon setting fails the command where it is used, with its own message
    }
    const open = new Connection(config);
    connection = open;
    const ctx: Context = {
      config,
      streams,
      args,
      values: parsed.values,
      ops: () => open.ops(),
      keystore: () => open.keystore(),
      streamOps: () => open.streamOps(),
    };
    const run = await command.load();
    await run(ctx);
    return 0;
  } catch (error) {
    const { asCofferError, CofferError } = await import('../errors.js');
    const e = error instanceof UsageError ? new CofferError('EINVAL', error.message) : asCofferError(error);
    reportError(
      streams,
      wantsJson,
      e,
      command,
      connection?.mode ?? (daemonConfigured ? 'daemon' : undefined),
    );
    // Stack traces only on request: they can name paths but never carry key material.
    if (env.COFFER_DEBUG === '1' && error instanceof Error) streams.stderr.write(`${error.stack}\n`);
    return e.exitCode;
  } finally {
    await connection?.close();
  }
}

async function isMain(): Promise<boolean> {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    // Node runs the real path of its entry (npm's bin symlink resolved), which is import.meta.url.
    return (await fs()).realpathSync(entry) === decodeURIComponent(new URL(import.meta.url).pathname);
  } catch {
    return false;
  }
}

if (await isMain()) {
  const code = await runCli(process.argv.slice(2));
  process.exitCode = code;
}
