// The shape of one option or argument in the command table (spec.ts): plain data, with no tie to the
// context a command runs in, so the global options (table/global.ts) and the settings that read them
// (config.ts) can use it without importing the command machinery.

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

export interface GlobalOptionSpec extends OptionSpec {
  /** The environment variable that sets it (below a flag, above the config file). */
  env?: string;
  /** Settable in the config file under the option's own name. */
  config?: boolean;
}
