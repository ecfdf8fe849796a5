// Command data of any size (docs/cli.md "Large inputs"): an input read as a stream from `--in FILE` or
// stdin, of which a command may look at the start (to tell a one-shot blob from a sealed stream, or a
// small input from a large one) without losing it, and an output written as it is produced — to a
// temporary file beside `--out FILE` that is renamed over it only once the whole stream succeeded, or
// to stdout, where a failure midway cannot be taken back and is reported as such. Memory stays bounded
// by what the command chooses to look at.
import { randomBytes } from 'node:crypto';
import { createReadStream, fstatSync, openSync } from 'node:fs';
import { open as openFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { asCofferError, CofferError } from '../errors.js';
import type { Streams } from './streams.js';

/** Pieces read from files: large enough to keep system calls few, small next to the chunk bound. */
const READ_PIECE = 1024 * 1024;

function inputError(path: string, error: unknown): CofferError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new CofferError('ENOENT', `--in: no such file ${path}`);
  if (code === 'EISDIR') return new CofferError('EINVAL', `--in: ${path} is a directory`);
  return new CofferError('EINVAL', `--in: cannot read ${path} (${code ?? 'error'})`);
}

/** An input that can be looked into before it is consumed, once, as a stream. */
export class StreamInput {
  /** The size of a regular file given with --in (undefined for stdin and pipes). */
  readonly size: number | undefined;
  readonly #source: AsyncIterator<Uint8Array>;
  readonly #describe: string;
  #head: Uint8Array[] = [];
  #headLength = 0;
  #ended = false;
  #taken = false;

  private constructor(source: AsyncIterable<unknown>, size: number | undefined, describe: string) {
    this.#source = (async function* () {
      for await (const piece of source)
        yield typeof piece === 'string' ? Buffer.from(piece) : (piece as Uint8Array);
    })();
    this.size = size;
    this.#describe = describe;
  }

  /** `--in FILE` (or `-` for stdin), else stdin unless it is a terminal. */
  static open(streams: Streams, inPath: string | undefined): StreamInput {
    if (inPath !== undefined && inPath !== '-') {
      let fd: number;
      let size: number | undefined;
      try {
        fd = openSync(inPath, 'r');
        const info = fstatSync(fd);
        if (info.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
        size = info.isFile() ? info.size : undefined;
      } catch (error) {
        throw inputError(inPath, error);
      }
      const file = createReadStream('', { fd, highWaterMark: READ_PIECE });
      const mapped = (async function* () {
        try {
          yield* file;
        } catch (error) {
          throw inputError(inPath, error);
        } finally {
          file.destroy();
        }
      })();
      return new StreamInput(mapped, size, `--in ${inPath}`);
    }
    if (inPath === undefined && streams.stdin.isTTY)
      throw new CofferError('EINVAL', 'no input: give --in FILE or pipe the data into stdin');
    return new StreamInput(streams.stdin, undefined, 'stdin');
  }

  /** Where the input comes from, for messages: `--in FILE` or `stdin`. */
  get description(): string {
    return this.#describe;
  }

  /** Reads until at least `bytes` are held or the input ended; returns what is held (not consumed). */
  async peek(bytes: number): Promise<Uint8Array> {
    this.#assertFresh();
    while (!this.#ended && this.#headLength < bytes) {
      const next = await this.#source.next();
      if (next.done) this.#ended = true;
      else if (next.value.length > 0) {
        this.#head.push(next.value);
        this.#headLength += next.value.length;
      }
    }
    if (this.#head.length > 1) this.#head = [Buffer.concat(this.#head)];
    return this.#head[0] ?? new Uint8Array(0);
  }

  /** The whole input when it holds at most `max` bytes, else undefined (what was read is kept). */
  async within(max: number): Promise<Uint8Array | undefined> {
    if (this.size !== undefined && this.size > max) return undefined;
    const head = await this.peek(max + 1);
    return this.#ended && head.length <= max ? head : undefined;
  }

  /** The input as a stream: what was looked at, then the rest. Once. */
  stream(): AsyncGenerator<Uint8Array> {
    this.#assertFresh();
    this.#taken = true;
    const head = this.#head;
    this.#head = [];
    const source = this.#source;
    const ended = this.#ended;
    return (async function* () {
      try {
        yield* head;
        if (ended) return;
        for (;;) {
          const next = await source.next();
          if (next.done) return;
          yield next.value;
        }
      } finally {
        await source.return?.();
      }
    })();
  }

  #assertFresh(): void {
    if (this.#taken) throw new CofferError('EINTERNAL', 'the input was already consumed');
  }
}

export interface StreamOutput {
  /** `--out FILE`; undefined or `-` is stdout. */
  out: string | undefined;
  /** The bytes are secret (plaintext): the file is created 0600. */
  secret: boolean;
}

/** Appended to the error of a stream that failed after some output went to stdout. */
export const STDOUT_PARTIAL =
  'the output already written to stdout is incomplete and unauthenticated: discard it';

/**
 * Writes `pieces` to `--out FILE` whole or not at all (a temporary file beside it, fsync, rename) or to
 * stdout as they come (never to a terminal). Returns the number of bytes written.
 */
export async function writeStream(
  streams: Streams,
  pieces: AsyncIterable<Uint8Array>,
  output: StreamOutput,
): Promise<number> {
  if (output.out !== undefined && output.out !== '-')
    return writeFileStream(pieces, output.out, output.secret);
  if (streams.stdout.isTTY)
    throw new CofferError(
      'EINVAL',
      'refusing to write binary data to a terminal: use --out FILE, or pipe the output',
    );
  let written = 0;
  try {
    for await (const piece of pieces) {
      // One piece at a time, each acknowledged: the producer may reuse its buffer, and memory stays flat.
      await new Promise<void>((resolve, reject) => {
        streams.stdout.write(piece, (error) => (error ? reject(error) : resolve()));
      });
      written += piece.length;
    }
  } catch (caught) {
    const error = asCofferError(caught);
    if (written === 0) throw error;
    throw new CofferError(error.code, `${error.message} (after ${written} bytes: ${STDOUT_PARTIAL})`, {
      cause: error,
    });
  }
  return written;
}

async function writeFileStream(
  pieces: AsyncIterable<Uint8Array>,
  path: string,
  secret: boolean,
): Promise<number> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let file: Awaited<ReturnType<typeof openFile>>;
  try {
    file = await openFile(temp, 'wx', secret ? 0o600 : 0o644);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CofferError(
      code === 'ENOENT' ? 'ENOENT' : code === 'EACCES' || code === 'EPERM' ? 'EPERM' : 'EINVAL',
      `--out: cannot write ${path} (${code ?? 'error'})`,
    );
  }
  let written = 0;
  try {
    try {
      for await (const piece of pieces) {
        let at = 0;
        while (at < piece.length) at += (await file.write(piece, at, piece.length - at)).bytesWritten;
        written += piece.length;
      }
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (caught) {
    // Nothing under the final name unless the whole stream was authenticated and written.
    await rm(temp, { force: true });
    const error = caught as NodeJS.ErrnoException;
    if (error instanceof CofferError) throw error;
    if (typeof error.code === 'string' && /^E[A-Z]+$/.test(error.code) && error.syscall !== undefined)
      throw new CofferError('EINVAL', `--out: cannot write ${path} (${error.code})`);
    throw asCofferError(caught);
  }
  return written;
}
