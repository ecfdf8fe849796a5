// `coffer sync …` (table/sync.ts; SPEC §17.9, docs/sync.md): the device circle through the operations
// surface. The recovery phrase is printed once, by `create`; `recover` reads it from a file, piped
// stdin or a hidden prompt — never an argument, which every user sees in `ps`.
import { CofferError } from '../../errors.js';
import type { SyncDevice } from '../../sync/circle/operations.js';
import { type Context, emit, flag, int, iso, note, requireStr, str } from '../context.js';
import { readFileArg, readInput } from '../io.js';
import { canPrompt, promptHidden } from '../prompt.js';
import type { CommandRun } from '../spec.js';

const PHRASE_INPUT = { max: 4096, op: 'a recovery phrase' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const create: CommandRun = async (ctx) => {
  const result = await (await ctx.ops()).sync.create({
    server: ctx.args[0] as string,
    deviceName: requireStr(ctx.values, 'name'),
  });
  await emit(ctx, result, [
    `account  ${result.accountId}`,
    `device   ${result.deviceId}`,
    '',
    'Recovery phrase — write these 24 words down in order and keep them offline. They are shown only',
    'this once; with them alone anyone can join this circle and read every synced item.',
    '',
    ...result.recoveryPhrase.split(' ').map((w, i) => `${String(i + 1).padStart(2)}. ${w}`),
  ]);
};

export const invite: CommandRun = async (ctx) => {
  const minutes = int(ctx.values, 'ttl', 1, 1440);
  const code = await (await ctx.ops()).sync.invite(minutes !== undefined ? { ttlMs: minutes * 60_000 } : {});
  await emit(ctx, { invite: code }, code);
  note(
    ctx,
    `one-time code, valid ${minutes ?? 10} minutes: on the new device run  coffer sync join SERVER CODE --name NAME`,
  );
};

async function waitForApproval(
  ctx: Context,
  seconds: number,
): Promise<{ status: string; accountId?: string }> {
  const ops = await ctx.ops();
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const outcome = await ops.sync.completeJoin();
    if (outcome.status === 'joined' || Date.now() >= until) return outcome;
    await sleep(1000);
  }
}

export const join: CommandRun = async (ctx) => {
  const wait = int(ctx.values, 'wait', 0, 86_400) ?? 600;
  let shown: { deviceId: string; code: string } | undefined;
  if (flag(ctx.values, 'finish')) {
    if (ctx.args.length > 0) throw new CofferError('EINVAL', '--finish takes no SERVER or CODE');
  } else {
    if (ctx.args.length !== 2) throw new CofferError('EINVAL', 'give SERVER and CODE (or --finish)');
    shown = await (await ctx.ops()).sync.join({
      server: ctx.args[0] as string,
      invite: ctx.args[1] as string,
      deviceName: requireStr(ctx.values, 'name'),
    });
    note(ctx, `device ${shown.deviceId}: the inviting device must show the short code ${shown.code}`);
    if (wait > 0) note(ctx, 'waiting for the approval (coffer sync approve on the inviting device)…');
  }
  const outcome = wait > 0 || !shown ? await waitForApproval(ctx, wait) : { status: 'pending' };
  await emit(ctx, { ...shown, ...outcome }, [
    ...(shown ? [`device   ${shown.deviceId}`, `code     ${shown.code}`] : []),
    `status   ${outcome.status}`,
    ...(outcome.accountId ? [`account  ${outcome.accountId}`] : []),
  ]);
  if (outcome.status !== 'joined') note(ctx, 'not approved yet: run  coffer sync join --finish  once it is');
};

export const approve: CommandRun = async (ctx) => {
  const ops = await ctx.ops();
  const requests = await ops.sync.joinRequests();
  const deviceId = ctx.args[0];
  if (deviceId === undefined) {
    await emit(
      ctx,
      { requests },
      requests.length === 0
        ? 'no join requests waiting'
        : requests.map((r) => `${r.deviceId}  ${r.code}  ${r.name}`),
    );
    return;
  }
  let code = str(ctx.values, 'code');
  if (code === undefined && !flag(ctx.values, 'yes')) {
    const request = requests.find((r) => r.deviceId === deviceId);
    if (!request) throw new CofferError('ENOENT', `no join request from device ${deviceId}`);
    if (!canPrompt(ctx.streams))
      throw new CofferError('EINVAL', 'give --code CODE: the short code the joining device shows');
    note(ctx, `device ${request.deviceId} "${request.name}" asks to join.`);
    code = await promptHidden(ctx.streams, 'Type the short code the joining device shows: ');
  }
  const result = await ops.sync.approve(deviceId, code !== undefined ? { code } : {});
  await emit(ctx, result, `approved ${result.deviceId} "${result.name}" (circle version ${result.version})`);
};

function deviceRow(d: SyncDevice): string {
  const state = d.removedAt !== undefined ? `removed ${iso(d.removedAt)}` : `added ${iso(d.addedAt)}`;
  return `${d.id}  ${d.current ? '*' : ' '} ${d.name.padEnd(20)} ${state}`;
}

export const devices: CommandRun = async (ctx) => {
  const list = await (await ctx.ops()).sync.devices();
  await emit(ctx, { devices: list }, list.map(deviceRow));
};

export const remove: CommandRun = async (ctx) => {
  const result = await (await ctx.ops()).sync.remove(ctx.args[0] as string);
  await emit(ctx, result, `removed ${ctx.args[0]}: circle version ${result.version}, epoch ${result.epoch}`);
};

async function readPhrase(ctx: Context): Promise<string> {
  const file = str(ctx.values, 'phrase-file');
  if (file !== undefined)
    return Buffer.from(readFileArg(file, '--phrase-file', PHRASE_INPUT)).toString('utf8');
  if (!ctx.streams.stdin.isTTY)
    return Buffer.from(await readInput(ctx.streams, '-', PHRASE_INPUT)).toString('utf8');
  if (canPrompt(ctx.streams)) return promptHidden(ctx.streams, 'Recovery phrase (24 words): ');
  throw new CofferError('EINVAL', 'no recovery phrase: give --phrase-file FILE or pipe it into stdin');
}

export const recover: CommandRun = async (ctx) => {
  const deviceName = requireStr(ctx.values, 'name');
  const phrase = (await readPhrase(ctx)).normalize('NFKD').trim().split(/\s+/u).join(' ');
  const result = await (await ctx.ops()).sync.recover({ server: ctx.args[0] as string, phrase, deviceName });
  await emit(ctx, result, [
    `account  ${result.accountId}`,
    `device   ${result.deviceId}`,
    `version  ${result.version}`,
  ]);
};
