// One loaded PKCS#11 module (a vendor .so/.dll) per path, shared by every token user in the process.
// A Cryptoki library may be C_Initialize'd once per process, and its login state is per application
// and token (PKCS#11 v2.40 §5.6), so users are reference-counted: the first acquire loads and
// initialises, the last release C_Finalize's and unloads. Every call into the module runs through one
// promise queue, because a session runs one operation at a time and not every vendor library is
// thread-safe when pkcs11js moves long calls to its worker threads.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute } from 'node:path';
import { CofferError } from '../../errors.js';
import type { Pkcs11Binding, Pkcs11Lib } from './binding.js';
import { ckrName } from './ckr.js';
import { CKF_OS_LOCKING_OK } from './constants.js';

export type { Handle, Pkcs11Binding, Pkcs11Lib } from './binding.js';

/** The pkcs11js version scripts/addons.sh installs (package.json's optional peer range allows ^2.1). */
export const PKCS11JS_PACKAGE = 'pkcs11js@2.1.7';

let binding: Pkcs11Binding | undefined;

/**
 * Loads the pkcs11js native addon on first use. It is an optional peer dependency (a plain
 * `npm install` of Coffer compiles nothing), so a process that never touches a PKCS#11 token never
 * needs it, and one that does gets EUNAVAIL saying how to install it.
 */
export function loadBinding(): Pkcs11Binding {
  if (binding !== undefined) return binding;
  try {
    binding = createRequire(import.meta.url)('pkcs11js') as Pkcs11Binding;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reason =
      code === 'MODULE_NOT_FOUND'
        ? 'is not installed'
        : `does not load (${code === 'ERR_DLOPEN_FAILED' ? (error as Error).message.split('\n')[0] : String(code)})`;
    throw new CofferError(
      'EUNAVAIL',
      `PKCS#11: the pkcs11js addon ${reason}; it is needed only for the pkcs11 protector and HSM-resident ` +
        `keys: install it with \`npm install ${PKCS11JS_PACKAGE}\` (in a Coffer checkout: bash scripts/addons.sh)`,
      { cause: error },
    );
  }
  return binding;
}

export class Pkcs11Module {
  /** Canonical path of the library: the registry key. */
  readonly path: string;
  readonly lib: Pkcs11Lib;
  #users = 0;
  #queue: Promise<unknown> = Promise.resolve();
  /** Per-token PIN verifiers (see recordLogin), keyed by token serial; cleared with the last session. */
  readonly #pinVerifiers = new Map<string, { verifier: Buffer; sessions: number }>();
  readonly #pinKey = randomBytes(32);

  private constructor(path: string, lib: Pkcs11Lib) {
    this.path = path;
    this.lib = lib;
  }

  /** @internal Used by acquireModule only. */
  static _load(path: string): Pkcs11Module {
    const pkcs11 = loadBinding();
    const lib = new pkcs11.PKCS11();
    try {
      lib.load(path);
    } catch (error) {
      throw new CofferError('EUNAVAIL', `PKCS#11: cannot load module ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      // OS locking lets the library protect itself when pkcs11js runs a call on a worker thread;
      // a library that cannot lock says CKR_CANT_LOCK and gets the plain initialisation (the queue
      // below still keeps our own calls one at a time).
      try {
        lib.C_Initialize({ flags: CKF_OS_LOCKING_OK });
      } catch (error) {
        if (ckrName(error) !== 'CKR_CANT_LOCK') throw error;
        lib.C_Initialize();
      }
    } catch (error) {
      lib.close();
      const name = ckrName(error) ?? (error as Error).message;
      // ALREADY_INITIALIZED means other code in this process owns the library: sharing it would let
      // either side finalise it under the other, so refuse instead.
      throw new CofferError('EUNAVAIL', `PKCS#11: cannot initialise module ${path} (${name})`, {
        cause: error,
      });
    }
    return new Pkcs11Module(path, lib);
  }

  get users(): number {
    return this.#users;
  }

  /** @internal */
  _retain(): void {
    this.#users++;
  }

  /** @internal Returns true when this was the last user and the module must be finalised. */
  _drop(): boolean {
    this.#users--;
    return this.#users === 0;
  }

  /** Runs `fn` after every call queued before it, so module calls never overlap. */
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.#queue.then(fn);
    this.#queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves once every queued call has finished. */
  async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.#queue;
      await seen;
    } while (seen !== this.#queue);
  }

  /**
   * Login state is shared by every session of this process on one token, so a second C_Login answers
   * CKR_USER_ALREADY_LOGGED_IN whatever PIN it carries. To keep a wrong PIN from riding on someone
   * else's login, a successful C_Login records an HMAC of its PIN under a per-process random key, and
   * a later login that finds the token already logged in must present the same PIN.
   * 'ok' registers the session (pair with sessionClosed); 'unverified' means the login was made
   * outside Coffer's bookkeeping and cannot be checked; 'mismatch' means the PIN differs.
   */
  recordLogin(serial: string, pin: string, freshLogin: boolean): 'ok' | 'mismatch' | 'unverified' {
    const verifier = createHmac('sha256', this.#pinKey).update(serial).update('\0').update(pin).digest();
    const record = this.#pinVerifiers.get(serial);
    if (freshLogin) {
      // A fresh login while a record exists means the token dropped its login state (removed and
      // reinserted): the new PIN is the one the token just accepted.
      this.#pinVerifiers.set(serial, { verifier, sessions: (record?.sessions ?? 0) + 1 });
      return 'ok';
    }
    if (record === undefined) return 'unverified';
    if (!timingSafeEqual(record.verifier, verifier)) return 'mismatch';
    record.sessions++;
    return 'ok';
  }

  /** A session that recordLogin answered 'ok' for has closed; the last one on a token logs the token out (§5.6). */
  sessionClosed(serial: string): void {
    const record = this.#pinVerifiers.get(serial);
    if (record === undefined) return;
    record.sessions--;
    if (record.sessions <= 0) this.#pinVerifiers.delete(serial);
  }
}

const modules = new Map<string, Pkcs11Module>();

/** Canonicalises and checks a module path: absolute (no dlopen search path), an existing file. */
export function resolveModulePath(path: string): string {
  if (typeof path !== 'string' || path.length === 0 || !isAbsolute(path)) {
    throw new CofferError('EINVAL', 'PKCS#11: module must be an absolute path to the vendor library');
  }
  let real: string;
  try {
    real = realpathSync(path);
  } catch (error) {
    throw new CofferError('EUNAVAIL', `PKCS#11: module not found at ${path}`, { cause: error });
  }
  if (!statSync(real).isFile()) {
    throw new CofferError('EUNAVAIL', `PKCS#11: module path ${path} is not a file`);
  }
  return real;
}

/** Loads (first user) or reuses the module at `path`; pair every call with releaseModule. */
export function acquireModule(path: string): Pkcs11Module {
  const real = resolveModulePath(path);
  let module = modules.get(real);
  if (module === undefined) {
    module = Pkcs11Module._load(real);
    modules.set(real, module);
  }
  module._retain();
  return module;
}

/** Drops one user; the last one waits for queued calls, then C_Finalize's and unloads the library. */
export async function releaseModule(module: Pkcs11Module): Promise<void> {
  if (!module._drop()) return;
  await module.idle();
  // A new user may have acquired the module while we waited; it stays loaded for them.
  if (module.users > 0 || modules.get(module.path) !== module) return;
  modules.delete(module.path);
  try {
    module.lib.C_Finalize();
  } finally {
    module.lib.close();
  }
}

/** Paths of modules currently loaded, for tests proving the last user finalises. */
export function _loadedModules(): string[] {
  return [...modules.keys()];
}
