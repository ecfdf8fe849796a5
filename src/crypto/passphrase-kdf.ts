// Passphrase KDFs (DESIGN §2): Argon2id (the default), scrypt and PBKDF2-HMAC-SHA256 behind one policy.
// Parameters below the OWASP Password Storage Cheat Sheet floors are refused because they make offline
// guessing cheap; parameters above a denial-of-service ceiling are refused because they arrive from
// stored records too, and a tampered record must not make an unlock burn 100 GiB or an hour of CPU.
// Native node:crypto first (Argon2 needs Node ≥ 24.7), @noble/hashes otherwise; results are identical.
import { CofferError } from '../errors.js';
import { assertBytes, assertInteger, utf8, wipe } from './bytes.js';
import { nativeSupport } from './features.js';
import {
  _argon2idNative,
  _argon2idNativeAsync,
  _argon2idNoble,
  _argon2idNobleAsync,
  _pbkdf2Sha256Native,
  _pbkdf2Sha256NativeAsync,
  _pbkdf2Sha256Noble,
  _pbkdf2Sha256NobleAsync,
  _scryptNative,
  _scryptNativeAsync,
  _scryptNoble,
  _scryptNobleAsync,
} from './passphrase-kdf-engines.js';

export type PassphraseKdfAlgorithm = 'argon2id' | 'scrypt' | 'pbkdf2-sha256';
export const PASSPHRASE_KDF_ALGORITHMS: readonly PassphraseKdfAlgorithm[] = [
  'argon2id',
  'scrypt',
  'pbkdf2-sha256',
];

export interface Argon2idOptions {
  /** Memory cost m in KiB (RFC 9106). */
  memoryKiB: number;
  /** Passes t over memory. */
  iterations: number;
  /** Lanes p. */
  parallelism: number;
}
export interface ScryptOptions {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelisation. */
  p: number;
}
export interface Pbkdf2Options {
  iterations: number;
}

/** The tagged form stored in keyslot records (SPEC: passphrase keyslot state). */
export type PassphraseKdfParams =
  | ({ alg: 'argon2id' } & Argon2idOptions)
  | ({ alg: 'scrypt' } & ScryptOptions)
  | ({ alg: 'pbkdf2-sha256' } & Pbkdf2Options);

/** A passphrase: a string (NFC-normalised, then UTF-8) or raw bytes (used exactly as given). */
export type Passphrase = string | Uint8Array;

const range = (min: number, max: number) => Object.freeze({ min, max });

/**
 * Floors: OWASP Password Storage Cheat Sheet minimums (Argon2id m=19 MiB t=2 p=1; scrypt N=2^17 r=8
 * p=1; PBKDF2-HMAC-SHA256 600 000). Ceilings (our choice): at most 2 GiB of memory for Argon2id and
 * scrypt (128·N·r bytes), at most 20 Argon2 passes, 16 lanes / scrypt p, and 10 000 000 PBKDF2
 * iterations: each is seconds to tens of seconds on one core, never minutes of swap. Salts and
 * outputs are 16–64 bytes; passwords 1–1024 bytes after encoding.
 */
export const PASSPHRASE_KDF_LIMITS = Object.freeze({
  argon2id: Object.freeze({
    memoryKiB: range(19_456, 2_097_152),
    iterations: range(2, 20),
    parallelism: range(1, 16),
  }),
  scrypt: Object.freeze({
    N: range(2 ** 17, 2 ** 21),
    r: range(8, 128),
    p: range(1, 16),
    maxMemoryBytes: 2 ** 31,
  }),
  'pbkdf2-sha256': Object.freeze({ iterations: range(600_000, 10_000_000) }),
  saltBytes: range(16, 64),
  outputBytes: range(16, 64),
  passwordBytes: range(1, 1024),
});

/** Argon2id with 64 MiB, 3 passes, 1 lane: above OWASP's floor, under a second natively. */
export const DEFAULT_PASSPHRASE_KDF: Readonly<PassphraseKdfParams> = Object.freeze({
  alg: 'argon2id',
  memoryKiB: 65_536,
  iterations: 3,
  parallelism: 1,
});

const FIELDS: Readonly<Record<PassphraseKdfAlgorithm, readonly string[]>> = Object.freeze({
  argon2id: ['memoryKiB', 'iterations', 'parallelism'],
  scrypt: ['N', 'r', 'p'],
  'pbkdf2-sha256': ['iterations'],
});

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** bytes.assertInteger against one PASSPHRASE_KDF_LIMITS range, returning the value for the copy. */
function checkInteger(name: string, value: unknown, { min, max }: { min: number; max: number }): number {
  assertInteger(name, value, min, max);
  return value;
}

/** Checks the cost fields of one algorithm (exactly those keys) and returns a frozen copy. */
function parseCost(alg: PassphraseKdfAlgorithm, options: unknown): PassphraseKdfParams {
  if (!isPlainObject(options)) throw new CofferError('EINVAL', `${alg} options must be an object`);
  const allowed = FIELDS[alg];
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new CofferError('EINVAL', `${alg} options: unknown field "${key}"`);
  }
  if (alg === 'argon2id') {
    const l = PASSPHRASE_KDF_LIMITS.argon2id;
    return Object.freeze({
      alg,
      memoryKiB: checkInteger('argon2id memoryKiB', options.memoryKiB, l.memoryKiB),
      iterations: checkInteger('argon2id iterations', options.iterations, l.iterations),
      parallelism: checkInteger('argon2id parallelism', options.parallelism, l.parallelism),
    });
  }
  if (alg === 'scrypt') {
    const l = PASSPHRASE_KDF_LIMITS.scrypt;
    const N = checkInteger('scrypt N', options.N, l.N);
    if ((N & (N - 1)) !== 0) throw new CofferError('EINVAL', 'scrypt N must be a power of two');
    const r = checkInteger('scrypt r', options.r, l.r);
    const p = checkInteger('scrypt p', options.p, l.p);
    if (128 * N * r > l.maxMemoryBytes) {
      throw new CofferError('EINVAL', `scrypt memory 128·N·r must be at most ${l.maxMemoryBytes} bytes`);
    }
    return Object.freeze({ alg, N, r, p });
  }
  const l = PASSPHRASE_KDF_LIMITS['pbkdf2-sha256'];
  return Object.freeze({
    alg,
    iterations: checkInteger('pbkdf2-sha256 iterations', options.iterations, l.iterations),
  });
}

/**
 * Validates KDF parameters from any source (caller options or a stored record) and returns a frozen
 * copy: known algorithm, exactly its fields, integers within the floors and ceilings → else EINVAL.
 */
export function parsePassphraseKdfParams(value: unknown): PassphraseKdfParams {
  if (!isPlainObject(value)) throw new CofferError('EINVAL', 'kdf parameters must be an object');
  const { alg, ...cost } = value;
  if (typeof alg !== 'string' || !(PASSPHRASE_KDF_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new CofferError('EINVAL', `kdf alg must be one of ${PASSPHRASE_KDF_ALGORITHMS.join(', ')}`);
  }
  return parseCost(alg as PassphraseKdfAlgorithm, cost);
}

function checkSaltAndLength(salt: unknown, length: unknown): asserts salt is Uint8Array {
  const s = PASSPHRASE_KDF_LIMITS.saltBytes;
  assertBytes('salt', salt);
  if (salt.length < s.min || salt.length > s.max) {
    throw new CofferError('EINVAL', `salt must be ${s.min} to ${s.max} bytes, got ${salt.length}`);
  }
  checkInteger('output length', length, PASSPHRASE_KDF_LIMITS.outputBytes);
}

// With the u flag a well-formed surrogate pair is one code point, so this matches lone halves only.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Encodes the passphrase: strings are NFC-normalised (so "é" typed precomposed or decomposed is the
 * same passphrase, as RFC 8265's OpaqueString profile does) and UTF-8 encoded; bytes are used as
 * given. `owned` says whether the bytes are ours to wipe.
 */
function passwordBytes(password: unknown): { bytes: Uint8Array; owned: boolean } {
  const l = PASSPHRASE_KDF_LIMITS.passwordBytes;
  let bytes: Uint8Array;
  let owned: boolean;
  if (typeof password === 'string') {
    // A lone surrogate would be encoded as U+FFFD, silently merging different passphrases.
    if (LONE_SURROGATE.test(password)) {
      throw new CofferError('EINVAL', 'passphrase string is not well-formed Unicode (lone surrogate)');
    }
    bytes = utf8.encode(password.normalize('NFC'));
    owned = true;
  } else if (password instanceof Uint8Array) {
    bytes = password;
    owned = false;
  } else {
    throw new CofferError('EINVAL', 'passphrase must be a string or a Uint8Array');
  }
  if (bytes.length < l.min || bytes.length > l.max) {
    if (owned) wipe(bytes);
    throw new CofferError('EINVAL', `passphrase must be ${l.min} to ${l.max} bytes once encoded`);
  }
  return { bytes, owned };
}

/**
 * Throws EINVAL unless `password` is an acceptable passphrase (the same checks derivation applies), so
 * callers such as protectors can refuse a bad passphrase before drawing salts or doing other work.
 */
export function assertPassphrase(password: unknown): asserts password is Passphrase {
  const pw = passwordBytes(password);
  if (pw.owned) wipe(pw.bytes);
}

/** One engine pair per algorithm, picked once: native node:crypto when this Node has it, else noble. */
const ENGINES = {
  argon2id: nativeSupport.argon2
    ? { sync: _argon2idNative, async: _argon2idNativeAsync }
    : { sync: _argon2idNoble, async: _argon2idNobleAsync },
  scrypt: nativeSupport.scrypt
    ? { sync: _scryptNative, async: _scryptNativeAsync }
    : { sync: _scryptNoble, async: _scryptNobleAsync },
  'pbkdf2-sha256': nativeSupport.pbkdf2
    ? { sync: _pbkdf2Sha256Native, async: _pbkdf2Sha256NativeAsync }
    : { sync: _pbkdf2Sha256Noble, async: _pbkdf2Sha256NobleAsync },
} as const;

/** One derivation with its inputs bound, ready to run either way. */
interface Job {
  sync(): Uint8Array;
  async(): Promise<Uint8Array>;
}

function bind<I>(engine: { sync(i: I): Uint8Array; async(i: I): Promise<Uint8Array> }, input: I): Job {
  return { sync: () => engine.sync(input), async: () => engine.async(input) };
}

function job(params: PassphraseKdfParams, password: Uint8Array, salt: Uint8Array, length: number): Job {
  switch (params.alg) {
    case 'argon2id': {
      const { memoryKiB, iterations, parallelism } = params;
      return bind(ENGINES.argon2id, { password, salt, length, memoryKiB, iterations, parallelism });
    }
    case 'scrypt':
      return bind(ENGINES.scrypt, { password, salt, length, N: params.N, r: params.r, p: params.p });
    case 'pbkdf2-sha256':
      return bind(ENGINES['pbkdf2-sha256'], { password, salt, length, iterations: params.iterations });
  }
}

/**
 * Derives `length` bytes (16–64, default 32) from a passphrase with the given tagged parameters.
 * Every argument is validated before any work; bad input → EINVAL. Synchronous: it blocks the thread
 * for the whole derivation (use derivePassphraseKeyAsync on a server's event loop).
 */
export function derivePassphraseKey(
  params: PassphraseKdfParams,
  password: Passphrase,
  salt: Uint8Array,
  length = 32,
): Uint8Array {
  const checked = parsePassphraseKdfParams(params);
  checkSaltAndLength(salt, length);
  const pw = passwordBytes(password);
  try {
    return job(checked, pw.bytes, salt, length).sync();
  } finally {
    if (pw.owned) wipe(pw.bytes);
  }
}

/**
 * Same result as derivePassphraseKey, without blocking the event loop: native derivations run on
 * libuv's thread pool; the pure-JS Argon2id fallback runs in a worker thread (argon2-thread.ts), and
 * the pure-JS scrypt / PBKDF2 fallbacks (never used on Node ≥ 20) yield to the loop every few ms.
 */
export async function derivePassphraseKeyAsync(
  params: PassphraseKdfParams,
  password: Passphrase,
  salt: Uint8Array,
  length = 32,
): Promise<Uint8Array> {
  const checked = parsePassphraseKdfParams(params);
  checkSaltAndLength(salt, length);
  const pw = passwordBytes(password);
  // The native job reads the password from another thread, so the copy is wiped only once it settles.
  try {
    return await job(checked, pw.bytes, salt, length).async();
  } finally {
    if (pw.owned) wipe(pw.bytes);
  }
}

/** Argon2id (RFC 9106) within PASSPHRASE_KDF_LIMITS. */
export function argon2id(
  password: Passphrase,
  salt: Uint8Array,
  options: Argon2idOptions,
  length: number,
): Uint8Array {
  return derivePassphraseKey(parseCost('argon2id', options), password, salt, length);
}

/** scrypt (RFC 7914) within PASSPHRASE_KDF_LIMITS. */
export function scrypt(
  password: Passphrase,
  salt: Uint8Array,
  options: ScryptOptions,
  length: number,
): Uint8Array {
  return derivePassphraseKey(parseCost('scrypt', options), password, salt, length);
}

/** PBKDF2-HMAC-SHA256 (RFC 8018) within PASSPHRASE_KDF_LIMITS. */
export function pbkdf2Sha256(
  password: Passphrase,
  salt: Uint8Array,
  options: Pbkdf2Options,
  length: number,
): Uint8Array {
  return derivePassphraseKey(parseCost('pbkdf2-sha256', options), password, salt, length);
}
