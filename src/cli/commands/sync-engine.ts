// `coffer sync now | status` (table/sync-engine.ts, SPEC §17.10): the sync engine of the daemon's
// keystore, or of the store opened in this process (`ks.sync`); ENOENT before the device is in a circle.
import type { SyncReport, SyncStatus } from '../../sync/engine/engine.js';
import { type Context, emit, iso } from '../context.js';
import type { CommandRun } from '../spec.js';

async function engine(ctx: Context): Promise<{ now(): Promise<SyncReport>; status(): Promise<SyncStatus> }> {
  return (await ctx.ops()).sync;
}

export const now: CommandRun = async (ctx) => {
  const r = await (await engine(ctx)).now();
  return emit(
    ctx,
    r,
    `pushed ${r.pushed}, pulled ${r.pulled}, conflicts ${r.conflicts}; ${r.roundTrips} round trips, ${r.bytesUp} B up, ${r.bytesDown} B down`,
  );
};

export const status: CommandRun = async (ctx) => {
  const s = await (await engine(ctx)).status();
  const lines = [
    `account ${s.accountId}, device ${s.deviceId}${s.running ? ' (syncing)' : ''}`,
    `last sync: ${s.lastSync !== undefined ? iso(s.lastSync) : 'never'}; queued writes: ${s.queued}`,
    ...(s.lastError ? [`last error: ${s.lastError.code} ${s.lastError.message}`] : []),
    ...(s.attack ? [`ATTACK DETECTED (${s.attack.name}) at ${iso(s.attack.at)}: ${s.attack.message}`] : []),
  ];
  return emit(ctx, s, lines);
};
