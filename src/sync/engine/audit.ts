// Device manifests (SPEC §17.10.3, §17.10.4): publish this device's signed statement of what it saw
// and wrote, and check every other device's statement against what the server serves this device.
// The server cannot forge a manifest (two signatures by circle members), and cannot serve one device
// less than another device saw without one of these checks failing: a generation that went back, a
// change-log position beyond the server's, fewer items than a device counted, an item a device wrote
// missing or at a lower gencount, or another set at the same position.
import { CofferError } from '../../errors.js';
import type { SyncMembership, SyncTransport } from '../transport.js';
import { attack } from './attacks.js';
import { type DeviceManifest, signManifest, verifyManifest } from './device-manifest.js';
import { type ServerView, type SyncState, sha256Hex } from './state.js';

export interface AuditContext {
  transport: SyncTransport;
  membership: SyncMembership;
  view: ServerView;
}

/**
 * Reads and verifies every stored manifest before the pull: both signatures under the members' keys,
 * the account, and a generation that never goes back (SPEC §17.10.4). Updates `state.peers`. The
 * bodies then give floors for the pull (an item a device wrote at gencount g is never below g) and
 * are checked against the view after it (`checkAgainstView`).
 */
export async function readManifests(ctx: AuditContext, state: SyncState): Promise<DeviceManifest[]> {
  const stored = await ctx.transport.getDeviceManifests();
  const members = await ctx.membership.members();
  const peers = { ...state.peers };
  const bodies: DeviceManifest[] = [];
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
    if (known && body.generation < known.generation)
      throw attack(
        'older-manifest',
        `device ${deviceId}'s manifest went back from generation ${known.generation} to ${body.generation}`,
      );
    if (known && body.generation === known.generation && hash !== known.hash)
      throw attack(
        'older-manifest',
        `device ${deviceId} has two different manifests at generation ${body.generation}`,
      );
    peers[deviceId] = { generation: body.generation, hash };
    bodies.push(body);
  }
  state.peers = peers;
  return bodies;
}

/** uuid → the highest gencount some device's manifest says it wrote: the server may serve none lower. */
export function floorsOf(bodies: readonly DeviceManifest[]): Map<string, number> {
  const floors = new Map<string, number>();
  for (const body of bodies)
    for (const w of body.wrote) if ((floors.get(w.uuid) ?? 0) < w.gencount) floors.set(w.uuid, w.gencount);
  return floors;
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
