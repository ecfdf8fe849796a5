// The client's sync namespace (client/surface.ts CofferOperations.sync): one method per /v1/sync
// route (docs/sync.md), the device circle of keychain sync run by the daemon's keystore.

import { CofferError } from '../errors.js';
import type {
  JoinRequestInfo,
  SyncCircleOperations,
  SyncDevice,
  SyncInfo,
} from '../sync/circle/operations.js';
import type { SyncReport, SyncStatus } from '../sync/engine/engine.js';
import type { JsonRequest } from './groups.js';

function deviceId(id: string): string {
  if (typeof id !== 'string' || !/^[0-9a-f]{16}$/.test(id))
    throw new CofferError('EINVAL', 'a device id is 16 lowercase hex digits');
  return id;
}

export class SyncClient implements SyncCircleOperations {
  readonly #json: JsonRequest;
  constructor(json: JsonRequest) {
    this.#json = json;
  }
  /** One sync now by the daemon's sync engine (SPEC §17.10). */
  now(): Promise<SyncReport> {
    return this.#json('POST', '/sync/now', { json: {} });
  }
  status(): Promise<SyncStatus> {
    return this.#json('GET', '/sync/status');
  }
  create(options: { server: string; deviceName: string }) {
    return this.#json<{ accountId: string; deviceId: string; recoveryPhrase: string }>(
      'POST',
      '/sync/create',
      {
        json: options,
      },
    );
  }
  async invite(options: { ttlMs?: number } = {}): Promise<string> {
    return (await this.#json<{ invite: string }>('POST', '/sync/invites', { json: options })).invite;
  }
  join(options: { server: string; invite: string; deviceName: string }) {
    return this.#json<{ deviceId: string; code: string }>('POST', '/sync/join', { json: options });
  }
  completeJoin() {
    return this.#json<{ status: 'joined' | 'pending'; accountId?: string }>('POST', '/sync/join/complete', {
      json: {},
    });
  }
  async joinRequests(): Promise<JoinRequestInfo[]> {
    return (await this.#json<{ requests: JoinRequestInfo[] }>('GET', '/sync/requests')).requests;
  }
  approve(id: string, options: { code?: string } = {}) {
    return this.#json<{ deviceId: string; name: string; version: number }>('POST', '/sync/approve', {
      json: { deviceId: deviceId(id), ...options },
    });
  }
  async devices(): Promise<SyncDevice[]> {
    return (await this.#json<{ devices: SyncDevice[] }>('GET', '/sync/devices')).devices;
  }
  remove(id: string) {
    return this.#json<{ version: number; epoch: number; classKeyId: string }>(
      'DELETE',
      `/sync/devices/${deviceId(id)}`,
    );
  }
  recover(options: { server: string; phrase: string; deviceName: string }) {
    return this.#json<{ accountId: string; deviceId: string; version: number }>('POST', '/sync/recover', {
      json: options,
    });
  }
  info(): Promise<SyncInfo> {
    return this.#json('GET', '/sync/info');
  }
}
