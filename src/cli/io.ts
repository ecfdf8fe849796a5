// Input and output of command data (DESIGN §7): data comes from `--in FILE` or stdin and goes to
// `--out FILE` or stdout; binary never goes to a terminal by accident (it is refused with a hint),
// and files written with secrets in mind (unsealed plaintext) are created 0600.
import { readFileSync, writeFileSync } from 'node:fs';
import { LIMITS } from '../core/types.js';
import { CofferError } from '../errors.js';

/** What a command may read at most: sealed payloads are the largest thing the API accepts. */
export const MAX_INPUT_BYTES = LIMITS.sealPayloadBytes + 64 * 1024;

export interface Streams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const processStreams: Streams = {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
};

function readBounded(path: string, what: string): Uint8Array {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CofferError('ENOENT', `${what}: no such file ${path}`);
    throw new CofferError('EINVAL', `${what}: cannot read ${path} (${code ?? 'error'})`);
  }
  if (data.length > MAX_INPUT_BYTES)
    throw new CofferError('E2BIG', `${what}: ${path} is larger than ${MAX_INPUT_BYTES} bytes`);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** Reads a file given on the command line (signature files, public keys). */
export function readFileArg(path: string, what: string): Uint8Array {
  return readBounded(path, what);
}

/** Reads the command's data: `--in FILE` (or `-` for stdin), else stdin unless it is a terminal. */
export async function readInput(streams: Streams, inPath: string | undefined): Promise<Uint8Array> {
  if (inPath !== undefined && inPath !== '-') return readBounded(inPath, '--in');
  if (inPath === undefined && streams.stdin.isTTY) {
    throw new CofferError('EINVAL', 'no input: give --in FILE or pipe the data into stdin');
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of streams.stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > MAX_INPUT_BYTES)
      throw new CofferError('E2BIG', `stdin: input is larger than ${MAX_INPUT_BYTES} bytes`);
    chunks.push(buf);
  }
  const all = Buffer.concat(chunks);
  return new Uint8Array(all.buffer, all.byteOffset, all.length);
}

/** Decodes base64 text (standard or url alphabet, surrounding whitespace allowed), strictly. */
export function decodeBase64Text(text: string, what: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(clean) || clean.length % 4 === 1) {
    throw new CofferError('EINVAL', `${what} is not valid base64`);
  }
  const bytes = Buffer.from(clean.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}

async function writeStdout(streams: Streams, data: Uint8Array | string): Promise<void> {
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
