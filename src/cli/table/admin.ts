// Keystore administration and the tool itself — init, status / unlock / lock, the per-user agent,
// tokens, the audit log, keyslots, the daemon, doctor, shell completion, the version — and the
// maintenance commands: rotation (SPEC §13) and encrypted backups (SPEC §11).
import type { CommandSpec, RunName } from '../spec.js';
import { BACKUP_LIMIT, formatSize, PROTECTOR_TYPES } from './global.js';

const admin = (name: RunName<typeof import('../commands/admin.js')>) => async () =>
  (await import('../commands/admin.js'))[name];
const agent = (name: RunName<typeof import('../commands/agent.js')>) => async () =>
  (await import('../commands/agent.js'))[name];
const kdf = {
  type: 'string',
  value: 'SPEC',
  help: 'passphrase KDF: argon2id (default, 64 MiB, t=3), or e.g. argon2id,memoryKiB=19456,iterations=2',
} as const;

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

export const adminTable: CommandSpec[] = [
  {
    path: ['init'],
    summary: 'create a keystore with its first protector, and an admin token for the daemon',
    usage: '[--store URL] [--protector passphrase|keyring|tpm2|pkcs11] [--kdf SPEC]',
    options: { kdf },
    notes: ['The admin token is printed once and stored only as a hash: keep it (e.g. in COFFER_TOKEN).'],
    examples: [
      'coffer init',
      'COFFER_PASSPHRASE=… coffer init --store sqlite:/var/lib/coffer/keystore.db --json',
      'coffer init --store dir:./keys --protector tpm2',
    ],
    load: admin('init'),
  },
  {
    path: ['status'],
    summary: 'show the keystore, the agent or daemon, and failed unlock attempts and lockout',
    usage: '',
    examples: ['coffer status', 'COFFER_SOCKET=/run/coffer/coffer.sock coffer status --json'],
    load: admin('status'),
  },
  {
    path: ['unlock'],
    summary: 'unlock: the daemon, or (direct mode) start the per-user agent so later commands skip the KDF',
    usage: '',
    notes: [
      'Through a daemon, 5 wrong passphrases in a row lock unlocking out for 15 minutes (exit 8), even across restarts.',
      'With --no-agent (or COFFER_AGENT=0) it only checks that the passphrase opens the store.',
    ],
    examples: [
      'coffer unlock            # prompts on a terminal',
      'COFFER_PASSPHRASE_FILE=/run/secrets/coffer coffer unlock',
    ],
    load: admin('unlock'),
  },
  {
    path: ['lock'],
    summary: 'lock: the daemon forgets the master key; in direct mode the agent locks and exits',
    usage: '',
    examples: ['coffer lock'],
    load: admin('lock'),
  },
  {
    path: ['agent', 'start'],
    summary: 'unlock the store and start the per-user agent (commands then skip the KDF)',
    usage: '[--agent-idle DUR]',
    notes: [
      'The agent listens on a 0600 socket in a 0700 directory of $XDG_RUNTIME_DIR (or /tmp/coffer-UID), serves',
      'only the store it was started for, and locks and exits after --agent-idle (default 15m) unused.',
    ],
    examples: ['coffer agent start', 'coffer agent start --agent-idle 2h'],
    load: agent('start'),
  },
  {
    path: ['agent', 'stop'],
    summary: 'lock the agent of this store and end it (same as `coffer lock` in direct mode)',
    usage: '',
    examples: ['coffer agent stop'],
    load: agent('stop'),
  },
  {
    path: ['agent', 'status'],
    summary: 'show whether an agent serves this store, since when and until when',
    usage: '',
    examples: ['coffer agent status --json'],
    load: agent('status'),
  },
  {
    path: ['agent', 'run'],
    summary: 'the agent process itself (started by the CLI; reads its protector on stdin)',
    usage: '',
    hidden: true,
    examples: [],
    load: agent('run'),
  },
  {
    path: ['token', 'create'],
    summary: 'create a daemon bearer token for apps and operations (shown once)',
    usage: '--app APP[,APP] --ops OP[,OP] [--name NAME] [--admin]',
    options: {
      app: {
        type: 'string',
        multiple: true,
        value: 'APP',
        help: "apps the token may use keys of (repeatable or comma-separated; '*' = all)",
      },
      ops: { type: 'string', value: 'OPS', help: "operations, e.g. sign,verify or seal,unseal ('*' = all)" },
      name: { type: 'string', value: 'NAME', help: 'a name to recognise it by' },
      admin: { type: 'boolean', help: 'may also manage tokens, the audit log, backups and keyslots' },
    },
    examples: [
      'coffer token create --app billing --ops sign,verify --json',
      "coffer token create --name ops --app '*' --ops '*' --admin",
    ],
    load: admin('tokenCreate'),
  },
  {
    path: ['token', 'list'],
    summary: 'list tokens (never their secrets)',
    usage: '',
    examples: ['coffer token list --json'],
    load: admin('tokenList'),
  },
  {
    path: ['token', 'revoke'],
    summary: 'revoke a token by id',
    usage: 'TOKEN_ID',
    args: [{ name: 'TOKEN_ID' }],
    examples: ['coffer token revoke tok_abc…'],
    load: admin('tokenRevoke'),
  },
  {
    path: ['audit', 'tail'],
    summary: 'show the newest audit entries',
    usage: '[-n N]',
    options: { count: { type: 'string', short: 'n', value: 'N', help: 'how many (default 20, max 10000)' } },
    examples: ['coffer audit tail -n 50', 'coffer audit tail --json'],
    load: admin('auditTail'),
  },
  {
    path: ['audit', 'list'],
    summary: 'stream the audit log page by page, oldest first, each page checked against the hash chain',
    usage: '[--since T] [--until T] [--key ID] [--event E] [--actor A] [--newest-first] [--page-size N]',
    options: {
      since: {
        type: 'string',
        value: 'T',
        help: 'entries at or after T: ISO 8601, ms since the epoch, or a duration ago (24h, 7d)',
      },
      until: { type: 'string', value: 'T', help: 'entries before T (same forms as --since)' },
      key: { type: 'string', value: 'ID', help: 'only entries about this key' },
      event: {
        type: 'string',
        value: 'E',
        help: "only this event, or events under a prefix ending in '.' (key.)",
      },
      actor: { type: 'string', value: 'A', help: 'only entries written by this actor' },
      'newest-first': { type: 'boolean', help: 'walk from the newest entry back to the first' },
      'page-size': {
        type: 'string',
        value: 'N',
        help: 'entries fetched per page, 1-1000 (default 500); pages are printed as they arrive',
      },
    },
    examples: [
      'coffer audit list',
      'coffer audit list --since 24h --event key.',
      'coffer audit list --key k_abc… --newest-first --json',
    ],
    load: admin('auditList'),
  },
  {
    path: ['audit', 'verify'],
    summary: 'check the hash chain and MACs of the whole audit log (a broken log exits 7)',
    usage: '',
    examples: ['coffer audit verify'],
    load: admin('auditVerify'),
  },
  {
    path: ['protector', 'add'],
    summary: 'add a keyslot: passphrase, keyring, tpm2 or pkcs11 (direct mode: the platform is here)',
    usage:
      'TYPE [--keyring-service S --keyring-account A | --tcti T --pcrs P | --pkcs11-module M --pkcs11-token L --pkcs11-key K] [--kdf SPEC]',
    args: [{ name: 'TYPE', choices: PROTECTOR_TYPES }],
    options: { kdf },
    notes: [
      'A new passphrase comes from COFFER_NEW_PASSPHRASE (or a prompt); a PKCS#11 PIN from COFFER_PKCS11_PIN.',
      'The store is opened with the current protector (--protector, default passphrase from COFFER_PASSPHRASE).',
    ],
    examples: [
      'COFFER_NEW_PASSPHRASE=… coffer protector add passphrase',
      'coffer protector add tpm2 --tcti device:/dev/tpmrm0',
    ],
    load: admin('protectorAdd'),
  },
  {
    path: ['protector', 'remove'],
    summary: 'remove a keyslot (the last one is refused: the store could never be opened again)',
    usage: 'SLOT_ID --yes [--keep-platform-key]',
    args: [{ name: 'SLOT_ID' }],
    options: {
      yes: { type: 'boolean', help: 'confirm: a removed keyslot cannot be restored' },
      'keep-platform-key': {
        type: 'boolean',
        help: 'leave the keyring entry / token key in place (by default it is deleted; a pkcs11 slot then needs --pkcs11-* and COFFER_PKCS11_PIN)',
      },
    },
    examples: [
      'coffer protector remove s_abcdefghijklmnop --yes',
      'COFFER_PKCS11_PIN=… coffer protector remove s_abcdefghijklmnop --yes --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pkcs11-token coffer',
    ],
    load: admin('protectorRemove'),
  },
  {
    path: ['protector', 'list'],
    summary: 'list the keyslots (any one of them opens the keystore)',
    usage: '',
    examples: ['coffer protector list'],
    load: admin('protectorList'),
  },
  {
    path: ['serve'],
    summary: 'run the daemon on a Unix socket and/or loopback TCP',
    usage:
      '[--store URL] [--socket PATH] [--listen HOST:PORT [--tls-cert PEM --tls-key PEM]] [--protector TYPE] [--workers N] [--concurrency-limit N] [--rate-limit N] [--rate-burst N] [--metrics-listen HOST:PORT] [--log-level LEVEL]',
    options: {
      listen: {
        type: 'string',
        value: 'HOST:PORT',
        help: 'TCP on loopback, e.g. 127.0.0.1:7878; --tls-cert/--tls-key for HTTPS',
      },
      'tls-cert': { type: 'string', value: 'PEM', help: 'certificate for HTTPS', complete: 'file' },
      'metrics-listen': {
        type: 'string',
        value: 'HOST:PORT',
        help: 'also serve Prometheus metrics at /metrics without a token, on loopback only',
      },
      'tls-key': { type: 'string', value: 'PEM', help: 'private key for HTTPS', complete: 'file' },
      workers: {
        type: 'string',
        value: 'N',
        help: 'crypto worker threads (default: one per core; 0: all crypto on the event loop)',
      },
      'concurrency-limit': {
        type: 'string',
        value: 'N',
        help: 'requests one token may have in flight (default 16; 0: no limit)',
      },
      'rate-limit': {
        type: 'string',
        value: 'N',
        help: 'operations per second per token, a batch counting its items (default 20000; 0: none)',
      },
      'rate-burst': {
        type: 'string',
        value: 'N',
        help: 'operations a token may start at once after a pause (default 2 × rate)',
      },
      'log-level': {
        type: 'string',
        value: 'LEVEL',
        choices: ['debug', 'info', 'warn', 'error'],
        help: 'JSON log lines on stdout from this level up (default info: refusals and failures; debug: every request)',
      },
      'insecure-deterministic': {
        type: 'boolean',
        help: 'TESTS ONLY: predictable keys, every key marked insecure forever',
      },
    },
    notes: [
      '--socket: 0600, in a 0700 directory; default $COFFER_HOME/coffer.sock without --listen.',
      'keyring, tpm2 and pkcs11 protectors unlock at start; passphrase (default) waits for `coffer unlock`.',
      'GET /v1/metrics needs an admin token or a metrics token (coffer token create --app "*" --ops metrics).',
      'The web console is at /ui on the TCP listener (docs/console.md).',
    ],
    examples: [
      'coffer serve --socket /run/coffer/coffer.sock',
      'coffer serve --listen 127.0.0.1:7878 --tls-cert cert.pem --tls-key key.pem',
      'coffer serve --socket /run/coffer/coffer.sock --concurrency-limit 8 --rate-limit 2000',
      'COFFER_SOCKET=/run/coffer/coffer.sock COFFER_TOKEN=… coffer key list   # from another shell',
    ],
    load: async () => (await import('../commands/serve.js')).serve,
  },
  {
    path: ['doctor'],
    summary: 'report the Node version, native vs pure-JS crypto, and which protectors work here and why not',
    usage: '',
    examples: ['coffer doctor', 'coffer doctor --json'],
    load: async () => (await import('../commands/doctor.js')).doctor,
  },
  {
    path: ['completion'],
    summary: 'print a shell completion script: bash, zsh or fish',
    usage: 'bash|zsh|fish',
    args: [{ name: 'SHELL', choices: SHELLS }],
    notes: ['Generated from the same command table as --help, so it always matches this version.'],
    examples: [
      'source <(coffer completion bash)          # in ~/.bashrc',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expression shown to the user.
      'coffer completion zsh > "${fpath[1]}/_coffer"',
      'coffer completion fish > ~/.config/fish/completions/coffer.fish',
    ],
    load: async () => (await import('../completion.js')).completionCommand,
  },
  {
    path: ['version'],
    summary: 'print the version of coffer (and of Node with --json)',
    usage: '',
    examples: ['coffer version', 'coffer -V'],
    load: async () => (await import('../version.js')).versionCommand,
  },
];

const rotation = (name: RunName<typeof import('../commands/rotation.js')>) => async () =>
  (await import('../commands/rotation.js'))[name];
const backup = (name: RunName<typeof import('../commands/backup.js')>) => async () =>
  (await import('../commands/backup.js'))[name];

export const maintenanceTable: CommandSpec[] = [
  {
    path: ['rotate', 'due'],
    summary: 'do every rotation, warning and expiry that is due now (cron; a daemon does it by itself)',
    usage: '',
    notes: [
      'Policies come from each key (--rotate-every, --grace, --max-uses, --confirm) or the NIST SP 800-57 defaults (SPEC §13).',
      'Through a daemon, its own scheduler runs the tick, so its webhooks and event stream see the events.',
    ],
    examples: [
      'coffer rotate due',
      '0 * * * * COFFER_PASSPHRASE_FILE=/etc/coffer/pass coffer rotate due --json',
    ],
    load: rotation('due'),
  },
  {
    path: ['rotate', 'confirm'],
    summary: 'confirm a rotation that waits for confirmation (keys created with --confirm)',
    usage: 'ID',
    args: [{ name: 'ID' }],
    examples: ['coffer rotate confirm "$KEY"'],
    load: rotation('confirm'),
  },
  {
    path: ['rotate', 'emergency'],
    summary: 'rotate now and mark the old version compromised, recording an incident',
    usage: 'ID --description TEXT [--incident-id ID]',
    args: [{ name: 'ID' }],
    options: {
      description: {
        type: 'string',
        value: 'TEXT',
        help: 'what happened (required; goes to the audit log and the alert event)',
      },
      'incident-id': { type: 'string', value: 'ID', help: "your incident tracker's id" },
    },
    examples: ['coffer rotate emergency "$KEY" --description "laptop stolen" --incident-id INC-7'],
    load: rotation('emergency'),
  },
  {
    path: ['backup', 'create'],
    summary: 'write an encrypted backup (to a passphrase or an X-Wing key): full, selective or incremental',
    usage: '--out FILE (--passphrase | --recipient KEY) [--since BACKUP] [--app A] [--purpose P] [--key ID]…',
    options: {
      out: {
        type: 'string',
        value: 'FILE',
        help: 'the backup file (written atomically, mode 0600)',
        complete: 'file',
      },
      passphrase: {
        type: 'boolean',
        help: 'seal the backup to a passphrase (COFFER_BACKUP_PASSPHRASE, or a prompt asked twice)',
      },
      recipient: {
        type: 'string',
        value: 'KEY',
        help: 'seal it to an X-Wing key: a coffer1:xwing:… string, a file holding one, or a key id k_…[:VERSION]',
      },
      since: {
        type: 'string',
        value: 'BACKUP',
        help: 'incremental: only keys changed since that backup file (or store generation N)',
        complete: 'file',
      },
      app: { type: 'string', value: 'APP', help: 'only keys of this app' },
      purpose: { type: 'string', value: 'PURPOSE', help: 'only keys of this purpose (with --app)' },
      key: { type: 'string', multiple: true, value: 'ID', help: 'only this key (repeatable)' },
    },
    notes: [
      `A backup moves in one piece, at most ${formatSize(BACKUP_LIMIT)}; the library's createBackup writes larger ones to a file.`,
    ],
    examples: [
      'COFFER_BACKUP_PASSPHRASE=… coffer backup create --out keys.cbk --passphrase',
      'coffer backup create --out daily.cbk --recipient escrow.coffer --since keys.cbk',
    ],
    load: backup('create'),
  },
  {
    path: ['backup', 'restore'],
    summary: 'restore keys from an encrypted backup (nothing is written if any check fails)',
    usage: 'FILE [--overwrite | --skip-existing]',
    args: [{ name: 'FILE', complete: 'file' }],
    options: {
      overwrite: { type: 'boolean', help: 'replace keys that exist (default for incremental backups)' },
      'skip-existing': { type: 'boolean', help: 'keep keys that exist and restore the rest' },
    },
    notes: ['The default refuses (exit 5) when a key of a full or selective backup already exists.'],
    examples: [
      'COFFER_BACKUP_PASSPHRASE=… coffer backup restore keys.cbk',
      'coffer backup restore daily.cbk --skip-existing --json',
    ],
    load: backup('restore'),
  },
  {
    path: ['backup', 'inspect'],
    summary: "print a backup's header and check its checksum, without any key",
    usage: 'FILE',
    args: [{ name: 'FILE', complete: 'file' }],
    examples: ['coffer backup inspect keys.cbk', 'coffer backup inspect keys.cbk --json'],
    load: backup('inspect'),
  },
];
