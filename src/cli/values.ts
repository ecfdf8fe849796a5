// Option values as parsed from the command line, the environment they may also come from, and the
// unit parsers and formatters every layer of the CLI shares (durations in flags, sizes in help text).
// A leaf module: config, context, io and the command table all import it, it imports none of them.
import { CofferError } from '../errors.js';

export type Env = Record<string, string | undefined>;

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Durations like 90d, 12h, 30m, 45s, 500ms; `what` names the setting in the error. */
export function parseDuration(text: string, what: string): number {
  const match = /^([1-9][0-9]{0,9})(ms|s|m|h|d)$/.exec(text);
  if (!match) throw new CofferError('EINVAL', `${what} must be a duration like 90d, 12h, 30m or 45s`);
  return Number(match[1]) * UNITS[match[2]!]!;
}

const MiB = 1024 * 1024;

/** "16 MiB", "1 MiB", "64 KiB", or bytes. */
export function formatSize(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
