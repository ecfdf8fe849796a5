// `coffer key …` (table/keys.ts): create (one, or many in durable batches with a progress bar), list,
// show, the lifecycle transitions of SPEC §2 and public key export, including the `coffer`
// public-key string for X-Wing keys that `coffer encrypt --to` takes.
import type { PublicKeyFormat } from '../../core/public-key.js';
import { encodePublicKeyString } from '../../core/public-key-string.js';
import type { CreateKeySpec, KeyAlgorithm, KeyInfo, KeyUse, RotationPolicy } from '../../core/types.js';
import { CofferError } from '../../errors.js';
import {
  type Context,
  duration,
  emit,
  flag,
  int,
  keyDetails,
  keyRow,
  note,
  requireStr,
  str,
  strings,
} from '../context.js';
import { writeBinary, writeText } from '../io.js';
import { pagedRows, streamPages } from '../paged-output.js';
import { ProgressBar } from '../progress.js';
import type { CommandRun } from '../spec.js';

/** Keys per durable batch in bulk creation: one fsync each, and a progress step each. */
const CREATE_CHUNK = 100;

export function labels(values: Context['values']): Record<string, string> | undefined {
  const list = strings(values, 'label');
  if (list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CofferError('EINVAL', `--label takes KEY=VALUE, got ${JSON.stringify(item)}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

function rotation(values: Context['values']): RotationPolicy | undefined {
  const policy: RotationPolicy = {};
  const every = duration(values, 'rotate-every');
  const grace = duration(values, 'grace');
  const maxUses = int(values, 'max-uses', 1, Number.MAX_SAFE_INTEGER);
  if (every !== undefined) policy.intervalMs = every;
  if (grace !== undefined) policy.gracePeriodMs = grace;
  if (maxUses !== undefined) policy.maxUses = maxUses;
  const warn = duration(values, 'warn-before');
  if (warn !== undefined) policy.advanceWarningMs = warn;
  if (values.confirm === true) policy.requireConfirmation = true;
  return Object.keys(policy).length > 0 ? policy : undefined;
}

export const create: CommandRun = async (ctx) => {
  const v = ctx.values;
  const alg = requireStr(v, 'alg', 'see `coffer key create --help` for the algorithms');
  const uses = strings(v, 'uses');
  const spec: CreateKeySpec = {
    app: requireStr(v, 'app'),
    purpose: requireStr(v, 'purpose'),
    algorithm: alg as KeyAlgorithm,
    ...(uses.length > 0 ? { uses: uses as KeyUse[] } : {}),
    ...(labels(v) ? { labels: labels(v) } : {}),
    ...(rotation(v) ? { rotation: rotation(v) } : {}),
    ...(flag(v, 'pre-active') ? { preActive: true } : {}),
    ...(flag(v, 'no-backup') ? { backupAllowed: false } : {}),
    ...(flag(v, 'syncable') ? { syncable: true } : {}),
  };
  const count = int(v, 'count', 1, 100_000);
  const ops = await ctx.ops();
  if (count === undefined) {
    const key = await ops.createKey(spec);
    if (key.insecure) note(ctx, 'warning: insecure deterministic mode: this key is predictable');
    if (key.state === 'pre-active')
      note(ctx, `${key.id} is pre-active: \`coffer key activate ${key.id}\` when it may be used`);
    return emit(ctx, key, key.id);
  }
  const bar = new ProgressBar(ctx.streams, count, 'Creating keys');
  const keys: KeyInfo[] = [];
  for (let done = 0; done < count; done += CREATE_CHUNK) {
    const batch = Array.from({ length: Math.min(CREATE_CHUNK, count - done) }, () => ({ ...spec }));
    keys.push(...(await ops.createKeys(batch)));
    bar.tick(batch.length);
  }
  bar.finish();
  return emit(
    ctx,
    keys,
    keys.map((k) => k.id),
  );
};

/** Streams the listing page by page (docs/cli.md "Listings stream"), whatever the page size. */
export const list: CommandRun = async (ctx) => {
  const app = str(ctx.values, 'app');
  const purpose = str(ctx.values, 'purpose');
  const limit = int(ctx.values, 'page-size', 1, 1000) ?? 500;
  const ops = await ctx.ops();
  const request = {
    ...(app !== undefined ? { app } : {}),
    ...(purpose !== undefined ? { purpose } : {}),
    limit,
  };
  await streamPages(
    ctx,
    pagedRows(
      (cursor) => ops.listKeysPage({ ...request, ...cursor }),
      (page) => page.keys,
    ),
    keyRow,
  );
};

export const show: CommandRun = async (ctx) => {
  const key = await (await ctx.ops()).getKey(ctx.args[0]!);
  return emit(ctx, key, keyDetails(key));
};

function reason(ctx: Context): { reason?: string } {
  const text = str(ctx.values, 'reason');
  return text !== undefined ? { reason: text } : {};
}

const transitioned = (ctx: Context, key: KeyInfo) =>
  emit(ctx, key, `${key.id} ${key.state}, primary version v${key.primaryVersion}`);

export const activate: CommandRun = async (ctx) =>
  transitioned(ctx, await (await ctx.ops()).activate(ctx.args[0]!));
export const rotate: CommandRun = async (ctx) =>
  transitioned(ctx, await (await ctx.ops()).rotate(ctx.args[0]!, reason(ctx)));
export const suspend: CommandRun = async (ctx) =>
  transitioned(ctx, await (await ctx.ops()).suspend(ctx.args[0]!, reason(ctx)));
export const resume: CommandRun = async (ctx) =>
  transitioned(ctx, await (await ctx.ops()).resume(ctx.args[0]!));

export const revoke: CommandRun = async (ctx) => {
  const why = requireStr(ctx.values, 'reason', 'say why the key is compromised (it goes into the audit log)');
  const version = int(ctx.values, 'version', 1, 0xffffffff);
  const key = await (await ctx.ops()).revoke(ctx.args[0]!, why, version !== undefined ? { version } : {});
  return emit(ctx, key, `${key.id} ${version !== undefined ? `v${version} ` : ''}revoked (compromised)`);
};

export const destroy: CommandRun = async (ctx) => {
  if (!flag(ctx.values, 'yes'))
    throw new CofferError('EINVAL', 'destroying key material cannot be undone: add --yes to confirm');
  const version = int(ctx.values, 'version', 1, 0xffffffff);
  const key = await (await ctx.ops()).destroy(ctx.args[0]!, {
    ...(version !== undefined ? { version } : {}),
    ...reason(ctx),
  });
  return emit(ctx, key, `${key.id} ${version !== undefined ? `v${version} ` : ''}destroyed`);
};

export const publicKey: CommandRun = async (ctx) => {
  const id = ctx.args[0]!;
  const format = str(ctx.values, 'format') ?? 'pem';
  const version = int(ctx.values, 'version', 1, 0xffffffff);
  const out = str(ctx.values, 'out');
  const ops = await ctx.ops();
  let result: Uint8Array | string | object;
  if (format === 'coffer') {
    const key = await ops.getKey(id);
    if (key.algorithm !== 'x-wing')
      throw new CofferError(
        'EINVAL',
        `the coffer public-key string exists for x-wing keys only, not ${key.algorithm}`,
      );
    const v = version ?? key.primaryVersion;
    const raw = await ops.publicKey(id, 'raw', { version: v });
    result = encodePublicKeyString({ keyId: id, version: v, publicKey: raw as Uint8Array });
  } else {
    result = await ops.publicKey(id, format as PublicKeyFormat, version !== undefined ? { version } : {});
  }
  if (ctx.config.json) return emit(ctx, { id, format, publicKey: result }, '');
  if (result instanceof Uint8Array)
    return writeBinary(ctx.streams, result, { out, base64: flag(ctx.values, 'base64') });
  const text = typeof result === 'string' ? result : JSON.stringify(result, null, 2);
  if (out !== undefined && out !== '-')
    return writeBinary(ctx.streams, Buffer.from(text.endsWith('\n') ? text : `${text}\n`), { out });
  return writeText(ctx.streams, text);
};
