// Test fixture: a real software TPM 2.0 (swtpm, libtpms) on free loopback ports with its state in a
// temporary directory, so TPM tests exercise genuine TPM commands without touching a machine's TPM.
// Besides start/stop it can reboot the TPM (state kept, PCRs reset), clear it (TPM2_Clear: new owner
// seed), wipe it (state deleted: a factory-fresh, i.e. different, TPM), extend PCRs and list leftover
// handles. swtpm runs under a tiny sh watchdog that holds a pipe from this process: if the test process
// dies without running its hooks, the pipe closes and the watchdog stops swtpm, so nothing outlives us.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const STARTUP_TIMEOUT_MS = 10_000;
const TOOL_TIMEOUT_MS = 30_000;

// POSIX sh runs background jobs with stdin from /dev/null, so the watcher reads our pipe through fd 3.
// The script's positional parameters are swtpm's arguments: nothing is interpolated into the script.
const WATCHDOG = [
  'exec 3<&0',
  'swtpm "$@" </dev/null 3<&- &',
  'child=$!',
  '{ read -r _ <&3; kill -TERM "$child" 2>/dev/null; } &',
  'wait "$child"',
].join('\n');

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only synchronous work can run in an 'exit' handler: kill each group outright.
  process.on('exit', () => {
    for (const child of live) killGroup(child, 'SIGKILL');
  });
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port P with P and P+1 free on loopback (the swtpm TCTI expects the control channel on P+1). */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + 2 * Math.floor(Math.random() * 20_000);
    if ((await portFree(port)) && (await portFree(port + 1))) return port;
  }
  throw new Error('no free loopback port pair for swtpm');
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface TpmHandles {
  transient: string[];
  loadedSessions: string[];
  savedSessions: string[];
}

export interface Swtpm {
  /** TCTI for tpm2-tools and the tpm2 protector config. Stays the same across restart/clear/wipe. */
  readonly tcti: string;
  readonly port: number;
  readonly stateDir: string;
  /** Runs a tpm2-tools program against this TPM; resolves with stdout, rejects with stderr in the message. */
  tool(name: string, args: readonly string[], input?: Uint8Array): Promise<Buffer>;
  /** Extends a PCR (sha256 bank by default) with the digest of `data`, as a boot component would. */
  extendPcr(index: number, data?: string, bank?: 'sha1' | 'sha256' | 'sha384' | 'sha512'): Promise<void>;
  /** Transient objects and sessions currently held by the TPM. */
  handles(): Promise<TpmHandles>;
  /** Power cycle: stop and start on the same state (persistent seeds kept, PCRs back to zero). */
  restart(): Promise<void>;
  /** TPM2_Clear through the lockout hierarchy: a new owner seed, as "Clear TPM" in firmware does. */
  clear(): Promise<void>;
  /** Stops, deletes the state and starts again: a freshly manufactured TPM (every seed new). */
  wipe(): Promise<void>;
  /** Stops swtpm and removes the temporary directory (idempotent). */
  stop(): Promise<void>;
}

class SwtpmProcess implements Swtpm {
  readonly tcti: string;
  readonly stateDir: string;
  private child: ChildProcess | undefined;
  private stopped = false;

  constructor(
    readonly port: number,
    private readonly root: string,
  ) {
    this.tcti = `swtpm:host=127.0.0.1,port=${port}`;
    this.stateDir = join(root, 'state');
  }

  private logPath(): string {
    return join(this.root, 'swtpm.log');
  }

  /** Starts swtpm; resolves once it accepts connections, rejects (with its log) if it exits first. */
  async launch(): Promise<void> {
    installExitHook();
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    const args = [
      'socket',
      '--tpm2',
      '--server',
      `type=tcp,port=${this.port},bindaddr=127.0.0.1`,
      '--ctrl',
      `type=tcp,port=${this.port + 1},bindaddr=127.0.0.1`,
      '--tpmstate',
      `dir=${this.stateDir}`,
      '--flags',
      'not-need-init,startup-clear',
      '--log',
      `file=${this.logPath()},level=1`,
    ];
    const child = spawn('sh', ['-c', WATCHDOG, 'swtpm-watchdog', ...args], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    child.stdin?.on('error', () => {});
    this.child = child;
    const started = Date.now();
    while (Date.now() - started < STARTUP_TIMEOUT_MS) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if ((await canConnect(this.port + 1)) && (await canConnect(this.port))) return;
      await sleep(20);
    }
    await this.halt();
    let log = '';
    try {
      log = readFileSync(this.logPath(), 'utf8').slice(-2000);
    } catch {
      // No log written.
    }
    throw new Error(`swtpm did not start on port ${this.port}: ${log || 'no log output'}`);
  }

  /** Ends swtpm: closing the watchdog's pipe stops it; the group is killed if that takes too long. */
  private async halt(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin?.end();
      const term = setTimeout(() => killGroup(child, 'SIGTERM'), 2_000);
      const kill = setTimeout(() => killGroup(child, 'SIGKILL'), 4_000);
      await exited;
      clearTimeout(term);
      clearTimeout(kill);
    }
    // The watcher subshell exits right after swtpm; make sure no member of the group lingers.
    killGroup(child, 'SIGKILL');
    live.delete(child);
  }

  tool(name: string, args: readonly string[], input?: Uint8Array): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        name,
        args,
        {
          env: { ...process.env, TPM2TOOLS_TCTI: this.tcti, TSS2_LOG: 'all+error' },
          encoding: 'buffer',
          timeout: TOOL_TIMEOUT_MS,
          maxBuffer: 1 << 20,
        },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`${name} ${args.join(' ')} failed: ${stderr.toString('utf8').trim()}`));
          else resolve(stdout);
        },
      );
      child.stdin?.end(input === undefined ? undefined : Buffer.from(input));
    });
  }

  async extendPcr(
    index: number,
    data = 'coffer test boot component',
    bank: 'sha1' | 'sha256' | 'sha384' | 'sha512' = 'sha256',
  ) {
    const digest = createHash(bank).update(data).digest('hex');
    await this.tool('tpm2_pcrextend', [`${index}:${bank}=${digest}`]);
  }

  async handles(): Promise<TpmHandles> {
    const list = async (kind: string) =>
      (await this.tool('tpm2_getcap', [kind]))
        .toString('utf8')
        .split('\n')
        .map((line) => line.replace(/^\s*-\s*/, '').trim())
        .filter(Boolean);
    return {
      transient: await list('handles-transient'),
      loadedSessions: await list('handles-loaded-session'),
      savedSessions: await list('handles-saved-session'),
    };
  }

  async restart(): Promise<void> {
    await this.halt();
    await this.launch();
  }

  async clear(): Promise<void> {
    await this.tool('tpm2_clear', ['-c', 'l']);
  }

  async wipe(): Promise<void> {
    await this.halt();
    await rm(this.stateDir, { recursive: true, force: true });
    await this.launch();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.halt();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Starts a fresh swtpm on free loopback ports; call stop() in an after hook or finally block. */
export async function startSwtpm(): Promise<Swtpm> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const root = mkdtempSync(join(tmpdir(), 'coffer-swtpm-'));
    const tpm = new SwtpmProcess(await freePortPair(), root);
    try {
      await tpm.launch();
      return tpm;
    } catch (error) {
      // Another process may have taken the ports between the probe and swtpm's bind: try new ones.
      lastError = error;
      await tpm.stop();
    }
  }
  throw lastError;
}
