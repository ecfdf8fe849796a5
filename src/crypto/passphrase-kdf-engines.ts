// Raw passphrase-KDF engines: native node:crypto and pure-JS @noble/hashes, sync and async, with no
// policy bounds at all. Only passphrase-kdf.ts (which enforces the floors and ceilings first) and the
// tests call these; the `_` prefix marks them internal and the crypto namespace does not export them.
// Keeping both engines callable side by side is what lets the tests prove native == pure JS.
import * as nodeCrypto from 'node:crypto';
import { argon2id as nobleArgon2id } from '@noble/hashes/argon2.js';
import { pbkdf2 as noblePbkdf2, pbkdf2Async as noblePbkdf2Async } from '@noble/hashes/pbkdf2.js';
import { scrypt as nobleScrypt, scryptAsync as nobleScryptAsync } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CofferError } from '../errors.js';
import { argon2idInThread } from './argon2-thread.js';

export interface _Argon2idInput {
  password: Uint8Array;
  salt: Uint8Array;
  memoryKiB: number;
  iterations: number;
  parallelism: number;
  length: number;
  /** RFC 9106 K (secret value); only the RFC test vector uses it. */
  secret?: Uint8Array;
  /** RFC 9106 X (associated data); only the RFC test vector uses it. */
  associatedData?: Uint8Array;
}

export interface _ScryptInput {
  password: Uint8Array;
  salt: Uint8Array;
  N: number;
  r: number;
  p: number;
  length: number;
}

export interface _Pbkdf2Input {
  password: Uint8Array;
  salt: Uint8Array;
  iterations: number;
  length: number;
}

interface NativeArgon2Parameters {
  message: Uint8Array;
  nonce: Uint8Array;
  parallelism: number;
  tagLength: number;
  memory: number;
  passes: number;
  secret?: Uint8Array;
  associatedData?: Uint8Array;
}

// Node ≥ 24.7 only; @types/node for Node 20 does not declare it.
const nativeArgon2 = nodeCrypto as unknown as {
  argon2Sync?: (algorithm: 'argon2id', parameters: NativeArgon2Parameters) => Buffer;
  argon2?: (
    algorithm: 'argon2id',
    parameters: NativeArgon2Parameters,
    callback: (error: Error | null, result: Buffer) => void,
  ) => void;
};

/** Copies a native result out of its Buffer and clears the Buffer (it holds key material). */
function take(buffer: Buffer): Uint8Array {
  const out = new Uint8Array(buffer);
  buffer.fill(0);
  return out;
}

/**
 * Inputs were validated before we got here, so an engine failure is not the caller's fault: most
 * likely memory exhaustion at high cost settings. The message names the KDF only (no secrets).
 */
function failed(kdf: string, cause: unknown): CofferError {
  if (cause instanceof CofferError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new CofferError('EINTERNAL', `${kdf} derivation failed: ${detail}`, { cause });
}

/**
 * Runs a callback-style node:crypto job. Node throws synchronously on parameters it refuses; that
 * throw is caught too, so every engine failure reaches the caller as EINTERNAL, never a raw Node error.
 */
function nativeJob(
  kdf: string,
  start: (done: (error: Error | null, result: Buffer) => void) => void,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    try {
      start((error, result) => (error ? reject(failed(kdf, error)) : resolve(take(result))));
    } catch (error) {
      reject(failed(kdf, error));
    }
  });
}

function argon2Parameters(i: _Argon2idInput): NativeArgon2Parameters {
  return {
    message: i.password,
    nonce: i.salt,
    parallelism: i.parallelism,
    tagLength: i.length,
    memory: i.memoryKiB,
    passes: i.iterations,
    ...(i.secret === undefined ? {} : { secret: i.secret }),
    ...(i.associatedData === undefined ? {} : { associatedData: i.associatedData }),
  };
}

function nobleArgon2Options(i: _Argon2idInput) {
  return {
    m: i.memoryKiB,
    t: i.iterations,
    p: i.parallelism,
    dkLen: i.length,
    // noble refuses more than 1 GiB by default; our own ceiling (checked earlier) is the real bound.
    maxmem: i.memoryKiB * 1024,
    ...(i.secret === undefined ? {} : { key: i.secret }),
    ...(i.associatedData === undefined ? {} : { personalization: i.associatedData }),
  };
}

/**
 * Cost options in the shape both node:crypto and noble read. maxmem is what OpenSSL and noble allocate:
 * B (p·128·r) plus V (128·r·(N+2)), with slack; our own ceiling (checked earlier) is the real bound.
 */
function scryptOptions(i: _ScryptInput) {
  return { N: i.N, r: i.r, p: i.p, maxmem: 128 * i.r * (i.N + i.p + 2) + 4096 };
}

export function _argon2idNative(i: _Argon2idInput): Uint8Array {
  const run = nativeArgon2.argon2Sync;
  if (run === undefined) throw new CofferError('EUNAVAIL', 'this Node has no native Argon2 (needs ≥ 24.7)');
  try {
    return take(run('argon2id', argon2Parameters(i)));
  } catch (error) {
    throw failed('argon2id', error);
  }
}

export function _argon2idNativeAsync(i: _Argon2idInput): Promise<Uint8Array> {
  const run = nativeArgon2.argon2;
  if (run === undefined) {
    return Promise.reject(new CofferError('EUNAVAIL', 'this Node has no native Argon2 (needs ≥ 24.7)'));
  }
  return nativeJob('argon2id', (done) => run('argon2id', argon2Parameters(i), done));
}

export function _argon2idNoble(i: _Argon2idInput): Uint8Array {
  try {
    return nobleArgon2id(i.password, i.salt, nobleArgon2Options(i));
  } catch (error) {
    throw failed('argon2id', error);
  }
}

/** Runs in a worker thread (argon2-thread.ts), so the calling thread's event loop stays free. */
export async function _argon2idNobleAsync(i: _Argon2idInput): Promise<Uint8Array> {
  try {
    return await argon2idInThread({ password: i.password, salt: i.salt, options: nobleArgon2Options(i) });
  } catch (error) {
    throw failed('argon2id', error);
  }
}

export function _scryptNative(i: _ScryptInput): Uint8Array {
  try {
    return take(nodeCrypto.scryptSync(i.password, i.salt, i.length, scryptOptions(i)));
  } catch (error) {
    throw failed('scrypt', error);
  }
}

export function _scryptNativeAsync(i: _ScryptInput): Promise<Uint8Array> {
  return nativeJob('scrypt', (done) =>
    nodeCrypto.scrypt(i.password, i.salt, i.length, scryptOptions(i), done),
  );
}

export function _scryptNoble(i: _ScryptInput): Uint8Array {
  try {
    return nobleScrypt(i.password, i.salt, { ...scryptOptions(i), dkLen: i.length });
  } catch (error) {
    throw failed('scrypt', error);
  }
}

export async function _scryptNobleAsync(i: _ScryptInput): Promise<Uint8Array> {
  try {
    return await nobleScryptAsync(i.password, i.salt, { ...scryptOptions(i), dkLen: i.length });
  } catch (error) {
    throw failed('scrypt', error);
  }
}

export function _pbkdf2Sha256Native(i: _Pbkdf2Input): Uint8Array {
  try {
    return take(nodeCrypto.pbkdf2Sync(i.password, i.salt, i.iterations, i.length, 'sha256'));
  } catch (error) {
    throw failed('pbkdf2-sha256', error);
  }
}

export function _pbkdf2Sha256NativeAsync(i: _Pbkdf2Input): Promise<Uint8Array> {
  return nativeJob('pbkdf2-sha256', (done) =>
    nodeCrypto.pbkdf2(i.password, i.salt, i.iterations, i.length, 'sha256', done),
  );
}

export function _pbkdf2Sha256Noble(i: _Pbkdf2Input): Uint8Array {
  try {
    return noblePbkdf2(sha256, i.password, i.salt, { c: i.iterations, dkLen: i.length });
  } catch (error) {
    throw failed('pbkdf2-sha256', error);
  }
}

export async function _pbkdf2Sha256NobleAsync(i: _Pbkdf2Input): Promise<Uint8Array> {
  try {
    return await noblePbkdf2Async(sha256, i.password, i.salt, { c: i.iterations, dkLen: i.length });
  } catch (error) {
    throw failed('pbkdf2-sha256', error);
  }
}
