// The shape of the declarative command table (docs/cli.md "Commands"): every command's words,
// arguments, options, help and examples are data, so one table drives parsing (node:util parseArgs),
// `--help`, shell completion and the config file's keys. Implementations are loaded only when their
// command runs (`load`), which keeps `coffer --help` as cheap as starting Node.
import type { Context } from './context.js';

/** How a shell should complete a value. */
export type Completion = 'file' | 'dir' | 'none';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder for the value in help, e.g. FILE. */
  value?: string;
  help: string;
  /** The values allowed (completion offers them; the parser refuses others, naming these). */
  choices?: readonly string[];
  /** Values refused with a pointer to where they belong, e.g. `--alg hd-seed` → `coffer hd create`. */
  elsewhere?: Readonly<Record<string, string>>;
  complete?: Completion;
}

export interface ArgSpec {
  name: string;
  optional?: boolean;
  choices?: readonly string[];
  complete?: Completion;
}

/** What a command implementation is: it gets the parsed invocation and writes its output. */
export type CommandRun = (ctx: Context) => Promise<void>;

/** The names of a module's exports that are command implementations (for typed lazy loading). */
export type RunName<M> = { [K in keyof M]: M[K] extends CommandRun ? K : never }[keyof M] & string;

export interface CommandSpec {
  /** Command words, e.g. ['key', 'create']. */
  path: readonly string[];
  summary: string;
  /** Usage after `coffer <path>`, e.g. 'ID [--in FILE] [--out FILE]'. */
  usage: string;
  args?: readonly ArgSpec[];
  options?: Readonly<Record<string, OptionSpec>>;
  examples: readonly string[];
  notes?: readonly string[];
  /** Internal commands (the agent process) are left out of help and completion. */
  hidden?: boolean;
  load(): Promise<CommandRun>;
}

export interface GlobalOptionSpec extends OptionSpec {
  /** The environment variable that sets it (below a flag, above the config file). */
  env?: string;
  /** Settable in the config file under the option's own name. */
  config?: boolean;
}
