// Exact-length reads over a byte source of any shape (SPEC §6.2.5: a Node Readable, a web
// ReadableStream, any (async) iterable of Uint8Array pieces, or one Uint8Array), for the sealed-stream
// parser. Pull-driven: a piece is requested only when a read needs it, so memory stays at one piece
// plus one read buffer whatever the input size. No crypto.
import { CofferError } from '../errors.js';

export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array;

const EMPTY = new Uint8Array(0);

type AnyIterator = AsyncIterator<unknown> | Iterator<unknown>;

/** EINVAL unless `source` is a Uint8Array or an (async) iterable that is not a string. */
export function assertByteSource(name: string, source: unknown): asserts source is ByteSource {
  if (source instanceof Uint8Array) return;
  if (
    source !== null &&
    typeof source === 'object' &&
    (typeof (source as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function' ||
      typeof (source as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function')
  )
    return;
  throw new CofferError(
    'EINVAL',
    `${name} must be a Uint8Array or an (async) iterable of Uint8Array pieces (a Readable, a ReadableStream, an array)`,
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string') return 'a string (encode it first, or do not setEncoding() on the stream)';
  if (value === null) return 'null';
  return typeof value === 'object' ? (value.constructor?.name ?? 'an object') : typeof value;
}

export class ByteReader {
  #iterator: AnyIterator | undefined;
  #piece: Uint8Array = EMPTY;
  #offset = 0;
  #ended = false;
  /** Reused for reads that span pieces; may hold plaintext, so wipe() clears it. */
  #scratch: Uint8Array = EMPTY;
  /** Bytes handed out so far. */
  consumed = 0;

  constructor(source: ByteSource) {
    assertByteSource('source', source);
    if (source instanceof Uint8Array) {
      this.#piece = source;
      this.#ended = true; // nothing to pull after this piece
    } else {
      const asyncFactory = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator];
      this.#iterator =
        typeof asyncFactory === 'function'
          ? asyncFactory.call(source)
          : (source as Iterable<Uint8Array>)[Symbol.iterator]();
    }
  }

  /** Loads the next non-empty piece; false at the end of the input. Source errors propagate unchanged. */
  async #pull(): Promise<boolean> {
    while (!this.#ended) {
      const iterator = this.#iterator as AnyIterator;
      let result: IteratorResult<unknown>;
      try {
        result = await iterator.next();
      } catch (error) {
        this.#ended = true; // a failed iterator is finished: close() must not call return() on it
        throw error;
      }
      if (result.done) {
        this.#ended = true;
        break;
      }
      const value = result.value;
      if (!(value instanceof Uint8Array)) {
        await this.close();
        throw new CofferError('EINVAL', `the source yielded ${describe(value)}, not a Uint8Array`);
      }
      if (value.length > 0) {
        this.#piece = value;
        this.#offset = 0;
        return true;
      }
    }
    return false;
  }

  get #available(): number {
    return this.#piece.length - this.#offset;
  }

  /**
   * The next chunk of up to `n` bytes and whether the input ends right after it (fewer than `n` bytes
   * only at the end). `bytes` is valid until the next call: a view of a source piece when that piece
   * holds more than `n` bytes, else a reused buffer. The bytes are always taken out of the source's
   * piece *before* the reader pulls the piece after it, so a source that refills one buffer for each
   * piece cannot change a chunk under the caller.
   */
  async readChunk(n: number): Promise<{ bytes: Uint8Array; last: boolean }> {
    if (this.#available === 0 && !(await this.#pull())) return { bytes: EMPTY, last: true };
    if (this.#available > n) {
      const bytes = this.#piece.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
      this.consumed += n;
      return { bytes, last: false };
    }
    if (this.#scratch.length < n) {
      this.#scratch.fill(0);
      this.#scratch = new Uint8Array(n);
    }
    let filled = 0;
    while (filled < n) {
      if (this.#available === 0 && !(await this.#pull())) break;
      const take = Math.min(n - filled, this.#available);
      this.#scratch.set(this.#piece.subarray(this.#offset, this.#offset + take), filled);
      this.#offset += take;
      filled += take;
    }
    this.consumed += filled;
    const last = filled < n || (this.#available === 0 && !(await this.#pull()));
    return { bytes: this.#scratch.subarray(0, filled), last };
  }

  /** `n` bytes (fewer only at the end of the input) in a new array the caller owns. */
  async readCopy(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#available === 0 && !(await this.#pull())) break;
      const take = Math.min(n - filled, this.#available);
      out.set(this.#piece.subarray(this.#offset, this.#offset + take), filled);
      this.#offset += take;
      filled += take;
    }
    this.consumed += filled;
    return filled === n ? out : out.slice(0, filled);
  }

  /** Everything left, in one new array; `tooBig()` is thrown as soon as more than `max` bytes remain. */
  async readRest(max: number, tooBig: () => Error): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    while (this.#available > 0 || (await this.#pull())) {
      const part = this.#piece.subarray(this.#offset);
      total += part.length;
      if (total > max) {
        await this.close();
        throw tooBig();
      }
      parts.push(part.slice()); // copied: the source may refill its buffer for the next piece
      this.#offset = this.#piece.length;
    }
    this.consumed += total;
    const out = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  /** The rest of the input as it comes, piece by piece (copies, which the consumer may keep). */
  async *rest(): AsyncGenerator<Uint8Array> {
    while (this.#available > 0 || (await this.#pull())) {
      const part = this.#piece.slice(this.#offset);
      this.#offset = this.#piece.length;
      this.consumed += part.length;
      yield part;
    }
  }

  /** Clears the reused buffer (it may have held plaintext). */
  wipe(): void {
    this.#scratch.fill(0);
  }

  /** Stops reading: closes the source iterator (a Readable is destroyed) unless it already ended. */
  async close(): Promise<void> {
    this.wipe();
    this.#piece = EMPTY;
    this.#offset = 0;
    if (this.#ended) return;
    this.#ended = true;
    try {
      await this.#iterator?.return?.();
    } catch {
      // closing is best effort: the caller is already finishing with its own result or error
    }
  }
}
