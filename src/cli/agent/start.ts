// Starting the per-user agent (docs/cli.md "The agent"): the CLI gathers the protector (prompting
// for the passphrase if need be), spawns `coffer agent run` detached, and hands it the store and the
// protector through a pipe on its stdin — never argv (visible in `ps`) nor the environment (readable in
// /proc for the process's life). The agent unlocks (the one KDF), listens, and answers one JSON line
// on its stdout: ready, or the error that stopped it (a wrong passphrase is ELOCKED as in direct
// mode). Secrets are removed from the environment the agent inherits.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CofferError, type ErrorCode, isErrorCode } from '../../errors.js';
import type { ProtectorConfig } from '../../protect/configs.js';
import type { Env, RollbackSettings } from '../config.js';

/** What the CLI hands the agent on its stdin (one JSON line). */
export interface AgentHandover {
  store: string;
  protector: ProtectorConfig;
  idleMs: number;
  actor: string;
  /** The rollback anchor, acceptance and upgrade (COFFER_ANCHOR… , SPEC §4.2): a pkcs11 anchor holds a PIN. */
  rollback?: RollbackSettings;
}

/** Variables holding secrets, never passed on to a long-lived process. */
const SECRET_VARIABLES = [
  'COFFER_PASSPHRASE',
  'COFFER_NEW_PASSPHRASE',
  'COFFER_BACKUP_PASSPHRASE',
  'COFFER_BIP39_PASSPHRASE',
  'COFFER_PKCS11_PIN',
  'COFFER_TOKEN',
  // Handed over on the pipe instead: a pkcs11 anchor's JSON holds the token PIN.
  'COFFER_ANCHOR',
  'COFFER_ACCEPT_ROLLBACK',
  'COFFER_UPGRADE',
];

/** Long enough for a pure-JS Argon2id on a loaded machine (≈14 s seen), with room to spare. */
const START_TIMEOUT_MS = 120_000;

export async function spawnAgent(env: Env, handover: AgentHandover): Promise<{ pid: number }> {
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  const childEnv = Object.fromEntries(
    Object.entries(env).filter(
      (e): e is [string, string] => e[1] !== undefined && !SECRET_VARIABLES.includes(e[0]),
    ),
  );
  const child = spawn(process.execPath, [main, 'agent', 'run'], {
    detached: true,
    stdio: ['pipe', 'pipe', 'ignore'],
    env: childEnv,
    cwd: '/',
  });
  child.stdin.on('error', () => {});
  child.stdin.end(`${JSON.stringify(handover)}\n`);
  const line = await new Promise<string>((done, fail) => {
    let text = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new CofferError('EUNAVAIL', `the agent did not start within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        done(text.slice(0, nl));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!text.includes('\n'))
        fail(new CofferError('EINTERNAL', `the agent exited (${code}) before it was ready`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(new CofferError('EUNAVAIL', `cannot start the agent: ${error.message}`));
    });
  });
  child.stdout.destroy();
  child.unref();
  let reply: { ok?: boolean; pid?: number; error?: { code?: unknown; message?: unknown } };
  try {
    reply = JSON.parse(line);
  } catch {
    throw new CofferError('EINTERNAL', 'the agent answered something that is not JSON');
  }
  if (reply.ok === true && typeof reply.pid === 'number') return { pid: reply.pid };
  const code: ErrorCode = isErrorCode(reply.error?.code) ? reply.error.code : 'EINTERNAL';
  throw new CofferError(
    code,
    typeof reply.error?.message === 'string' ? reply.error.message : 'the agent failed',
  );
}
