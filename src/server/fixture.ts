// Test fixture for the daemon tests: a real keystore in a private (0700) temp dir, an admin token made
// the way `coffer init` makes it, a daemon on a Unix socket in that dir, and clients. Everything is
// stopped and removed by cleanup(), which tests call from `after` / `finally`.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CofferClient } from '../client/index.js';
import { Keystore } from '../core/keystore.js';
import { passphrase, type TempDir, tempDir } from '../testing/keystore.js';
import { type RunningServer, type ServerOptions, startServer } from './index.js';
import { createToken } from './tokens.js';

export const PASSPHRASE = 'correct horse battery staple';

export interface DaemonFixture {
  dir: TempDir;
  store: string;
  socket: string;
  adminToken: string;
  server: RunningServer;
  admin: CofferClient;
  /** A client with another token (or none). */
  client(token?: string): CofferClient;
  /** Stops the daemon (if running) and starts it again on the same store and socket. */
  restart(extra?: Partial<ServerOptions>): Promise<void>;
  cleanup(): Promise<void>;
}

/** A keystore with an admin token; the store is closed again before the daemon opens it. */
export async function makeStore(dir: TempDir): Promise<{ store: string; adminToken: string }> {
  const store = `sqlite:${join(dir.path, 'store.db')}`;
  const ks = await Keystore.open({ store, protector: passphrase(PASSPHRASE), create: true });
  try {
    const { token } = await createToken(ks, { name: 'admin', apps: ['*'], ops: ['*'], admin: true });
    return { store, adminToken: token };
  } finally {
    await ks.close();
  }
}

export async function startDaemon(
  options: {
    unlock?: boolean;
    logger?: Logger | false;
    clock?: () => number;
    /** Further server options (workers, limits, …). */
    server?: Partial<ServerOptions>;
  } = {},
): Promise<DaemonFixture> {
  const dir = tempDir('coffer-daemon-');
  chmodSync(dir.path, 0o700);
  const clients: CofferClient[] = [];
  let server: RunningServer | undefined;
  try {
    const { store, adminToken } = await makeStore(dir);
    const socket = join(dir.path, 'coffer.sock');
    const base: ServerOptions = {
      store,
      socket,
      logger: options.logger ?? false,
      handleSignals: false,
      ...(options.clock ? { clock: options.clock } : {}),
      ...options.server,
    };
    server = await startServer(base);
    const client = (token?: string) => {
      const c = new CofferClient({ socket, ...(token !== undefined ? { token } : {}) });
      clients.push(c);
      return c;
    };
    const admin = client(adminToken);
    if (options.unlock !== false) await admin.unlock(PASSPHRASE);
    const fixture: DaemonFixture = {
      dir,
      store,
      socket,
      adminToken,
      server,
      admin,
      client,
      async restart(extra = {}) {
        await fixture.server.close();
        fixture.server = await startServer({ ...base, ...extra });
        server = fixture.server;
      },
      async cleanup() {
        for (const c of clients) c.close();
        await server?.close();
        dir.remove();
      },
    };
    return fixture;
  } catch (error) {
    for (const c of clients) c.close();
    await server?.close().catch(() => {});
    dir.remove();
    throw error;
  }
}
