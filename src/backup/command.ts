// `coffer backup create|restore|inspect` (DESIGN §7): parse → one call into src/backup → format.
// The lead wires backupCommand into the CLI; it owns no state and closes the keystore it opened.
// Exit codes come from ERROR_CODES (EBADMSG → 7, …); the passphrase comes from
// COFFER_BACKUP_PASSPHRASE or a hidden prompt, never from argv (it would show in `ps`).
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Keystore } from '../core/keystore.js';
import { asCofferError, CofferError, ERROR_CODES } from '../errors.js';
import { type BackupProgress, createBackup, type RecipientOption } from './create.js';
import { type BackupInfo, inspectBackup } from './inspect.js';
import { restoreBackup } from './restore.js';

interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface BackupCommandIo {
  stdout: Out;
  stderr: Out;
  env: Record<string, string | undefined>;
  openKeystore: () => Promise<Keystore>;
  /**
   * Asks for a secret without echo; absent when there is no terminal to ask on. The CLI passes its
   * own (src/cli/prompt.ts): this layer sits below the CLI and does not touch the terminal itself.
   */
  promptHidden?: (question: string) => Promise<string>;
}

const USAGE = `usage:
  coffer backup create --out FILE (--passphrase | --recipient PUBLIC_KEY)
                       [--since BACKUP_FILE_OR_GENERATION] [--app A] [--purpose P] [--key ID]... [--json]
  coffer backup restore FILE [--overwrite | --skip-existing] [--json]
  coffer backup inspect FILE [--json]

  --passphrase      seal the backup to a passphrase (COFFER_BACKUP_PASSPHRASE, or a prompt on a TTY)
  --recipient KEY   seal it to an X-Wing key: a coffer1:xwing:… string (as printed by
                    \`coffer key public ID --format coffer\`), a key id of this keystore
                    (k_…[:version]), or a file holding a coffer1 string
  --since X         incremental: only keys changed since backup file X (or store generation X)
  restore           default mode: fail if a key exists (full/selective), overwrite (incremental)

examples:
  COFFER_BACKUP_PASSPHRASE=… coffer backup create --out keys.cbk --passphrase
  coffer backup create --out daily.cbk --recipient k_abc…:1 --since keys.cbk
  coffer backup inspect keys.cbk --json
  COFFER_BACKUP_PASSPHRASE=… coffer backup restore keys.cbk --skip-existing
`;

function usageError(message: string): CofferError {
  return new CofferError('EINVAL', `${message}\n${USAGE}`);
}

async function backupPassphrase(io: BackupCommandIo, confirm: boolean): Promise<string> {
  const fromEnv = io.env.COFFER_BACKUP_PASSPHRASE;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const prompt = io.promptHidden;
  if (prompt === undefined) {
    throw new CofferError(
      'EINVAL',
      'no backup passphrase: set COFFER_BACKUP_PASSPHRASE or run on a terminal',
    );
  }
  const first = await prompt('Backup passphrase: ');
  if (confirm && (await prompt('Repeat it: ')) !== first) {
    throw new CofferError('EINVAL', 'the two passphrases differ');
  }
  return first;
}

function parseRecipient(value: string): RecipientOption | string {
  if (value.startsWith('coffer1:')) return value;
  const id = /^(k_[a-z2-7]{26})(?::([1-9][0-9]*))?$/.exec(value);
  if (id) return { keyId: id[1]!, ...(id[2] ? { version: Number(id[2]) } : {}) };
  if (existsSync(value)) {
    const text = readFileSync(value, 'utf8').trim();
    if (text.startsWith('coffer1:')) return text;
  }
  throw usageError(
    '--recipient needs a coffer1:xwing:… string, a key id (k_…[:version]) or a file holding one',
  );
}

/** A progress bar on stderr, drawn only when it is a terminal. */
function progressBar(stderr: Out): { update: (p: BackupProgress) => void; end: () => void } {
  if (!stderr.isTTY) return { update: () => {}, end: () => {} };
  let last = 0;
  let drawn = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100 && !(p.total !== undefined && p.done >= p.total)) return;
      last = now;
      drawn = true;
      if (p.total === undefined || p.total === 0) {
        stderr.write(`\r${p.phase} ${p.done}`.padEnd(60));
        return;
      }
      const width = 30;
      const filled = Math.min(width, Math.round((p.done / p.total) * width));
      const percent = Math.min(100, Math.floor((p.done / p.total) * 100));
      stderr.write(`\r${p.phase.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent}%`);
    },
    end() {
      if (drawn) stderr.write(`\r${' '.repeat(60)}\r`);
    },
  };
}

function describeInfo(info: BackupInfo): string {
  const lines = [
    `kind         ${info.kind}`,
    `backup id    ${info.backupId}`,
    `store id     ${info.storeId}`,
    `created      ${new Date(info.createdAt).toISOString()}`,
    `generation   ${info.generation}`,
    ...(info.baseGeneration !== undefined
      ? [
          `base         generation ${info.baseGeneration}${info.baseBackupId ? ` (backup ${info.baseBackupId})` : ''}`,
        ]
      : []),
    ...(info.selection ? [`selection    ${JSON.stringify(info.selection)}`] : []),
    `keys         ${info.keyCount}`,
    `recipient    ${info.recipient.type === 'passphrase' ? `passphrase (${info.recipient.kdf.alg})` : `x-wing ${info.recipient.keyId} v${info.recipient.version}`}`,
    `size         ${info.bytes} bytes, ${info.chunks} chunk(s), checksum ok`,
  ];
  return `${lines.join('\n')}\n`;
}

async function withKeystore<T>(io: BackupCommandIo, fn: (ks: Keystore) => Promise<T>): Promise<T> {
  const ks = await io.openKeystore();
  try {
    return await fn(ks);
  } finally {
    await ks.close();
  }
}

async function create(args: string[], io: BackupCommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      out: { type: 'string' },
      passphrase: { type: 'boolean' },
      recipient: { type: 'string' },
      since: { type: 'string' },
      app: { type: 'string' },
      purpose: { type: 'string' },
      key: { type: 'string', multiple: true },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (positionals.length > 0) throw usageError(`unexpected argument ${positionals[0]}`);
  if (!values.out) throw usageError('backup create needs --out FILE');
  if ((values.passphrase === true) === (values.recipient !== undefined)) {
    throw usageError('choose who can open the backup: --passphrase or --recipient');
  }
  const recipient = values.recipient !== undefined ? parseRecipient(values.recipient) : undefined;
  const since =
    values.since === undefined ? undefined : /^\d+$/.test(values.since) ? Number(values.since) : values.since;
  const passphrase = values.passphrase ? await backupPassphrase(io, true) : undefined;
  const bar = progressBar(io.stderr);
  const result = await withKeystore(io, (ks) =>
    createBackup(ks, {
      out: values.out!,
      ...(passphrase !== undefined ? { passphrase } : {}),
      ...(recipient !== undefined ? { recipient } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(values.app !== undefined ? { app: values.app } : {}),
      ...(values.purpose !== undefined ? { purpose: values.purpose } : {}),
      ...(values.key !== undefined ? { keyIds: values.key } : {}),
      onProgress: bar.update,
    }).finally(bar.end),
  );
  io.stdout.write(
    values.json
      ? `${JSON.stringify({ ...result, out: values.out })}\n`
      : `wrote ${values.out}: ${result.kind} backup of ${result.keyCount} key(s) at generation ${result.generation}, ${result.bytes} bytes\n`,
  );
  return 0;
}

async function restore(args: string[], io: BackupCommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      overwrite: { type: 'boolean' },
      'skip-existing': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw usageError('backup restore needs exactly one FILE');
  if (values.overwrite && values['skip-existing'])
    throw usageError('--overwrite and --skip-existing exclude each other');
  const path = positionals[0]!;
  const info = await inspectBackup(path);
  const passphrase = info.recipient.type === 'passphrase' ? await backupPassphrase(io, false) : undefined;
  const mode = values.overwrite ? 'overwrite' : values['skip-existing'] ? 'skip-existing' : undefined;
  const bar = progressBar(io.stderr);
  const report = await withKeystore(io, (ks) =>
    restoreBackup(ks, path, {
      ...(passphrase !== undefined ? { passphrase } : {}),
      ...(mode ? { mode } : {}),
      onProgress: bar.update,
    }).finally(bar.end),
  );
  if (values.json) io.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    io.stdout.write(
      `restored ${report.restored.length}, skipped ${report.skipped.length}, failed ${report.failed.length} of ${report.keyCount} key(s) (${report.kind} backup, mode ${report.mode})\n`,
    );
    for (const f of report.failed) io.stderr.write(`failed ${f.id}: ${f.code} ${f.message}\n`);
  }
  const first = report.failed[0];
  return first ? ERROR_CODES[first.code].exit : 0;
}

async function inspect(args: string[], io: BackupCommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { json: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw usageError('backup inspect needs exactly one FILE');
  const info = await inspectBackup(positionals[0]!);
  io.stdout.write(values.json ? `${JSON.stringify(info)}\n` : describeInfo(info));
  return 0;
}

/** `coffer backup …`: returns the process exit code (ERROR_CODES), never throws. */
export async function backupCommand(argv: string[], io: BackupCommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h' || rest.includes('--help')) {
      io.stdout.write(USAGE);
      return sub === undefined ? ERROR_CODES.EINVAL.exit : 0;
    }
    if (sub === 'create') return await create(rest, io);
    if (sub === 'restore') return await restore(rest, io);
    if (sub === 'inspect') return await inspect(rest, io);
    throw usageError(`unknown backup command ${sub}`);
  } catch (error) {
    // parseArgs reports unknown or malformed options as TypeErrors with ERR_PARSE_ARGS_* codes.
    const code = (error as { code?: string }).code;
    const e =
      typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')
        ? usageError((error as Error).message)
        : asCofferError(error);
    io.stderr.write(`coffer backup: ${e.code}: ${e.message}\n`);
    return e.exitCode;
  }
}
