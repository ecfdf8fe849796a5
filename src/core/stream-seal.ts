// Sealed streams on the keystore (SPEC §6.2): sealStream, unsealStream and rewrapStream, and
// sealStreamToPublicKey for senders without a keystore. The awaited call does everything that can fail
// before output (arguments, key, use and state, the header); the result is a pull-driven async iterable
// that re-checks the key's state before every chunk and wipes its data key when it ends, fails or is
// abandoned. Same state rules, usage counting and audit as one-shot seal/unseal (operations.ts).
import { concatBytes, wipe } from '../crypto/bytes.js';
import { systemRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { assertByteSource, ByteReader, type ByteSource } from '../format/byte-reader.js';
import { parseSealedHeader } from '../format/sealed.js';
import {
  chunkExponentOf,
  DATA_KEY_LENGTH,
  parseStreamHeader,
  STREAM_PREFIX_LENGTH,
  type StreamHeader,
  sealedShape,
  streamHeaderLengthOf,
  streamPlaintextLength,
} from '../format/sealed-stream.js';
import { keyIdBytes } from './ids.js';
import { effectiveKey, processVersion, protectVersion } from './lifecycle.js';
import { assertKeyId } from './names.js';
import { assertAad, sealedAlgorithm, unsealBlob } from './operations.js';
import type { Session } from './session.js';
import {
  type BeforeChunk,
  chunkCipherOf,
  openChunks,
  sealChunks,
  unwrapStreamKey,
  type WrapTarget,
  wrapStreamHeader,
} from './stream-cipher.js';
import { type KeyInfo, LIMITS } from './types.js';

export type { ByteSource } from '../format/byte-reader.js';

export interface SealStreamOptions {
  aad?: Uint8Array | string;
  /** Bytes per chunk: a power of two from 64 B to 16 MiB (default 64 KiB). */
  chunkSize?: number;
}

export interface UnsealStreamOptions {
  aad?: Uint8Array | string;
}

const MiB = 1024 * 1024;
/** The one-shot bound on a sealed blob (SPEC §6: 16 MiB of plaintext + header, nonce and tag). */
const ONE_SHOT_SEALED_MAX = LIMITS.sealPayloadBytes + 4096;

/**
 * What the stream operations return: an async iterable of byte pieces, iterated once, pull-driven.
 * `return()` (a `break` out of `for await`) stops reading, closes the source and wipes the data key,
 * also when no piece was ever pulled.
 */
export class ByteStream implements AsyncIterableIterator<Uint8Array> {
  /** The key the stream belongs to. */
  readonly keyId: string;
  /** The key version that sealed (or, for unsealStream, had sealed) the data. */
  readonly version: number;
  readonly #inner: AsyncGenerator<Uint8Array>;
  readonly #cleanup: () => Promise<void>;
  #started = false;

  constructor(
    keyId: string,
    version: number,
    inner: AsyncGenerator<Uint8Array>,
    cleanup: () => Promise<void>,
  ) {
    this.keyId = keyId;
    this.version = version;
    this.#inner = inner;
    this.#cleanup = cleanup;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    this.#started = true;
    return this.#inner.next();
  }

  /** A generator that never started runs no `finally`: the cleanup is called here instead. */
  async return(): Promise<IteratorResult<Uint8Array>> {
    if (!this.#started) {
      this.#started = true;
      await this.#cleanup();
    }
    return this.#inner.return(undefined);
  }

  async throw(error?: unknown): Promise<IteratorResult<Uint8Array>> {
    if (!this.#started) {
      this.#started = true;
      await this.#cleanup();
    }
    return this.#inner.throw(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** Runs `fn` at most once; later calls get the first call's promise. */
function once(fn: () => Promise<void> | void): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= Promise.resolve().then(fn);
    return done;
  };
}

/** The stream over `reader` after `first` (the header), with `cleanup` run however it ends. */
function streamOf(
  keyId: string,
  version: number,
  first: Uint8Array | undefined,
  body: () => AsyncGenerator<Uint8Array>,
  cleanup: () => Promise<void>,
): ByteStream {
  async function* run(): AsyncGenerator<Uint8Array> {
    try {
      if (first) yield first;
      yield* body();
    } finally {
      await cleanup();
    }
  }
  return new ByteStream(keyId, version, run(), cleanup);
}

/** Seal-side re-check before each chunk (SPEC §6.2.2): still active, version not revoked or destroyed. */
async function stillSealing(s: Session, id: string, version: number): Promise<void> {
  const { info } = await s.loadKey(id); // ELOCKED once the keystore is locked or closed
  const key = effectiveKey(info, s.now());
  const found = key.versions.find((v) => v.version === version);
  const revoked = [key.state, found?.state].find((state) => state === 'compromised' || state === 'destroyed');
  if (revoked || !found)
    throw new CofferError(
      'EKEYREVOKED',
      `key ${id} (version ${version}) was ${revoked ?? 'destroyed'} during the stream`,
    );
  if (key.state !== 'active')
    throw new CofferError(
      'ESTATE',
      `key ${id} became ${key.state} during the stream: sealing needs an active key`,
    );
}

/** Unseal-side re-check before each chunk: the process-operation rules of SPEC §2, as at the start. */
async function stillUnsealing(s: Session, id: string, version: number): Promise<void> {
  const { info } = await s.loadKey(id);
  processVersion(info, 'unseal', version, s.now());
}

/** Where a version's new header wraps its data key: the secret, or (x-wing) the public key. */
async function wrapTargetFor(s: Session, info: KeyInfo, version: number): Promise<WrapTarget> {
  const algorithm = sealedAlgorithm(info);
  const keyId = keyIdBytes(info.id);
  if (algorithm === 'x-wing') {
    const publicKey = await s.publicKey(info, version);
    // An explicit eseed forces the (slower) deterministic ML-KEM path: only test mode needs it.
    return {
      algorithm,
      keyId,
      version,
      publicKey,
      ...(s.rng.insecure ? { eseed: s.rng.randomBytes(64) } : {}),
    };
  }
  return { algorithm, keyId, version, secret: await s.secret(info, version) };
}

function newSealStream(
  keyId: string,
  target: WrapTarget,
  source: ByteSource,
  aad: Uint8Array,
  chunkExponent: number,
  randomBytes: (n: number) => Uint8Array,
  beforeChunk: BeforeChunk,
): ByteStream {
  const dek = randomBytes(DATA_KEY_LENGTH);
  let header: Uint8Array;
  try {
    header = wrapStreamHeader(target, dek, chunkExponent, aad, randomBytes);
  } catch (error) {
    wipe(dek);
    throw error;
  }
  const reader = new ByteReader(source);
  const cleanup = once(async () => {
    wipe(dek);
    await reader.close();
  });
  return streamOf(
    keyId,
    target.version,
    header,
    () => sealChunks(reader, chunkCipherOf(target.algorithm), dek, chunkExponent, beforeChunk),
    cleanup,
  );
}

/** SPEC §6.2: seals `source` under the key's primary version, in constant memory. */
export async function sealStream(
  s: Session,
  id: string,
  source: unknown,
  options: SealStreamOptions = {},
): Promise<ByteStream> {
  assertByteSource('source', source);
  const aad = assertAad(options.aad);
  const chunkExponent = chunkExponentOf(options.chunkSize);
  const { info } = await s.loadKey(id);
  sealedAlgorithm(info); // EPERM for keys that cannot seal, before the state rules
  const v = protectVersion(info, 'seal', s.now());
  // SPEC §4.5: a use is counted only while the key's use count is known (one read per key and process).
  const admitted = s.usage.admit(id);
  if (admitted) await admitted;
  const target = await wrapTargetFor(s, info, v.version);
  const stream = newSealStream(
    id,
    target,
    source,
    aad,
    chunkExponent,
    (n) => s.rng.randomBytes(n),
    () => stillSealing(s, id, v.version),
  );
  s.usage.count(id, v.version);
  s.auditOperation('op.seal-stream', id, v.version);
  return stream;
}

/**
 * SPEC §6.2 kind 0x04 without a keystore: anyone holding an X-Wing public key (e.g. from a §6.1
 * public-key string) seals a stream that only the key's holder opens.
 */
export async function sealStreamToPublicKey(
  target: { keyId: string; version: number; publicKey: Uint8Array },
  source: unknown,
  options: SealStreamOptions = {},
): Promise<ByteStream> {
  if (typeof target !== 'object' || target === null)
    throw new CofferError('EINVAL', 'target must be { keyId, version, publicKey }');
  assertKeyId(target.keyId);
  assertByteSource('source', source);
  const aad = assertAad(options.aad);
  const chunkExponent = chunkExponentOf(options.chunkSize);
  const wrap: WrapTarget = {
    algorithm: 'x-wing',
    keyId: keyIdBytes(target.keyId),
    version: target.version,
    publicKey: target.publicKey,
  };
  return newSealStream(
    target.keyId,
    wrap,
    source,
    aad,
    chunkExponent,
    (n) => systemRng.randomBytes(n),
    undefined,
  );
}

type ReadHeader =
  | { shape: 'one-shot'; first: Uint8Array }
  | { shape: 'stream'; header: StreamHeader; headerBytes: Uint8Array };

/** Reads the header off the source (SPEC §6.2.2 step 1). */
async function readHeader(reader: ByteReader): Promise<ReadHeader> {
  const first = await reader.readCopy(STREAM_PREFIX_LENGTH);
  if (sealedShape(first) === 'one-shot') return { shape: 'one-shot', first };
  const length = streamHeaderLengthOf(first);
  const headerBytes = concatBytes(first, await reader.readCopy(length - first.length));
  return { shape: 'stream', ...parseStreamHeader(headerBytes) };
}

/** Compares public bytes (key ids). */
function samePublicBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** SPEC §6.2.2 steps 2–3: the key, the named version's state, then the data key (EBADMSG). */
async function openStreamKey(
  s: Session,
  id: string,
  header: StreamHeader,
  headerBytes: Uint8Array,
  aad: Uint8Array,
): Promise<{ dek: Uint8Array; version: number }> {
  if (!samePublicBytes(header.keyId, keyIdBytes(id)))
    throw new CofferError('EBADMSG', `the sealed stream was not made with key ${id}`);
  const { info } = await s.loadKey(id);
  if (sealedAlgorithm(info) !== header.algorithm)
    throw new CofferError('EBADMSG', `the sealed stream names another algorithm than key ${id}`);
  const v = processVersion(info, 'unseal', header.version, s.now());
  const dek = unwrapStreamKey(header, headerBytes, await s.secret(info, v.version), aad);
  return { dek, version: v.version };
}

/** A one-shot blob given to unsealStream (SPEC §6.2.4): read within the one-shot bound, opened whole. */
async function oneShotAsStream(
  s: Session,
  id: string,
  reader: ByteReader,
  first: Uint8Array,
  aad: Uint8Array,
): Promise<ByteStream> {
  const rest = await reader.readRest(
    ONE_SHOT_SEALED_MAX - first.length,
    () =>
      new CofferError(
        'E2BIG',
        `a one-shot sealed blob is at most ${LIMITS.sealPayloadBytes / MiB} MiB + 4 KiB (SPEC §6); this input is longer and not a stream`,
      ),
  );
  const blob = concatBytes(first, rest);
  const plaintext = await unsealBlob(s, id, blob, { aad });
  let handedOver = false;
  return streamOf(
    id,
    parseSealedHeader(blob).header.version,
    undefined,
    async function* () {
      handedOver = true;
      yield plaintext;
    },
    once(() => {
      if (!handedOver) wipe(plaintext);
    }),
  );
}

/** SPEC §6.2: opens a sealed stream (or a one-shot blob) in constant memory, chunk by chunk. */
/**
 * The frame both readers of a sealed stream share: the arguments checked, the header read off the
 * source, and the source closed if anything before the returned stream fails.
 */
async function fromSealedSource(
  id: string,
  source: unknown,
  options: UnsealStreamOptions,
  use: (reader: ByteReader, read: ReadHeader, aad: Uint8Array) => Promise<ByteStream>,
): Promise<ByteStream> {
  assertKeyId(id);
  assertByteSource('source', source);
  const aad = assertAad(options.aad);
  const reader = new ByteReader(source);
  try {
    return await use(reader, await readHeader(reader), aad);
  } catch (error) {
    await reader.close();
    throw error;
  }
}

export async function unsealStream(
  s: Session,
  id: string,
  source: unknown,
  options: UnsealStreamOptions = {},
): Promise<ByteStream> {
  return fromSealedSource(id, source, options, async (reader, read, aad) => {
    if (read.shape === 'one-shot') return oneShotAsStream(s, id, reader, read.first, aad);
    const { dek, version } = await openStreamKey(s, id, read.header, read.headerBytes, aad);
    s.auditOperation('op.unseal-stream', id, version);
    const cleanup = once(async () => {
      wipe(dek);
      await reader.close();
    });
    const exponent = read.header.chunkExponent;
    const cipher = chunkCipherOf(read.header.algorithm);
    return streamOf(
      id,
      version,
      undefined,
      () => openChunks(reader, cipher, dek, exponent, () => stillUnsealing(s, id, version)),
      cleanup,
    );
  });
}

/**
 * SPEC §6.2.3 "Rewrap": a new header for the primary version around the same data key, followed by the
 * body unchanged (not decrypted: unsealing it later verifies it). O(header) cryptographic work.
 */
export async function rewrapStream(
  s: Session,
  id: string,
  source: unknown,
  options: UnsealStreamOptions = {},
): Promise<ByteStream> {
  return fromSealedSource(id, source, options, async (reader, read, aad) => {
    if (read.shape === 'one-shot')
      throw new CofferError('EINVAL', 'this is a one-shot sealed blob: rewrap it with rewrap (SPEC §6.2.4)');
    const { dek } = await openStreamKey(s, id, read.header, read.headerBytes, aad);
    let header: Uint8Array;
    let version: number;
    try {
      const { info } = await s.loadKey(id);
      version = protectVersion(info, 'seal', s.now()).version;
      const admitted = s.usage.admit(id); // SPEC §4.5, as for seal
      if (admitted) await admitted;
      const target = await wrapTargetFor(s, info, version);
      header = wrapStreamHeader(target, dek, read.header.chunkExponent, aad, (n) => s.rng.randomBytes(n));
    } finally {
      wipe(dek);
    }
    s.usage.count(id, version);
    s.auditOperation('op.rewrap-stream', id, version);
    return streamOf(
      id,
      version,
      header,
      () => reader.rest(),
      once(() => reader.close()),
    );
  });
}

/**
 * One-shot `unseal` of a sealed stream (SPEC §6.2.4): all or nothing, within the one-shot bound,
 * which is checked from the lengths before any work.
 */
export async function unsealStreamInMemory(
  s: Session,
  id: string,
  sealed: Uint8Array,
  options: UnsealStreamOptions,
): Promise<Uint8Array> {
  const headerLength = streamHeaderLengthOf(sealed.subarray(0, STREAM_PREFIX_LENGTH));
  if (sealed.length < headerLength)
    throw new CofferError('EBADMSG', 'the sealed stream is truncated inside its header');
  const plainLength = streamPlaintextLength(sealed.length - headerLength, 2 ** sealed[23]!);
  if (plainLength > LIMITS.sealPayloadBytes)
    throw new CofferError(
      'E2BIG',
      `the sealed stream holds more than the one-shot unseal limit of ${LIMITS.sealPayloadBytes / MiB} MiB: open it as a stream (unsealStream, SPEC §6.2)`,
    );
  const out = new Uint8Array(plainLength);
  let at = 0;
  try {
    for await (const piece of await unsealStream(s, id, sealed, options)) {
      out.set(piece, at);
      at += piece.length;
      wipe(piece);
    }
  } catch (error) {
    wipe(out);
    throw error;
  }
  if (at !== plainLength) throw new CofferError('EINTERNAL', 'sealed stream length mismatch');
  return out;
}
