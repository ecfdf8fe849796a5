// Where the per-user agent listens (docs/cli.md "The agent"): a 0600 socket in a 0700 directory that
// belongs to this user — `$XDG_RUNTIME_DIR/coffer` (a per-user tmpfs on systemd machines), else
// `$TMPDIR/coffer-<uid>`. The socket's name is a hash of the store it serves, so one agent serves one
// store. Both sides check the directory before use: the agent before it listens, the CLI before it
// sends anything (a passphrase must never reach a socket another user could have put there).
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { CofferError } from '../../errors.js';
import type { Env } from '../config.js';

function uid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/** The directory for this user's agent sockets (not created). */
export function runtimeDir(env: Env): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg !== undefined && xdg !== '' && isAbsolute(xdg)) return join(xdg, 'coffer');
  return join(env.TMPDIR && isAbsolute(env.TMPDIR) ? env.TMPDIR : tmpdir(), `coffer-${uid() ?? 'user'}`);
}

/** Fails with EPERM unless `dir` is a real directory of this user that nobody else can enter. */
export function checkPrivateDir(dir: string): void {
  let info: ReturnType<typeof lstatSync>;
  try {
    info = lstatSync(dir);
  } catch (error) {
    throw new CofferError('ENOENT', `agent directory ${dir}: ${(error as NodeJS.ErrnoException).code}`);
  }
  if (!info.isDirectory())
    throw new CofferError('EPERM', `agent directory ${dir} is not a directory (a symlink?): remove it`);
  const me = uid();
  if (me !== undefined && info.uid !== me)
    throw new CofferError('EPERM', `agent directory ${dir} belongs to another user: refusing to use it`);
  if ((info.mode & 0o077) !== 0)
    throw new CofferError(
      'EPERM',
      `agent directory ${dir} is open to other users (mode ${(info.mode & 0o777).toString(8)}): chmod 700 ${dir}`,
    );
}

/** Creates the runtime directory 0700 when missing, then checks it. */
export function ensureRuntimeDir(env: Env): string {
  const dir = runtimeDir(env);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new CofferError(
        'EUNAVAIL',
        `cannot create the agent directory ${dir}: ${(error as NodeJS.ErrnoException).code}`,
      );
  }
  checkPrivateDir(dir);
  return dir;
}

/** The store as the agent identifies it: local paths made absolute, so `./ks.db` from anywhere matches. */
export function storeIdentity(store: string): string {
  const local = /^(sqlite|dir):(.*)$/.exec(store);
  return local ? `${local[1]}:${resolve(local[2]!)}` : store;
}

/** The socket of the agent for `store`. */
export function agentSocket(dir: string, store: string): string {
  const hash = createHash('sha256')
    .update(`coffer:agent:v1\0${storeIdentity(store)}`)
    .digest('hex');
  return join(dir, `agent-${hash.slice(0, 20)}.sock`);
}

/**
 * Checks a socket before talking to it: it must be a socket of this user, in a checked directory.
 * undefined when there is none (no agent).
 */
export function checkAgentSocket(path: string): 'socket' | undefined {
  let info: ReturnType<typeof lstatSync>;
  try {
    info = lstatSync(path);
  } catch {
    return undefined;
  }
  const me = uid();
  if (!info.isSocket()) throw new CofferError('EPERM', `${path} is not a socket: remove it`);
  if (me !== undefined && info.uid !== me)
    throw new CofferError('EPERM', `${path} belongs to another user: refusing to talk to it`);
  return 'socket';
}
