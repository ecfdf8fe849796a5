// This device's sync state (SPEC §17.9, "Local state"): which account and server, its keystore key
// ids, the circle document it last verified (its trusted version), the invites it has open as a
// sponsor and a join still waiting for approval. One barrier record (§4): the invite secrets in it
// never reach the server, and the store's writer cannot read or alter it unnoticed.
import { CofferError } from '../../errors.js';
import type { KeychainHost } from '../../keychain/host.js';
import type { DeviceKeyIds } from './signer.js';

export const STATE_KEY = 'sync/state';

export interface OpenInvite {
  mailboxId: string;
  /** Invite secret, base64. */
  secret: string;
  /** Sponsor fingerprint, base64. */
  sponsor: string;
  expiresAt: number;
}

export interface PendingJoin extends OpenInvite {
  /** The short code this device shows. */
  code: string;
}

export interface SyncState {
  format: 'coffer-sync-state';
  v: 1;
  server: string;
  deviceId: string;
  name: string;
  keys: DeviceKeyIds;
  /** Set once the device is a member (after create, an approved join, or recover). */
  accountId?: string;
  /** The trusted circle document, base64. */
  circle?: string;
  invites: OpenInvite[];
  pendingJoin?: PendingJoin;
}

export async function readState(
  host: KeychainHost,
): Promise<{ state: SyncState; revision: number } | undefined> {
  const stored = await host.storage.get(STATE_KEY);
  if (!stored) return undefined;
  const state = host.openRecord<SyncState>(STATE_KEY, stored.value);
  if (state.format !== 'coffer-sync-state' || state.v !== 1)
    throw new CofferError('EUNAVAIL', 'the sync state was written by a newer Coffer');
  return { state, revision: stored.revision };
}

/** Writes the state with compare-and-swap on the revision read (0 = absent). */
export async function writeState(
  host: KeychainHost,
  state: SyncState,
  expectRevision: number,
  event: { event: string; details?: Record<string, unknown> },
): Promise<void> {
  await host.commit(async () => ({
    ops: [{ op: 'put', key: STATE_KEY, value: host.sealRecord(STATE_KEY, state), expectRevision }],
    events: [event],
    result: undefined,
  }));
}
