// The shape of the declarative command table (docs/cli.md "Commands"): every command's words,
// arguments, options, help and examples are data, so one table drives parsing (node:util parseArgs),
// `--help`, shell completion and the config file's keys. Implementations are loaded only when their
// command runs (`load`), which keeps `coffer --help` as cheap as starting Node.
import type { Context } from './context.js';
import type { ArgSpec, Completion, GlobalOptionSpec, OptionSpec } from './option-spec.js';

export type { ArgSpec, Completion, GlobalOptionSpec, OptionSpec };

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
