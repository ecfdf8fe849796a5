// Rotation commands (table/admin.ts, SPEC §13): `rotate due` runs one scheduler tick (cron; a
// daemon's own scheduler when there is a daemon), `rotate confirm` confirms a held rotation, and
// `rotate emergency` rotates now and marks the old version compromised with an incident record.

import { CofferError } from '../../errors.js';
import type { RotationEvent } from '../../rotation/events.js';
import { emit, requireStr, str } from '../context.js';
import type { CommandRun } from '../spec.js';

function eventLine(e: RotationEvent): string {
  const detail =
    e.type === 'rotated' || e.type === 'alert' ? ` v${e.version} → v${e.newVersion}` : ` v${e.version}`;
  return `${e.type} ${e.keyId}${detail}`;
}

export const due: CommandRun = async (ctx) => {
  const report = await (await ctx.ops()).rotation.due();
  const lines = [
    ...report.events.map(eventLine),
    `${report.events.length} events, ${report.rotated.length} rotated${report.failures.length ? `, ${report.failures.length} failed` : ''}`,
    ...report.failures.map((f) => `failed ${f.keyId}: ${f.message} (${f.code})`),
  ];
  await emit(ctx, report, lines);
  if (report.failures.length > 0)
    throw new CofferError(
      report.failures[0]!.code,
      `${report.failures.length} key(s) could not be processed (first: ${report.failures[0]!.keyId})`,
    );
};

export const confirm: CommandRun = async (ctx) => {
  const event = await (await ctx.ops()).rotation.confirm(ctx.args[0]!);
  return emit(ctx, event, `${event.keyId}: rotated to v${event.newVersion}`);
};

export const emergency: CommandRun = async (ctx) => {
  const description = requireStr(ctx.values, 'description', 'say what happened');
  const incidentId = str(ctx.values, 'incident-id');
  const event = await (await ctx.ops()).rotation.emergency(ctx.args[0]!, {
    description,
    ...(incidentId ? { id: incidentId } : {}),
  });
  return emit(
    ctx,
    event,
    `${event.keyId}: version ${event.newVersion} is primary; version ${event.version} is compromised`,
  );
};
