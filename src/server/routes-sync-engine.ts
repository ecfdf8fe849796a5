// The sync engine's daemon routes (SPEC §17.10): one sync now, and the engine's status (last sync,
// queued writes, last error, a detected server attack). Admin only: the status names the account.
import { type Route, route } from './router.js';

export const syncEngineRoutes: Route[] = [
  route({
    method: 'POST',
    path: '/v1/sync/now',
    summary: 'Sync the keychain with the other devices now: pull, push, merge (admin)',
    auth: 'admin',
    maxBody: 1024,
    response: {
      type: 'object',
      description: 'SyncReport',
      properties: {
        pushed: { type: 'integer' },
        pulled: { type: 'integer' },
        conflicts: { type: 'integer' },
        bytesUp: { type: 'integer' },
        bytesDown: { type: 'integer' },
        roundTrips: { type: 'integer' },
      },
    },
    handler: async ({ daemon }) => ({ json: await daemon.keystore().sync.now() }),
  }),
  route({
    method: 'GET',
    path: '/v1/sync/status',
    summary: "The sync engine's state: last sync, queued writes, last error, a detected attack (admin)",
    auth: 'admin',
    maxBody: 0,
    response: {
      type: 'object',
      description: 'SyncStatus',
      properties: {
        accountId: { type: 'string' },
        deviceId: { type: 'string' },
        running: { type: 'boolean' },
        lastSync: { type: 'integer' },
        queued: { type: 'integer' },
        seq: { type: 'integer' },
        generation: { type: 'integer' },
        lastError: { type: 'object' },
        attack: { type: 'object' },
      },
    },
    handler: async ({ daemon }) => ({ json: await daemon.keystore().sync.status() }),
  }),
];
