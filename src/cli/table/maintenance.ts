// Rotation (SPEC §13) and encrypted backups (SPEC §11): `coffer rotate …`, `coffer backup …`.
import type { CommandSpec, RunName } from '../spec.js';
import { BACKUP_LIMIT, formatSize } from './limits.js';

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
