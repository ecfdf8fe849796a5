// Device manifests (SPEC §17.10.3, §17.10.4): publish this device's signed statement of what it saw
// and wrote, and check every other device's statement against what the server serves this device.
// The server cannot forge a manifest (two signatures by circle members), and cannot serve one device
// less than another device saw without one of these checks failing: a generation that went back, a
// change-log position beyond the server's, fewer items than a device counted, an item a device wrote
// missing or at a lower gencount, or another set at the same position.
import { CofferError } from '../../errors.js';
import type { SyncMembership, SyncTransport } from '../transport.js';
import { attack } from './attacks.js';
import { type DeviceManifest, reachOf, signManifest, verifyManifest } from './device-manifest.js';
import { type ServerView, type SyncState, sha256Hex } from './state.js';

export interface AuditContext {
  transport: SyncTransport;
  membership: SyncMembership;
  view: ServerView;
}

/** Manifests checked, and those that describe a log position this device has not read yet. */
export interface AuditOutcome {
  checked: number;
  ahead: DeviceManifest[];
}

/**
 * Verifies every stored manifest against the members' keys and this device's server view (the
 * view must be fresh: a pull just ran). Updates `state.peers` only when all pass. Throws the named
 * attack otherwise.
 */
export async function checkManifests(ctx: AuditContext, state: SyncState): Promise<AuditOutcome> {
  const stored = await ctx.transport.getDeviceManifests();
  const members = await ctx.membership.members();
  const peers = { ...state.peers };
  const ahead: DeviceManifest[] = [];
  for (const { deviceId, manifest } of stored) {
    let body: DeviceManifest;
    try {
      body = verifyManifest(manifest, members);
    } catch (error) {
      if (error instanceof CofferError && error.code === 'EBADMSG')
        throw attack('forged-manifest', `manifest filed for device ${deviceId}: ${error.message}`, error);
      throw error;
    }
    if (body.deviceId !== deviceId)
      throw attack('forged-manifest', `manifest of device ${body.deviceId} filed as device ${deviceId}'s`);
    if (body.account !== state.accountId)
      throw attack(
        'forged-manifest',
        `manifest of account ${body.account} served for account ${state.accountId}`,
      );
    const hash = sha256Hex(manifest);
    const known = peers[deviceId];
    const floor = known?.generation;
    if (floor !== undefined && body.generation < floor)
      throw attack(
        'older-manifest',
        `device ${deviceId}'s manifest went back from generation ${floor} to ${body.generation}`,
      );
    if (known && body.generation === known.generation && hash !== known.hash)
      throw attack(
        'older-manifest',
        `device ${deviceId} has two different manifests at generation ${body.generation}`,
      );
    peers[deviceId] = { generation: body.generation, hash };
    if (reachOf(body) > state.seq) {
      ahead.push(body);
      continue;
    }
    checkAgainstView(ctx.view, state, body);
  }
  state.peers = peers;
  return { checked: stored.length, ahead };
}

/** The checks of a manifest at a change-log position this device has read (SPEC §17.10.4). */
export function checkAgainstView(view: ServerView, state: SyncState, body: DeviceManifest): void {
  const who = `device ${body.deviceId} (generation ${body.generation})`;
  if (body.count > view.size)
    throw attack(
      'dropped-record',
      `${who} saw ${body.count} items at position ${body.seq}; the server now serves ${view.size}`,
    );
  for (const w of body.wrote) {
    const seen = view.get(w.uuid);
    if (!seen)
      throw attack(
        'dropped-record',
        `${who} wrote item ${w.uuid} (gencount ${w.gencount}); the server no longer serves it`,
      );
    if (seen.gencount < w.gencount)
      throw attack(
        'rolled-back-gencount',
        `${who} wrote item ${w.uuid} at gencount ${w.gencount}; the server serves gencount ${seen.gencount}`,
      );
  }
  if (body.seq === state.seq && state.seen && body.digest !== state.seen.digest)
    throw attack('forked-server', `${who} saw another set of items at change-log position ${body.seq}`);
}

/** Signs and stores this device's manifest; the generation is persisted by the caller first. */
export async function publishManifest(ctx: AuditContext, state: SyncState): Promise<Uint8Array> {
  const seen = state.seen;
  if (!seen) throw new CofferError('EINTERNAL', 'no complete pull to state in a manifest');
  const manifest: DeviceManifest = {
    format: 'coffer-sync-device-manifest',
    version: 1,
    account: state.accountId,
    deviceId: state.deviceId,
    generation: state.generation,
    seq: state.seq,
    digest: seen.digest,
    count: seen.count,
    wrote: [...state.wrote].sort((a, b) => (a.uuid < b.uuid ? -1 : 1)),
  };
  const bytes = await signManifest(manifest, ctx.membership.signer);
  await ctx.transport.putDeviceManifest(bytes);
  state.peers[state.deviceId] = { generation: state.generation, hash: sha256Hex(bytes) };
  return bytes;
}
