// `coffer serve`: runs the daemon (SPEC §10) through startServer until SIGINT/SIGTERM, then closes
// it gracefully (in-flight requests finish, the store closes). A passphrase keystore starts locked
// and waits for `coffer unlock`; keyring, tpm2 and pkcs11 protectors unlock it at start.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CofferError } from '../../errors.js';
import { displayStore, emit, flag, int, note, str } from '../context.js';
import type { CommandRun } from '../spec.js';

export const serve: CommandRun = async (ctx) => {
  const config = ctx.config;
  const workers = int(ctx.values, 'workers', 0, 64);
  const concurrency = int(ctx.values, 'concurrency-limit', 0, 1_000_000_000);
  const rate = int(ctx.values, 'rate-limit', 0, 1_000_000_000);
  const burst = int(ctx.values, 'rate-burst', 0, 1_000_000_000);
  const listen = str(ctx.values, 'listen');
  const metricsListen = str(ctx.values, 'metrics-listen');
  const logLevel = str(ctx.values, 'log-level') as 'debug' | 'info' | 'warn' | 'error' | undefined;
  const cert = str(ctx.values, 'tls-cert');
  const key = str(ctx.values, 'tls-key');
  if ((cert === undefined) !== (key === undefined))
    throw new CofferError('EINVAL', 'TLS needs both --tls-cert and --tls-key');
  if (cert !== undefined && listen === undefined)
    throw new CofferError('EINVAL', 'TLS applies to --listen only');
  let socket = config.setting('socket');
  if (socket === '') socket = undefined;
  if (socket === undefined && listen === undefined) socket = join(config.home, 'coffer.sock');
  if (socket !== undefined) mkdirSync(dirname(socket), { recursive: true, mode: 0o700 });
  const type = config.protectorType;
  const protector = type === 'passphrase' ? undefined : await config.protectorConfig(type);
  const insecure = flag(ctx.values, 'insecure-deterministic');
  if (insecure)
    config.streams.stderr.write('WARNING: insecure deterministic mode: keys are predictable; tests only\n');
  const { startServer } = await import('../../server/index.js');
  const server = await startServer({
    store: config.store,
    ...(protector ? { protector } : {}),
    ...(socket !== undefined ? { socket } : {}),
    ...(listen !== undefined ? { listen } : {}),
    ...(cert !== undefined && key !== undefined ? { tls: { cert, key } } : {}),
    ...(insecure ? { insecureDeterministic: true } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(metricsListen !== undefined ? { metricsListen } : {}),
    ...(await config.keystoreOptions()),
    ...(logLevel !== undefined ? { logLevel } : {}),
    limits: {
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(rate !== undefined ? { rate } : {}),
      ...(burst !== undefined ? { burst } : {}),
    },
    // This command owns the signals: it closes the server and lets the CLI exit with its code.
    handleSignals: false,
  });
  await emit(
    ctx,
    {
      socket: server.socket,
      url: server.url,
      ...(server.metricsUrl ? { metricsUrl: server.metricsUrl } : {}),
      store: displayStore(config.store),
    },
    [],
  );
  note(
    ctx,
    `coffer daemon serving ${displayStore(config.store)} on ${[server.socket, server.url].filter(Boolean).join(' and ')}` +
      (server.metricsUrl ? `\nmetrics (no token) at ${server.metricsUrl}` : '') +
      (protector ? '' : '\nlocked: run `coffer unlock` to unlock it'),
  );
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
