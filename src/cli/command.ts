// The shape of a CLI command and the helpers commands share: argument checks that fail with EINVAL
// before any work, JSON-or-text output, and human formatting of keys.
import type { ParseArgsConfig } from 'node:util';
import type { KeyInfo } from '../core/types.js';
import { CofferError } from '../errors.js';
import type { Backend } from './backend.js';
import type { Config } from './config.js';
import { encodeBase64, writeText } from './io.js';

export type OptionTable = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Context {
  config: Config;
  /** Positional arguments after the command words. */
  args: string[];
  values: Values;
  /** Opens the direct or daemon backend once; main closes it after the command. */
  backend(): Promise<Backend>;
}

export interface Command {
  /** Command words, e.g. ['key', 'create']. */
  path: string[];
  summary: string;
  /** Usage after `coffer <path>`, e.g. 'ID [--in FILE] [--out FILE]'. */
  usage: string;
  options?: OptionTable;
  /** One line per option: [flag, description]. */
  optionHelp?: [string, string][];
  examples: string[];
  notes?: string[];
  /** Exact number of positional arguments, or [min, max]. */
  positionals?: number | [number, number];
  run(ctx: Context): Promise<void>;
}

export function str(values: Values, name: string): string | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new CofferError('EINVAL', `--${name} takes a value`);
  return value;
}

export function strings(values: Values, name: string): string[] {
  const value = values[name];
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.flatMap((v) =>
    String(v)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );
}

export function flag(values: Values, name: string): boolean {
  return values[name] === true;
}

export function requireStr(values: Values, name: string, hint = ''): string {
  const value = str(values, name);
  if (value === undefined || value === '')
    throw new CofferError('EINVAL', `--${name} is required${hint ? `: ${hint}` : ''}`);
  return value;
}

/** A positive integer flag with bounds. */
export function int(values: Values, name: string, min: number, max: number): number | undefined {
  const text = str(values, name);
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text)) throw new CofferError('EINVAL', `--${name} must be a whole number`);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new CofferError('EINVAL', `--${name} must be from ${min} to ${max}`);
  return value;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Durations like 90d, 12h, 30m, 45s, 500ms. */
export function duration(values: Values, name: string): number | undefined {
  const text = str(values, name);
  if (text === undefined) return undefined;
  const match = /^([1-9][0-9]{0,9})(ms|s|m|h|d)$/.exec(text);
  if (!match) throw new CofferError('EINVAL', `--${name} must be a duration like 90d, 12h, 30m or 45s`);
  return Number(match[1]) * UNITS[match[2]!]!;
}

/** Replaces byte arrays by base64 strings so results print as JSON. */
export function jsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return encodeBase64(value);
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  }
  return value;
}

/** Prints `json` with --json, else `text` (a string or lines). */
export async function emit(ctx: Context, json: unknown, text: string | string[]): Promise<void> {
  if (ctx.config.json) return writeText(ctx.config.streams, JSON.stringify(jsonSafe(json), null, 2));
  const out = Array.isArray(text) ? text.join('\n') : text;
  if (out.length > 0) await writeText(ctx.config.streams, out);
}

/** A note for people (stderr), suppressed under --json so machine output stays clean. */
export function note(ctx: Context, text: string): void {
  if (!ctx.config.json) ctx.config.streams.stderr.write(`${text}\n`);
}

export function iso(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

/** One line per key for `key list`. */
export function keyRow(key: KeyInfo): string {
  return [
    key.id,
    key.algorithm.padEnd(18),
    key.state.padEnd(11),
    `v${key.primaryVersion}`.padEnd(5),
    `${key.app}/${key.purpose}`,
  ].join('  ');
}

export function keyDetails(key: KeyInfo): string[] {
  const lines = [
    `id           ${key.id}`,
    `app          ${key.app}`,
    `purpose      ${key.purpose}`,
    `algorithm    ${key.algorithm}`,
    `state        ${key.state}`,
    `uses         ${key.uses.join(', ')}`,
    `created      ${iso(key.createdAt)}`,
    `primary      v${key.primaryVersion} (min decryption v${key.minDecryptionVersion})`,
  ];
  for (const v of key.versions) {
    lines.push(`${`  v${v.version}`.padEnd(13)}${v.state.padEnd(11)} created ${iso(v.createdAt)}`);
  }
  const labels = Object.entries(key.labels);
  if (labels.length > 0) lines.push(`labels       ${labels.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (key.rotation) lines.push(`rotation     ${JSON.stringify(key.rotation)}`);
  if (key.insecure)
    lines.push('WARNING      created in insecure deterministic mode: never use it for real data');
  return lines;
}
