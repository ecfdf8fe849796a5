// `coffer item …` (table/items.ts; SPEC §16, docs/keychain.md): the keychain through the operations
// surface. Secrets are input only from a hidden prompt, --secret-file or piped stdin — never an
// argument, which every user sees in `ps` — and output only with --reveal or into a 0600 file.
import { CofferError } from '../../errors.js';
import {
  type CharacterClass,
  generatePassphrase,
  generatePassword,
  passwordBits,
} from '../../keychain/generate.js';
import type { ImportFormat } from '../../keychain/import/formats.js';
import type {
  AddItemSpec,
  FindQuery,
  Item,
  ItemAttributesPatch,
  ItemInfo,
  ItemKind,
} from '../../keychain/types.js';
import { type Context, emit, flag, int, iso, note, str, strings } from '../context.js';
import { readFileArg, readInput, writeFileAtomic } from '../io.js';
import { pagedRows, streamPages } from '../paged-output.js';
import { canPrompt, promptNewSecret } from '../prompt.js';
import type { CommandRun } from '../spec.js';

const SECRET_INPUT = { max: 1 << 20, op: 'a secret' };
const KINDS: ItemKind[] = ['generic-password', 'internet-password', 'note', 'key'];

function itemRow(item: ItemInfo): string {
  const a = item.attributes;
  const where = a.service ?? a.server ?? a.keyId ?? '';
  return [
    item.id,
    item.kind.padEnd(17),
    `v${item.version}`.padEnd(5),
    item.group.padEnd(12),
    where,
    a.account ?? '',
    a.label ? `"${a.label}"` : '',
  ]
    .join('  ')
    .trimEnd();
}

function itemDetails(item: ItemInfo): string[] {
  const a = item.attributes;
  const lines = [
    `id         ${item.id}`,
    `kind       ${item.kind}`,
    `group      ${item.group}`,
    `version    ${item.version}`,
    `sync       ${item.sync ? 'yes' : 'this device only'}`,
    `created    ${iso(item.createdAt)}`,
    `modified   ${iso(item.modifiedAt)}`,
  ];
  if (item.deletedAt !== undefined) lines.push(`deleted    ${iso(item.deletedAt)}`);
  for (const name of [
    'label',
    'service',
    'server',
    'account',
    'protocol',
    'port',
    'path',
    'keyId',
    'comment',
  ] as const) {
    if (a[name] !== undefined) lines.push(`${name.padEnd(10)} ${String(a[name])}`);
  }
  for (const [name, value] of Object.entries(a.custom ?? {})) lines.push(`field      ${name}: ${value}`);
  return lines;
}

/** Attribute options as a patch (an empty custom value removes the field). */
function attributeOptions(ctx: Context, forUpdate: boolean): ItemAttributesPatch {
  const out: Record<string, unknown> = {};
  for (const name of ['label', 'comment', 'service', 'account', 'server', 'protocol', 'path'] as const) {
    const value = str(ctx.values, name);
    if (value !== undefined) out[name] = forUpdate && value === '' ? null : value;
  }
  const port = int(ctx.values, 'port', 0, 65535);
  if (port !== undefined) out.port = port;
  const fields = strings(ctx.values, 'field');
  if (fields.length > 0) {
    const custom: Record<string, string | null> = {};
    for (const field of fields) {
      const eq = field.indexOf('=');
      if (eq < 1) throw new CofferError('EINVAL', '--field takes NAME=VALUE');
      const value = field.slice(eq + 1);
      custom[field.slice(0, eq)] = forUpdate && value === '' ? null : value;
    }
    out.custom = custom;
  }
  return out as ItemAttributesPatch;
}

/** The secret: --generate, --secret-file, piped stdin, or a hidden prompt asked twice. */
async function readSecret(ctx: Context, required: boolean): Promise<Uint8Array | undefined> {
  if (flag(ctx.values, 'generate')) {
    const password = generatePassword();
    note(ctx, 'generated a 24-character password (use `coffer item get ID --reveal` to see it)');
    return new TextEncoder().encode(password);
  }
  const file = str(ctx.values, 'secret-file');
  if (file !== undefined) return readFileArg(file, '--secret-file', SECRET_INPUT);
  if (!required && !flag(ctx.values, 'secret')) return undefined;
  if (!ctx.streams.stdin.isTTY) return readInput(ctx.streams, '-', SECRET_INPUT);
  if (canPrompt(ctx.streams)) return new TextEncoder().encode(await promptNewSecret(ctx.streams, 'secret'));
  throw new CofferError(
    'EINVAL',
    'no secret: give --secret-file FILE, pipe it into stdin, or use --generate',
  );
}

function expectVersion(ctx: Context): { expectedVersion?: number } {
  const v = int(ctx.values, 'expect-version', 1, Number.MAX_SAFE_INTEGER);
  return v === undefined ? {} : { expectedVersion: v };
}

export const add: CommandRun = async (ctx) => {
  const kind = ctx.args[0] as ItemKind;
  if (!KINDS.includes(kind)) throw new CofferError('EINVAL', `KIND is one of ${KINDS.join(', ')}`);
  const attributes = attributeOptions(ctx, false) as AddItemSpec['attributes'];
  const keyId = str(ctx.values, 'key');
  if (keyId !== undefined) attributes.keyId = keyId;
  const group = str(ctx.values, 'group');
  const spec: AddItemSpec = {
    kind,
    attributes,
    ...(group !== undefined ? { group } : {}),
    ...(flag(ctx.values, 'this-device-only') ? { sync: false } : {}),
  };
  if (kind !== 'key') spec.secret = await readSecret(ctx, true);
  const item = await (await ctx.ops()).keychain.add(spec);
  await emit(ctx, item, item.id);
};

export const get: CommandRun = async (ctx) => {
  const id = ctx.args[0] as string;
  const ops = await ctx.ops();
  const out = str(ctx.values, 'out');
  if (!flag(ctx.values, 'reveal') && out === undefined) {
    const info = await ops.keychain.getInfo(id);
    return emit(ctx, info, itemDetails(info));
  }
  const item: Item = await ops.keychain.get(id);
  if (out !== undefined) {
    writeFileAtomic(out, item.secret, 0o600);
    const { secret: _secret, ...info } = item;
    return emit(ctx, info, [...itemDetails(info), `secret     written to ${out}`]);
  }
  await emit(ctx, item, [...itemDetails(item), `secret     ${Buffer.from(item.secret).toString('utf8')}`]);
};

/**
 * Streams every match page by page (docs/cli.md "Listings stream"). With --limit or --cursor it prints
 * one page instead, and the cursor to continue, for scripts that page on their own.
 */
export const find: CommandRun = async (ctx) => {
  const query: FindQuery = {};
  for (const name of ['kind', 'service', 'account', 'server', 'label', 'group'] as const) {
    const value = str(ctx.values, name);
    if (value !== undefined) (query as Record<string, unknown>)[name] = value;
  }
  const ops = await ctx.ops();
  const limit = int(ctx.values, 'limit', 1, 1000);
  const cursor = str(ctx.values, 'cursor');
  if (limit !== undefined || cursor !== undefined) {
    const result = await ops.keychain.find({
      ...query,
      ...(limit !== undefined ? { limit } : {}),
      ...(cursor !== undefined ? { cursor } : {}),
    });
    const lines = result.items.map(itemRow);
    if (result.cursor) lines.push(`more: --cursor ${result.cursor}`);
    return emit(ctx, result, lines);
  }
  const pageSize = int(ctx.values, 'page-size', 1, 1000) ?? 500;
  await streamPages(
    ctx,
    pagedRows(
      (next) => ops.keychain.find({ ...query, limit: pageSize, ...next }),
      (page) => page.items,
    ),
    itemRow,
  );
};

export const update: CommandRun = async (ctx) => {
  const attributes = attributeOptions(ctx, true);
  const secret = await readSecret(ctx, false);
  const changes = {
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
    ...(secret !== undefined ? { secret } : {}),
  };
  if (Object.keys(changes).length === 0)
    throw new CofferError(
      'EINVAL',
      'nothing to change: give attribute options, --secret, --secret-file or --generate',
    );
  const info = await (await ctx.ops()).keychain.update(ctx.args[0] as string, changes, expectVersion(ctx));
  await emit(ctx, info, `${info.id} version ${info.version}`);
};

export const remove: CommandRun = async (ctx) => {
  const info = await (await ctx.ops()).keychain.delete(ctx.args[0] as string, expectVersion(ctx));
  await emit(
    ctx,
    info,
    `${info.id} deleted (version ${info.version}); \`coffer item undelete ${info.id}\` brings it back`,
  );
};

export const undelete: CommandRun = async (ctx) => {
  const info = await (await ctx.ops()).keychain.undelete(ctx.args[0] as string);
  await emit(ctx, info, `${info.id} restored (version ${info.version})`);
};

export const history: CommandRun = async (ctx) => {
  const items = await (await ctx.ops()).keychain.history(ctx.args[0] as string);
  const show = flag(ctx.values, 'reveal');
  const rows = items.map((item) => {
    const state = item.deletedAt !== undefined ? `deleted ${iso(item.deletedAt)}` : iso(item.modifiedAt);
    return `v${item.version}  ${state}${show && item.deletedAt === undefined ? `  ${Buffer.from(item.secret).toString('utf8')}` : ''}`;
  });
  const json = show ? items : items.map(({ secret: _secret, ...info }) => info);
  await emit(ctx, json, rows);
};

export const historyBound: CommandRun = async (ctx) => {
  const keychain = (await ctx.ops()).keychain;
  // Parsed here with 0 allowed so that zero reaches the keystore, which refuses it (EINVAL) by name.
  const count = int(ctx.values, 'count', 0, Number.MAX_SAFE_INTEGER);
  const bytes = int(ctx.values, 'bytes', 0, Number.MAX_SAFE_INTEGER);
  let bound = await keychain.historyBound();
  if (count !== undefined || bytes !== undefined)
    bound = await keychain.setHistoryBound({ count: count ?? bound.count, bytes: bytes ?? bound.bytes });
  await emit(ctx, bound, `history: ${bound.count} version(s), ${bound.bytes} bytes per item`);
};

export const importFile: CommandRun = async (ctx) => {
  const [format, file] = ctx.args as [ImportFormat, string];
  const data = Buffer.from(readFileArg(file, 'FILE', { max: 32 << 20, op: 'an export' })).toString('utf8');
  const group = str(ctx.values, 'group');
  const report = await (await ctx.ops()).keychain.import({
    format,
    data,
    ...(group !== undefined ? { group } : {}),
    ...(flag(ctx.values, 'this-device-only') ? { sync: false } : {}),
  });
  const lines = [`imported ${report.imported.length}, skipped ${report.skipped.length}`];
  for (const s of report.skipped)
    lines.push(`skipped entry ${s.entry}${s.name ? ` (${s.name})` : ''}: ${s.reason}`);
  await emit(ctx, report, lines);
  note(ctx, `now delete ${file}: it holds your passwords in the clear`);
};

export const generate: CommandRun = async (ctx) => {
  const words = int(ctx.values, 'words', 4, 64);
  if (words !== undefined) {
    const phrase = generatePassphrase(words);
    return emit(ctx, { passphrase: phrase, bits: words * 11 }, phrase);
  }
  const length = int(ctx.values, 'length', 8, 1024) ?? 24;
  const classes = (str(ctx.values, 'classes') ?? 'lower,upper,digits,symbols').split(',') as CharacterClass[];
  const password = generatePassword(length, classes);
  await emit(ctx, { password, bits: passwordBits(length, classes) }, password);
};
