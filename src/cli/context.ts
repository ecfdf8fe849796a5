// What a command implementation gets (spec.ts `CommandRun`), and the helpers commands share:
// argument checks that fail with EINVAL before any work, JSON-or-text output, human formatting of keys.
import type { CofferOperations } from '../client/surface.js';
import type { Keystore } from '../core/keystore.js';
import type { KeyInfo } from '../core/types.js';
import { CofferError } from '../errors.js';
import type { Config } from './config.js';
import { encodeBase64, type Streams, writeText } from './io.js';
import { parseDuration, type Values } from './values.js';

export type { Values };

/** Where the operations run: a daemon, the per-user agent, or the store opened in this process. */
export type Mode = 'daemon' | 'agent' | 'direct';

export interface Context {
  config: Config;
  streams: Streams;
  /** Positional arguments after the command words. */
  args: string[];
  values: Values;
  /** The operations surface, opened once (connect.ts); main closes it after the command. */
  ops(): Promise<CofferOperations>;
  /** The store opened in this process, bypassing daemon and agent (keyslot commands, which need the platform here). */
  keystore(): Promise<Keystore>;
  /** Sealed streams (SPEC §6.2): the daemon's client, else the store opened in this process (connect.ts). */
  streamOps(): Promise<StreamOperations>;
}

/** A sealed or opened stream: its pieces, and the key version that sealed it. */
export type PieceStream = AsyncIterable<Uint8Array> & { readonly version: number };

/** What `Keystore` and `CofferClient` both offer for streams of any size. */
export interface StreamOperations {
  sealStream(
    id: string,
    source: AsyncIterable<Uint8Array>,
    options: { aad?: Uint8Array },
  ): Promise<PieceStream>;
  unsealStream(
    id: string,
    source: AsyncIterable<Uint8Array>,
    options: { aad?: Uint8Array },
  ): Promise<PieceStream>;
  getKey(id: string): Promise<KeyInfo>;
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

/** Durations like 90d, 12h, 30m, 45s, 500ms. */
export function duration(values: Values, name: string): number | undefined {
  const text = str(values, name);
  return text === undefined ? undefined : parseDuration(text, `--${name}`);
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
  if (ctx.config.json) return writeText(ctx.streams, JSON.stringify(jsonSafe(json), null, 2));
  const out = Array.isArray(text) ? text.join('\n') : text;
  if (out.length > 0) await writeText(ctx.streams, out);
}

/** A note for people (stderr), suppressed under --json so machine output stays clean. */
export function note(ctx: Context, text: string): void {
  if (!ctx.config.json) ctx.streams.stderr.write(`${text}\n`);
}

/** A store URL safe to print: postgres URLs may carry a password. */
export function displayStore(url: string): string {
  return /^postgres(ql)?:/i.test(url) ? url.replace(/\/\/[^@/]*@/, '//…@') : url;
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
  if (key.syncable) lines.push('syncable     yes (may be a keychain item, SPEC §16)');
  if (key.insecure)
    lines.push('WARNING      created in insecure deterministic mode: never use it for real data');
  return lines;
}
