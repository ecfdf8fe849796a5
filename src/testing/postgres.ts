// A throwaway PostgreSQL cluster for tests (DEVELOPERS: platform components are used for real,
// started by the tests on temporary directories and free loopback ports, and always stopped).
// initdb refuses to run as root, so under root every server command runs as the `postgres` system
// user through runuser. The cluster listens on 127.0.0.1 with password (SCRAM) authentication, so
// tests exercise real credentials in store URLs, and its socket lives in the temporary directory.
import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';

export interface PostgresCluster {
  /** URL of the database created at start (user, password, 127.0.0.1, port). */
  readonly url: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Creates another empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** URL for database `name` (which need not exist), e.g. to test ENOENT. */
  urlFor(name: string, password?: string): string;
  /** Stops the server (immediate mode) and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

function findBinDir(): string {
  const candidates = [process.env.COFFER_PG_BIN, '/usr/lib/postgresql/15/bin'];
  if (existsSync('/usr/lib/postgresql')) {
    for (const version of readdirSync('/usr/lib/postgresql').sort().reverse()) {
      candidates.push(`/usr/lib/postgresql/${version}/bin`);
    }
  }
  const found = candidates.find((dir) => dir !== undefined && existsSync(join(dir, 'initdb')));
  if (found === undefined) {
    throw new Error('PostgreSQL server binaries not found (install postgresql-15 or set COFFER_PG_BIN)');
  }
  return found;
}

const isRoot = () => process.getuid?.() === 0;

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0) {
    throw new Error("running as root needs the 'postgres' system user (from the postgresql package)");
  }
  return { uid, gid };
}

/** The command line that runs `binary` as the right user. */
function asServerUser(bin: string, binary: string, args: string[]): [string, string[]] {
  const path = join(bin, binary);
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
}

function run(command: [string, string[]], options: SpawnOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command[1], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${command[1].join(' ')} exited with ${code}: ${output.slice(-2000)}`));
    });
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Clusters still running, stopped synchronously if the test process exits without stopping them. */
const running = new Map<string, () => void>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const stopNow of running.values()) stopNow();
  });
}

/** Starts a PostgreSQL cluster on a free loopback port with one database, `coffer`. */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = findBinDir();
  const base = mkdtempSync(join(tmpdir(), 'coffer-pg-'));
  const data = join(base, 'data');
  const user = 'coffer';
  const password = randomBytes(18).toString('hex');
  const pwfile = join(base, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (isRoot()) {
    const { uid, gid } = postgresIds();
    chownSync(base, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  chmodSync(base, 0o700);

  let started = false;
  const stopNow = () => {
    if (started) {
      const [command, args] = asServerUser(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      spawnSync(command, args, { stdio: 'ignore' });
      started = false;
    }
    rmSync(base, { recursive: true, force: true });
    running.delete(base);
  };
  installExitHook();
  running.set(base, stopNow);

  try {
    await run(
      asServerUser(bin, 'initdb', [
        '-D',
        data,
        '-U',
        user,
        `--pwfile=${pwfile}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
        // The cluster is thrown away; fsync stays on for the server itself (durability is tested).
        '--no-sync',
      ]),
    );
    let port = 0;
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        await run(
          asServerUser(bin, 'pg_ctl', [
            '-D',
            data,
            '-l',
            join(base, 'server.log'),
            '-w',
            '-t',
            '60',
            '-o',
            `-c listen_addresses=127.0.0.1 -p ${port} -k ${base} -c max_connections=100 -c fsync=on`,
            'start',
          ]),
        );
        started = true;
        break;
      } catch (error) {
        // The port may have been taken between probing and binding: try another.
        if (attempt >= 2) throw error;
      }
    }
    const urlFor = (name: string, pass = password) => `postgres://${user}:${pass}@127.0.0.1:${port}/${name}`;
    const createDatabase = async (name: string) => {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`);
      const client = new pg.Client({ connectionString: urlFor('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return urlFor(name);
    };
    const url = await createDatabase('coffer');
    return {
      url,
      port,
      user,
      password,
      createDatabase,
      urlFor,
      stop: async () => stopNow(),
    };
  } catch (error) {
    stopNow();
    throw error;
  }
}

/**
 * For a test file whose suite runs on PostgreSQL: starts one cluster before the file's tests and stops
 * it after, and returns a factory of fresh databases (`<prefix>_1`, `<prefix>_2`, …) on it.
 */
export function postgresForThisFile(prefix: string): () => Promise<string> {
  let cluster: PostgresCluster | undefined;
  before(async () => {
    cluster = await startPostgres();
  });
  after(async () => {
    await cluster?.stop();
  });
  let databases = 0;
  return () => {
    if (!cluster)
      throw new Error('the PostgreSQL cluster is not started (call this at a test file top level)');
    return cluster.createDatabase(`${prefix}_${++databases}`);
  };
}
