// `coffer serve`: runs the daemon (DESIGN §7) through startServer until SIGINT/SIGTERM, then closes
// it gracefully (in-flight requests finish, the store closes). A passphrase keystore starts locked
// and waits for `coffer unlock`; keyring, tpm2 and pkcs11 protectors unlock it at start.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CofferError } from '../errors.js';
import { type Command, emit, flag, note, str } from './command.js';
import { displayStore } from './commands-admin.js';

export const serveCommand: Command = {
  path: ['serve'],
  summary: 'run the daemon on a Unix socket and/or loopback TCP',
  usage:
    '[--store URL] [--socket PATH] [--listen HOST:PORT [--tls-cert PEM --tls-key PEM]] [--protector TYPE]',
  options: {
    listen: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'insecure-deterministic': { type: 'boolean' },
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
    ['--insecure-deterministic', 'TESTS ONLY: predictable keys, every key marked insecure forever'],
  ],
  examples: [
    'coffer serve --socket /run/coffer/coffer.sock',
    'coffer serve --listen 127.0.0.1:7878 --tls-cert cert.pem --tls-key key.pem',
    'COFFER_SOCKET=/run/coffer/coffer.sock COFFER_TOKEN=… coffer key list   # from another shell',
  ],
  positionals: 0,
  async run(ctx) {
    const config = ctx.config;
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
      ...(await config.keystoreOptions()),
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
