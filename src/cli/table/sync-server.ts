// `coffer sync-server`: the keychain sync server (SPEC §17.8, docs/sync-server.md) as a command.
import type { CommandSpec } from '../spec.js';

export const syncServerTable: CommandSpec[] = [
  {
    path: ['sync-server'],
    summary: 'run the keychain sync server (stores ciphertext only; devices authenticate by signature)',
    usage:
      '[--store sqlite:PATH|postgres://…] [--listen HOST:PORT] [--tls-cert PEM --tls-key PEM] [--device-rate N] [--account-rate N] [--log-level LEVEL]',
    options: {
      listen: {
        type: 'string',
        value: 'HOST:PORT',
        help: 'where to listen (default 127.0.0.1:7979); --tls-cert/--tls-key for HTTPS and WSS',
      },
      'tls-cert': { type: 'string', value: 'PEM', help: 'certificate chain for HTTPS', complete: 'file' },
      'tls-key': { type: 'string', value: 'PEM', help: 'private key for HTTPS', complete: 'file' },
      'device-rate': {
        type: 'string',
        value: 'N',
        help: 'requests per second one device may sustain (default 50, burst 4 × N; 0: no limit)',
      },
      'account-rate': {
        type: 'string',
        value: 'N',
        help: 'requests per second one account may sustain (default 200, burst 4 × N; 0: no limit)',
      },
      'log-level': {
        type: 'string',
        value: 'LEVEL',
        choices: ['debug', 'info', 'warn', 'error', 'silent'],
        help: 'JSON log lines on stdout from this level up (default info; debug: every request)',
      },
    },
    notes: [
      '--store defaults to sqlite:$COFFER_HOME/sync.db (not the keystore). Several instances may share one',
      'postgres:// database: pushes fan out between them through LISTEN/NOTIFY.',
      'The server holds no key that decrypts anything. SIGINT/SIGTERM: requests in flight finish, then it exits.',
    ],
    examples: [
      'coffer sync-server --listen 127.0.0.1:7979',
      'coffer sync-server --store postgres://coffer@db/sync --listen 0.0.0.0:443 --tls-cert cert.pem --tls-key key.pem',
    ],
    load: async () => (await import('../commands/sync-server.js')).syncServer,
  },
];
