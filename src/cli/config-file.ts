// The config file (docs/cli.md "Config file"): `$XDG_CONFIG_HOME/coffer/config.toml` (default
// ~/.config/coffer/config.toml, or the file COFFER_CONFIG names) holds settings under the names of the
// global flags. Its format is a strict subset of TOML — top-level `key = value` lines with basic or
// literal strings, booleans and `#` comments — so any TOML tool reads it, and anything outside the
// subset (tables, arrays, numbers, dates) is refused with the line number rather than misread.
// Secrets never go here: passphrases, PINs and tokens come from the environment, files or prompts.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CofferError } from '../errors.js';
import type { Env } from './config.js';

export type ConfigValue = string | boolean;

export interface ConfigFile {
  /** The file read, or undefined when there is none. */
  path: string | undefined;
  values: Record<string, ConfigValue>;
}

/** The config file this invocation reads: COFFER_CONFIG, else the XDG location. */
export function configPath(env: Env): string {
  const explicit = env.COFFER_CONFIG;
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg?.startsWith('/') ? xdg : join(env.HOME || homedir(), '.config');
  return join(base, 'coffer', 'config.toml');
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;
const ESCAPES: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };

function basicString(body: string, fail: (why: string) => never): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = body[++i];
    if (next === 'u' || next === 'U') {
      const digits = next === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + digits);
      if (!new RegExp(`^[0-9A-Fa-f]{${digits}}$`).test(hex)) fail(`bad \\${next} escape`);
      out += String.fromCodePoint(Number.parseInt(hex, 16));
      i += digits;
    } else if (next !== undefined && ESCAPES[next] !== undefined) {
      out += ESCAPES[next];
    } else {
      fail(`unknown escape \\${next ?? ''}`);
    }
  }
  return out;
}

/** Parses the TOML subset; `known` lists the keys allowed and whether each is a boolean. */
export function parseConfig(
  text: string,
  where: string,
  known: Readonly<Record<string, 'string' | 'boolean'>>,
): Record<string, ConfigValue> {
  const values: Record<string, ConfigValue> = {};
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const fail: (why: string) => never = (why) => {
      throw new CofferError('EINVAL', `${where}:${index + 1}: ${why}`);
    };
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('[')) fail('tables are not supported: write every setting at the top level');
    const eq = line.indexOf('=');
    if (eq < 0) fail('expected `key = value`');
    const key = line.slice(0, eq).trim();
    if (!BARE_KEY.test(key)) fail(`${JSON.stringify(key)} is not a plain key`);
    const type = known[key];
    if (type === undefined) fail(`unknown setting ${key} (known: ${Object.keys(known).sort().join(', ')})`);
    if (Object.hasOwn(values, key)) fail(`${key} is set twice`);
    const rest = line.slice(eq + 1).trim();
    let value: ConfigValue;
    let after: string;
    if (rest.startsWith('"')) {
      const end = /^"((?:[^"\\]|\\.)*)"/.exec(rest) ?? fail('unterminated string');
      value = basicString(end[1]!, fail);
      after = rest.slice(end[0].length);
    } else if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end < 0) fail('unterminated string');
      value = rest.slice(1, end);
      after = rest.slice(end + 1);
    } else {
      const word = /^[^\s#]+/.exec(rest)?.[0] ?? '';
      if (word === 'true' || word === 'false') value = word === 'true';
      else fail(`the value of ${key} must be a "quoted string" or true/false`);
      after = rest.slice(word.length);
    }
    after = after.trim();
    if (after !== '' && !after.startsWith('#')) fail('unexpected text after the value');
    if (typeof value !== type)
      fail(`${key} takes ${type === 'boolean' ? 'true or false' : 'a "quoted string"'}`);
    values[key] = value;
  });
  return values;
}

/** Reads the config file when there is one; a missing file is no settings, an unreadable one an error. */
export function readConfig(env: Env, known: Readonly<Record<string, 'string' | 'boolean'>>): ConfigFile {
  const path = configPath(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && (env.COFFER_CONFIG === undefined || env.COFFER_CONFIG === ''))
      return { path: undefined, values: {} };
    throw new CofferError(
      code === 'ENOENT' ? 'ENOENT' : 'EINVAL',
      `config file ${path}: cannot read it (${code})`,
    );
  }
  return { path, values: parseConfig(text, path, known) };
}
