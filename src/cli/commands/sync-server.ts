// `coffer sync-server`: runs SyncServer (SPEC §17.8) until SIGINT/SIGTERM, then closes it
// gracefully (requests in flight finish, push sockets close with 1001, the store closes).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CofferError } from '../../errors.js';
import { emit, int, note, str } from '../context.js';
import type { CommandRun } from '../spec.js';

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new CofferError('ENOENT', `cannot read the TLS ${what} ${path}`, { cause: error });
  }
}

/** The store URL as shown: a PostgreSQL password never appears. */
function shown(store: string): string {
  return store.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}

export const syncServer: CommandRun = async (ctx) => {
  const config = ctx.config;
  const store = config.setting('store') ?? `sqlite:${join(config.home, 'sync.db')}`;
  const listen = str(ctx.values, 'listen') ?? '127.0.0.1:7979';
  const cert = str(ctx.values, 'tls-cert');
  const key = str(ctx.values, 'tls-key');
  if ((cert === undefined) !== (key === undefined))
    throw new CofferError('EINVAL', 'TLS needs both --tls-cert and --tls-key');
  const deviceRate = int(ctx.values, 'device-rate', 0, 1_000_000);
  const accountRate = int(ctx.values, 'account-rate', 0, 1_000_000);
  const logLevel = str(ctx.values, 'log-level') ?? 'info';
  const { SyncServer } = await import('../../sync/server/server.js');
  const server = await SyncServer.start({
    store,
    listen,
    logLevel,
    ...(cert !== undefined && key !== undefined
      ? { tls: { cert: readPem(cert, 'certificate'), key: readPem(key, 'key') } }
      : {}),
    limits: {
      ...(deviceRate !== undefined ? { perDevice: { rate: deviceRate, burst: 4 * deviceRate } } : {}),
      ...(accountRate !== undefined ? { perAccount: { rate: accountRate, burst: 4 * accountRate } } : {}),
    },
  });
  await emit(ctx, { url: server.url, store: shown(store) }, []);
  note(ctx, `coffer sync server on ${server.url}, store ${shown(store)}`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
};
