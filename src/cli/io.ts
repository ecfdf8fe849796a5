// Input and output of command data (docs/cli.md): data comes from `--in FILE` or stdin and goes to
// `--out FILE` or stdout; binary never goes to a terminal by accident (it is refused with a hint),
// and files written with secrets in mind (unsealed plaintext) are created 0600.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type Base64Variant, decodeBase64, encodeBase64 } from '../base64.js';
import { LIMITS } from '../core/types.js';
import { CofferError } from '../errors.js';
import type { Streams } from './streams.js';
import { formatSize } from './values.js';

export type { Streams } from './streams.js';

/** What a command may read at most: sealed payloads are the largest thing the API accepts. */
export const MAX_INPUT_BYTES = LIMITS.sealPayloadBytes + 64 * 1024;

/** The bound of one command's input, named for the message: `seal takes at most 16 MiB per call`. */
export interface InputLimit {
  max: number;
  /** What takes the input, e.g. 'seal', 'sign'. */
  op: string;
  /** Advice for larger input, e.g. 'sign a hash of it instead'. */
  advice?: string;
}

function tooBig(source: string, size: number | undefined, limit: InputLimit): CofferError {
  const what =
    size === undefined
      ? `${source} holds more than ${formatSize(limit.max)}`
      : `${source} is ${formatSize(size)}`;
  return new CofferError(
    'E2BIG',
    `${what}; ${limit.op} takes at most ${formatSize(limit.max)} per call${limit.advice ? `: ${limit.advice}` : ''}`,
  );
}

function readBounded(path: string, what: string, limit: InputLimit): Uint8Array {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CofferError('ENOENT', `${what}: no such file ${path}`);
    if (code === 'EISDIR') throw new CofferError('EINVAL', `${what}: ${path} is a directory`);
    throw new CofferError('EINVAL', `${what}: cannot read ${path} (${code ?? 'error'})`);
  }
  if (data.length > limit.max) throw tooBig(`${what} ${path}`, data.length, limit);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** Reads a file given on the command line (signature files, public keys, backups). */
export function readFileArg(path: string, what: string, limit?: InputLimit): Uint8Array {
  return readBounded(path, what, limit ?? { max: MAX_INPUT_BYTES, op: what });
}

/**
 * Reads the command's data: `--in FILE` (or `-` for stdin), else stdin unless it is a terminal. Input
 * over `limit` is E2BIG, saying the size, the bound and what to do instead.
 */
export async function readInput(
  streams: Streams,
  inPath: string | undefined,
  limit: InputLimit = { max: MAX_INPUT_BYTES, op: 'this command' },
): Promise<Uint8Array> {
  if (inPath !== undefined && inPath !== '-') return readBounded(inPath, '--in', limit);
  if (inPath === undefined && streams.stdin.isTTY) {
    throw new CofferError('EINVAL', 'no input: give --in FILE or pipe the data into stdin');
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of streams.stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > limit.max) throw tooBig('stdin', undefined, limit);
    chunks.push(buf);
  }
  const all = Buffer.concat(chunks);
  return new Uint8Array(all.buffer, all.byteOffset, all.length);
}

/**
 * Writes a file whole or not at all: a temporary file beside it, fsync, rename (a crash never leaves
 * half a backup under the final name). `mode` applies from creation.
 */
export function writeFileAtomic(path: string, data: Uint8Array, mode: number): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(temp, 'wx', mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CofferError(
      code === 'ENOENT' ? 'ENOENT' : code === 'EACCES' || code === 'EPERM' ? 'EPERM' : 'EINVAL',
      `cannot write ${path}: ${code ?? (error as Error).message}`,
    );
  }
  try {
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, path);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {}
    rmSync(temp, { force: true });
    throw new CofferError(
      'EINVAL',
      `cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
}

/**
 * Decodes base64 a person pasted or a file holds: surrounding and embedded whitespace (line breaks)
 * is dropped, the dialect is told by its alphabet and padding, and then the one strict codec
 * (src/base64.ts) decodes it, so a typo is refused, never silently skipped.
 */
export function decodeBase64Text(text: string, what: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  const variant: Base64Variant = /[-_]/.test(clean)
    ? 'base64url'
    : clean.endsWith('=') || clean.length % 4 === 0
      ? 'base64'
      : 'base64-nopad';
  try {
    return decodeBase64(variant === 'base64url' ? clean.replace(/=+$/, '') : clean, variant, what);
  } catch {
    throw new CofferError('EINVAL', `${what} is not valid base64`);
  }
}

export { encodeBase64 };

export async function writeStdout(streams: Streams, data: Uint8Array | string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    streams.stdout.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

/** Writes text to stdout (always allowed). */
export function writeText(streams: Streams, text: string): Promise<void> {
  return writeStdout(streams, text.endsWith('\n') ? text : `${text}\n`);
}

export interface BinaryOutput {
  out?: string | undefined;
  /** The user asked for base64 text instead of bytes. */
  base64?: boolean | undefined;
  /** The bytes are secret (plaintext): files are created 0600. */
  secret?: boolean;
}

/**
 * Writes bytes to `--out FILE`, as base64 text when asked, or raw to a stdout that is not a
 * terminal. Raw bytes to a terminal are refused: they garble it and may leave secrets in scrollback.
 */
export async function writeBinary(streams: Streams, data: Uint8Array, options: BinaryOutput): Promise<void> {
  if (options.out !== undefined && options.out !== '-') {
    try {
      writeFileSync(options.out, options.base64 ? `${encodeBase64(data)}\n` : data, {
        mode: options.secret ? 0o600 : 0o644,
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CofferError('EINVAL', `--out: cannot write ${options.out} (${code ?? 'error'})`);
    }
    return;
  }
  if (options.base64) return writeText(streams, encodeBase64(data));
  if (streams.stdout.isTTY) {
    throw new CofferError(
      'EINVAL',
      'refusing to write binary data to a terminal: use --out FILE, --base64, or pipe the output',
    );
  }
  await writeStdout(streams, data);
}
