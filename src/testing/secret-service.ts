// Test fixture: a private D-Bus session bus and a real gnome-keyring-daemon (secrets component) in a
// temporary HOME, so keyring tests exercise a genuine Secret Service without ever touching the real
// user's keyring. The bus uses its own config with no service directories, so nothing is
// D-Bus-activated behind our back (no stray gnome-keyring or gcr-prompter processes; an unlock prompt
// is dismissed at once instead of waiting for a human). Every child runs in its own process group and
// is killed with the group on stop(), and on process exit as a last resort.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const LOGIN_COLLECTION = '/org/freedesktop/secrets/collection/login';
const STARTUP_TIMEOUT_MS = 15_000;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers may only run synchronous code: a SIGKILL to each group is all we can do here.
  process.on('exit', () => {
    for (const child of live) killGroup(child, 'SIGKILL');
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Stops a child's whole process group: SIGTERM, then SIGKILL if it has not exited in time. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
  live.delete(child);
}

function spawnGroup(command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  installExitHook();
  const child = spawn(command, args, { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  child.on('exit', () => live.delete(child));
  // Unread pipes would eventually block a chatty child.
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** A private session bus (dbus-daemon) listening on a socket in `dir`. */
export interface SessionBus {
  /** The value for DBUS_SESSION_BUS_ADDRESS. */
  address: string;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Starts `dbus-daemon` with a minimal session config. `serviceDirs` (default none) lists directories
 * of .service files the bus may activate; `abstract: true` listens on a Linux abstract socket.
 */
export async function startSessionBus(
  options: { serviceDirs?: string[]; abstract?: boolean } = {},
): Promise<SessionBus> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-bus-'));
  const listen = options.abstract ? `unix:abstract=${dir}/bus` : `unix:path=${dir}/bus`;
  const serviceDirs = (options.serviceDirs ?? []).map((d) => `  <servicedir>${d}</servicedir>\n`).join('');
  writeFileSync(
    join(dir, 'bus.conf'),
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>${listen}</listen>
  <auth>EXTERNAL</auth>
${serviceDirs}  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
  );
  const child = spawnGroup(
    'dbus-daemon',
    ['--config-file', join(dir, 'bus.conf'), '--nofork', '--nopidfile', '--print-address=1'],
    { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
  );
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error('dbus-daemon did not print its address')),
        STARTUP_TIMEOUT_MS,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) {
          clearTimeout(timer);
          resolve(line.trim());
        }
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`dbus-daemon exited early (code ${code})`));
      });
    });
    return { address, dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A running gnome-keyring Secret Service on a private bus, plus tools to drive it from tests. */
export interface SecretServiceFixture {
  bus: SessionBus;
  /** The password of the login collection (created on first start). */
  password: string;
  /** Environment for child tools (secret-tool, gdbus): private HOME, XDG dirs and bus only. */
  env: NodeJS.ProcessEnv;
  /** Runs a tool against this Secret Service; rejects on a non-zero exit. */
  run(
    command: string,
    args: string[],
    input?: Uint8Array | string,
  ): Promise<{ stdout: Buffer; stderr: string }>;
  /** Locks the login collection through Secret Service's own Lock method. */
  lock(): Promise<void>;
  isLocked(): Promise<boolean>;
  /** Stops gnome-keyring-daemon and starts it again on the same files, unlocking login with the password. */
  restart(): Promise<void>;
  /** Stops the daemon and the bus, restores process.env and removes every temporary file. */
  stop(): Promise<void>;
}

/**
 * Starts a bus and gnome-keyring-daemon (`--foreground --unlock --components=secrets`, password on
 * stdin, which creates and unlocks the login collection), waits until it owns
 * org.freedesktop.secrets, and points this process's DBUS_SESSION_BUS_ADDRESS at it.
 */
export async function startSecretService(
  options: {
    password?: string;
    /** false: start without --unlock, so no login (default) collection exists. */
    unlock?: boolean;
    /** false: leave process.env alone (for a second Secret Service driven from child processes). */
    setProcessEnv?: boolean;
  } = {},
): Promise<SecretServiceFixture> {
  const password = options.password ?? 'coffer-test-password';
  const unlock = options.unlock ?? true;
  const setProcessEnv = options.setProcessEnv ?? true;
  const bus = await startSessionBus();
  const home = mkdtempSync(join(tmpdir(), 'coffer-keyring-home-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_RUNTIME_DIR: bus.dir,
    XDG_DATA_HOME: join(home, '.local/share'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    DBUS_SESSION_BUS_ADDRESS: bus.address,
  };
  const previousAddress = process.env.DBUS_SESSION_BUS_ADDRESS;
  let daemon: ChildProcess | undefined;

  const run = async (command: string, args: string[], input?: Uint8Array | string) => {
    const child = execFileAsync(command, args, {
      env,
      encoding: 'buffer',
      timeout: 20_000,
      maxBuffer: 1 << 20,
    });
    if (input !== undefined) child.child.stdin?.end(input);
    else child.child.stdin?.end();
    const { stdout, stderr } = await child;
    return { stdout, stderr: stderr.toString('utf8') };
  };

  const owned = async (): Promise<boolean> => {
    const { stdout } = await run('gdbus', [
      'call',
      '--session',
      '--dest',
      'org.freedesktop.DBus',
      '--object-path',
      '/org/freedesktop/DBus',
      '--method',
      'org.freedesktop.DBus.NameHasOwner',
      'org.freedesktop.secrets',
    ]);
    return stdout.toString('utf8').includes('true');
  };

  const startDaemon = async () => {
    const args = ['--foreground', '--components=secrets', ...(unlock ? ['--unlock'] : [])];
    daemon = spawnGroup('gnome-keyring-daemon', args, env);
    daemon.stdin?.end(unlock ? password : undefined);
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (!(await owned())) {
      if (daemon.exitCode !== null) throw new Error(`gnome-keyring-daemon exited (code ${daemon.exitCode})`);
      if (Date.now() > deadline)
        throw new Error('gnome-keyring-daemon did not claim org.freedesktop.secrets');
      await sleep(50);
    }
  };

  const isLocked = async () => {
    const { stdout } = await run('gdbus', [
      'call',
      '--session',
      '--dest',
      'org.freedesktop.secrets',
      '--object-path',
      LOGIN_COLLECTION,
      '--method',
      'org.freedesktop.DBus.Properties.Get',
      'org.freedesktop.Secret.Collection',
      'Locked',
    ]);
    return stdout.toString('utf8').includes('true');
  };

  const stop = async () => {
    if (daemon) await stopChild(daemon);
    await bus.stop();
    rmSync(home, { recursive: true, force: true });
    if (!setProcessEnv) return;
    if (previousAddress === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
    else process.env.DBUS_SESSION_BUS_ADDRESS = previousAddress;
  };

  try {
    await startDaemon();
    if (unlock && (await isLocked())) throw new Error('login collection is locked after --unlock');
    if (setProcessEnv) process.env.DBUS_SESSION_BUS_ADDRESS = bus.address;
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    bus,
    password,
    env,
    run,
    isLocked,
    async lock() {
      await run('gdbus', [
        'call',
        '--session',
        '--dest',
        'org.freedesktop.secrets',
        '--object-path',
        '/org/freedesktop/secrets',
        '--method',
        'org.freedesktop.Secret.Service.Lock',
        `['${LOGIN_COLLECTION}']`,
      ]);
      if (!(await isLocked())) throw new Error('login collection did not lock');
    },
    async restart() {
      if (daemon) await stopChild(daemon);
      await startDaemon();
    },
    stop,
  };
}
