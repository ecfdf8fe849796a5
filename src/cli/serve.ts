// `coffer serve`: runs the daemon (SPEC §10) through startServer until SIGINT/SIGTERM, then closes
// it gracefully (in-flight requests finish, the store closes). A passphrase keystore starts locked
// and waits for `coffer unlock`; keyring, tpm2 and pkcs11 protectors unlock it at start.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CofferError } from '../errors.js';
import { type Command, emit, flag, int, note, str } from './command.js';
import { displayStore } from './commands-admin.js';

export const serveCommand: Command = {
  path: ['serve'],
  summary: 'run the daemon on a Unix socket and/or loopback TCP',
  usage:
    '[--store URL] [--socket PATH] [--listen HOST:PORT [--tls-cert PEM --tls-key PEM]] [--protector TYPE] [--workers N] [--concurrency-limit N] [--rate-limit N] [--rate-burst N]',
  options: {
    listen: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'insecure-deterministic': { type: 'boolean' },
    workers: { type: 'string' },
    'concurrency-limit': { type: 'string' },
    'rate-limit': { type: 'string' },
    'rate-burst': { type: 'string' },
  },
  optionHelp: [
    [
      '--socket PATH',
      'Unix socket (0600, in a 0700 directory; default $COFFER_HOME/coffer.sock without --listen)',
    ],
    ['--listen HOST:PORT', 'TCP on loopback, e.g. 127.0.0.1:7878; --tls-cert/--tls-key for HTTPS'],
    [
      '--protector TYPE',
      'keyring, tpm2 or pkcs11 unlock at start; passphrase (default) waits for `coffer unlock`',
    ],
    ['--workers N', 'crypto worker threads (default: one per core; 0: all crypto on the event loop)'],
    ['--concurrency-limit N', 'requests one token may have in flight (default 16; 0: no limit)'],
    [
      '--rate-limit N',
      'operations per second per token, a batch counting its items (default 20000; 0: none)',
    ],
    ['--rate-burst N', 'operations a token may start at once after a pause (default 2 × rate)'],
    ['--insecure-deterministic', 'TESTS ONLY: predictable keys, every key marked insecure forever'],
  ],
  examples: [
    'coffer serve --socket /run/coffer/coffer.sock',
    'coffer serve --listen 127.0.0.1:7878 --tls-cert cert.pem --tls-key key.pem',
    'coffer serve --socket /run/coffer/coffer.sock --concurrency-limit 8 --rate-limit 2000',
    'COFFER_SOCKET=/run/coffer/coffer.sock COFFER_TOKEN=… coffer key list   # from another shell',
  ],
  positionals: 0,
  async run(ctx) {
    const config = ctx.config;
    const workers = int(ctx.values, 'workers', 0, 64);
    const concurrency = int(ctx.values, 'concurrency-limit', 0, 1_000_000_000);
    const rate = int(ctx.values, 'rate-limit', 0, 1_000_000_000);
    const burst = int(ctx.values, 'rate-burst', 0, 1_000_000_000);
    const listen = str(ctx.values, 'listen');
    const cert = str(ctx.values, 'tls-cert');
    const key = str(ctx.values, 'tls-key');
    if ((cert === undefined) !== (key === undefined))
      throw new CofferError('EINVAL', 'TLS needs both --tls-cert and --tls-key');
    if (cert !== undefined && listen === undefined)
      throw new CofferError('EINVAL', 'TLS applies to --listen only');
    let socket = str(config.values, 'socket') ?? config.env.COFFER_SOCKET;
    if (socket === '') socket = undefined;
    if (socket === undefined && listen === undefined) socket = join(config.home, 'coffer.sock');
    if (socket !== undefined) mkdirSync(dirname(socket), { recursive: true, mode: 0o700 });
    const type = config.protectorType;
    const protector = type === 'passphrase' ? undefined : await config.protectorConfig(type);
    const insecure = flag(ctx.values, 'insecure-deterministic');
    if (insecure)
      config.streams.stderr.write('WARNING: insecure deterministic mode: keys are predictable; tests only\n');
    const { startServer } = await import('../server/index.js');
    const server = await startServer({
      store: config.store,
      ...(protector ? { protector } : {}),
      ...(socket !== undefined ? { socket } : {}),
      ...(listen !== undefined ? { listen } : {}),
      ...(cert !== undefined && key !== undefined ? { tls: { cert, key } } : {}),
      ...(insecure ? { insecureDeterministic: true } : {}),
      ...(workers !== undefined ? { workers } : {}),
      limits: {
        ...(concurrency !== undefined ? { concurrency } : {}),
        ...(rate !== undefined ? { rate } : {}),
        ...(burst !== undefined ? { burst } : {}),
      },
      // This command owns the signals: it closes the server and lets the CLI exit with its code.
      handleSignals: false,
    });
    await emit(ctx, { socket: server.socket, url: server.url, store: displayStore(config.store) }, []);
    note(
      ctx,
      `coffer daemon serving ${displayStore(config.store)} on ${[server.socket, server.url].filter(Boolean).join(' and ')}` +
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
  },
};
