// `coffer backup create|restore|inspect` (table/admin.ts, SPEC §11): parse → one call of the
// surface's backup namespace → format, in the same way and with the same errors as every other
// command, directly, through the agent or through a daemon. The backup file is written here
// (atomically, 0600) and read here; the passphrase comes from COFFER_BACKUP_PASSPHRASE or a hidden
// prompt, never from argv (it would show in `ps`).

import { existsSync, readFileSync } from 'node:fs';
import { type BackupInfo, inspectBackup } from '../../backup/inspect.js';
import type { BackupRequest } from '../../backup/operations.js';
import { KEY_ID_PATTERN } from '../../core/names.js';
import { CofferError } from '../../errors.js';
import { type Context, emit, flag, iso, requireStr, str, strings } from '../context.js';
import { readFileArg, writeFileAtomic } from '../io.js';
import { withSpinner } from '../progress.js';
import { canPrompt, promptHidden } from '../prompt.js';
import type { CommandRun } from '../spec.js';
import { BACKUP_LIMIT } from '../table/global.js';

async function backupPassphrase(ctx: Context, confirm: boolean): Promise<string> {
  const fromEnv = ctx.config.env.COFFER_BACKUP_PASSPHRASE;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!canPrompt(ctx.streams))
    throw new CofferError(
      'EINVAL',
      'no backup passphrase: set COFFER_BACKUP_PASSPHRASE or run on a terminal',
    );
  const first = await promptHidden(ctx.streams, 'Backup passphrase: ');
  if (first.length === 0) throw new CofferError('EINVAL', 'the backup passphrase must not be empty');
  if (confirm && (await promptHidden(ctx.streams, 'Repeat it: ')) !== first)
    throw new CofferError('EINVAL', 'the two passphrases differ; nothing was written');
  return first;
}

/** --recipient: a coffer1 string, a key id of this keystore (k_…[:version]), or a file holding a coffer1 string. */
function recipient(value: string): NonNullable<BackupRequest['recipient']> {
  if (value.startsWith('coffer1:')) return value;
  const id = new RegExp(`^(${KEY_ID_PATTERN.source.slice(1, -1)})(?::([1-9][0-9]*))?$`).exec(value);
  if (id) return { keyId: id[1]!, ...(id[2] ? { version: Number(id[2]) } : {}) };
  if (existsSync(value)) {
    const text = readFileSync(value, 'utf8').trim();
    if (text.startsWith('coffer1:')) return text;
    throw new CofferError(
      'EINVAL',
      `--recipient: ${value} does not hold a coffer1:xwing:… public-key string`,
    );
  }
  throw new CofferError(
    'EINVAL',
    '--recipient needs a coffer1:xwing:… string (`coffer key public ID --format coffer`), a key id k_…[:VERSION], or a file holding the string',
  );
}

/** --since: a store generation, or the base backup file (its header is read here, no key needed). */
async function since(value: string | undefined): Promise<BackupRequest['since']> {
  if (value === undefined) return undefined;
  if (/^[0-9]{1,15}$/.test(value)) return Number(value);
  const base = await inspectBackup(value);
  return { generation: base.generation, backupId: base.backupId, storeId: base.storeId };
}

export const create: CommandRun = async (ctx) => {
  const out = requireStr(ctx.values, 'out', 'the backup file to write');
  const to = str(ctx.values, 'recipient');
  if (flag(ctx.values, 'passphrase') === (to !== undefined))
    throw new CofferError('EINVAL', 'choose who can open the backup: --passphrase or --recipient KEY');
  const app = str(ctx.values, 'app');
  const purpose = str(ctx.values, 'purpose');
  const keyIds = strings(ctx.values, 'key');
  const base = await since(str(ctx.values, 'since'));
  const request: BackupRequest = {
    ...(to !== undefined ? { recipient: recipient(to) } : { passphrase: await backupPassphrase(ctx, true) }),
    ...(base !== undefined ? { since: base } : {}),
    ...(app !== undefined ? { app } : {}),
    ...(purpose !== undefined ? { purpose } : {}),
    ...(keyIds.length > 0 ? { keyIds } : {}),
  };
  const ops = await ctx.ops();
  const { backup, ...result } = await withSpinner(
    ctx.streams,
    'Writing the backup…',
    ops.backup.create(request),
  );
  writeFileAtomic(out, backup, 0o600);
  return emit(
    ctx,
    { ...result, out },
    `wrote ${out}: ${result.kind} backup of ${result.keyCount} key(s) and ${result.itemCount} item(s) at generation ${result.generation}, ${result.bytes} bytes`,
  );
};

export const restore: CommandRun = async (ctx) => {
  const path = ctx.args[0]!;
  if (flag(ctx.values, 'overwrite') && flag(ctx.values, 'skip-existing'))
    throw new CofferError('EINVAL', '--overwrite and --skip-existing exclude each other');
  // The header says whether a passphrase is needed; a damaged file fails here, before any prompt.
  const info = await inspectBackup(path);
  const bytes = readFileArg(path, 'backup', {
    max: BACKUP_LIMIT,
    op: 'backup restore',
    advice: "restore it with the library's restoreBackup, which reads files of any size",
  });
  const passphrase = info.recipient.type === 'passphrase' ? await backupPassphrase(ctx, false) : undefined;
  const mode = flag(ctx.values, 'overwrite')
    ? 'overwrite'
    : flag(ctx.values, 'skip-existing')
      ? 'skip-existing'
      : undefined;
  const ops = await ctx.ops();
  const report = await withSpinner(
    ctx.streams,
    'Restoring…',
    ops.backup.restore(bytes, {
      ...(passphrase !== undefined ? { passphrase } : {}),
      ...(mode ? { mode } : {}),
    }),
  );
  await emit(ctx, report, [
    `restored ${report.restored.length}, skipped ${report.skipped.length} of ${report.keyCount} key(s); restored ${report.restoredItems.length}, skipped ${report.skippedItems.length} of ${report.itemCount} item(s); failed ${report.failed.length} (${report.kind} backup, mode ${report.mode})`,
    ...report.failed.map((f) => `failed ${f.id}: ${f.message} (${f.code})`),
  ]);
  const first = report.failed[0];
  if (first)
    throw new CofferError(
      first.code,
      `${report.failed.length} key(s) or item(s) were not restored (first: ${first.id})`,
    );
};

function describeInfo(info: BackupInfo): string[] {
  return [
    `kind         ${info.kind}`,
    `backup id    ${info.backupId}`,
    `store id     ${info.storeId}`,
    `created      ${iso(info.createdAt)}`,
    `generation   ${info.generation}`,
    ...(info.baseGeneration !== undefined
      ? [
          `base         generation ${info.baseGeneration}${info.baseBackupId ? ` (backup ${info.baseBackupId})` : ''}`,
        ]
      : []),
    ...(info.selection ? [`selection    ${JSON.stringify(info.selection)}`] : []),
    `keys         ${info.keyCount}`,
    `items        ${info.itemCount} (format version ${info.version})`,
    `recipient    ${info.recipient.type === 'passphrase' ? `passphrase (${info.recipient.kdf.alg})` : `x-wing ${info.recipient.keyId} v${info.recipient.version}`}`,
    `size         ${info.bytes} bytes, ${info.chunks} chunk(s), checksum ok`,
  ];
}

export const inspect: CommandRun = async (ctx) => {
  const info = await inspectBackup(ctx.args[0]!);
  return emit(ctx, info, describeInfo(info));
};
