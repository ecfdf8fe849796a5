// The circle operations of the shared surface (CofferOperations.sync, client/surface.ts): `ks.sync`
// (src/sync/service.ts) implements them in this process, the client's `sync` namespace over the
// daemon's /v1/sync routes, and the engine's `now` and `status` (SPEC §17.10). Types only.

import type { SyncReport, SyncStatus } from '../engine/engine.js';

export interface SyncDevice {
  id: string;
  name: string;
  addedAt: number;
  addedBy: string;
  removedAt?: number;
  /** True for the device this keystore is. */
  current: boolean;
}

export interface JoinRequestInfo {
  deviceId: string;
  name: string;
  /** The short code the joining device shows: compare before approving. */
  code: string;
  at: number;
}

export interface SyncInfo {
  deviceId?: string;
  server?: string;
  accountId?: string;
  version?: number;
  epoch?: number;
  pendingJoin?: { code: string; expiresAt: number };
  /** The class keys this keychain holds, its current one last. */
  classKeyIds: string[];
}

export interface SyncCircleOperations {
  create(options: { server: string; deviceName: string }): Promise<{
    accountId: string;
    deviceId: string;
    recoveryPhrase: string;
  }>;
  invite(options?: { ttlMs?: number }): Promise<string>;
  join(options: {
    server: string;
    invite: string;
    deviceName: string;
  }): Promise<{ deviceId: string; code: string }>;
  completeJoin(): Promise<{ status: 'joined' | 'pending'; accountId?: string }>;
  /** One sync now through the keychain's sync engine (SPEC §17.10). */
  now(): Promise<SyncReport>;
  /** The engine's last sync, queued writes, last error, a detected server attack. */
  status(): Promise<SyncStatus>;
  joinRequests(): Promise<JoinRequestInfo[]>;
  approve(
    deviceId: string,
    options?: { code?: string },
  ): Promise<{ deviceId: string; name: string; version: number }>;
  devices(): Promise<SyncDevice[]>;
  remove(deviceId: string): Promise<{ version: number; epoch: number; classKeyId: string }>;
  recover(options: {
    server: string;
    phrase: string;
    deviceName: string;
  }): Promise<{ accountId: string; deviceId: string; version: number }>;
  info(): Promise<SyncInfo>;
}
