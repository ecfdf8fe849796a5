// Sync circle routes of the daemon (SPEC §17.9, docs/sync.md): the daemon's keystore as one device of
// a keychain-sync circle — create the account, invite, join, approve, list and remove devices,
// recover from the phrase. All admin: they change who can read every synced item.
import { type Route, route } from './router.js';
import { type JsonSchema, s } from './schema.js';

const SMALL = 16 * 1024;
const SERVER = s.string({ maxLength: 2048, minLength: 1, description: 'the sync server URL' });
const NAME = s.string({ maxLength: 64, minLength: 1, description: 'this device’s name in the circle' });
const DEVICE_ID = s.string({ pattern: /^[0-9a-f]{16}$/, maxLength: 16, description: 'a device id (16 hex)' });
const obj = (description: string, properties: Record<string, JsonSchema>): JsonSchema => ({
  type: 'object',
  description,
  properties,
});
const DEVICE = obj('SyncDevice', {
  id: { type: 'string' },
  name: { type: 'string' },
  addedAt: { type: 'integer' },
  addedBy: { type: 'string' },
  removedAt: { type: 'integer' },
  current: { type: 'boolean' },
});

export const syncRoutes: Route[] = [
  route({
    method: 'POST',
    path: '/v1/sync/create',
    summary:
      'Create a sync account with this keystore as its first device; returns the recovery phrase once (admin)',
    auth: 'admin',
    body: s.object({ server: SERVER, deviceName: NAME }),
    status: 201,
    maxBody: SMALL,
    response: obj('accountId, deviceId, recoveryPhrase (24 words: shown once)', {
      accountId: { type: 'string' },
      deviceId: { type: 'string' },
      recoveryPhrase: { type: 'string' },
    }),
    handler: async ({ body, daemon }) => {
      const created = await daemon.keystore().sync.create(body);
      daemon.startBackgroundSync();
      return { json: created };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/sync/invites',
    summary: 'Open a one-time invite for a new device; returns its code (admin)',
    auth: 'admin',
    body: s.object({ ttlMs: s.optional(s.integer(1000, 24 * 3600_000)) }),
    status: 201,
    maxBody: SMALL,
    response: obj('the invite code', { invite: { type: 'string' } }),
    handler: async ({ body, daemon }) => ({ json: { invite: await daemon.keystore().sync.invite(body) } }),
  }),
  route({
    method: 'POST',
    path: '/v1/sync/join',
    summary:
      'Ask to join a circle with an invite code; returns this device id and the short code to compare (admin)',
    auth: 'admin',
    body: s.object({ server: SERVER, invite: s.string({ maxLength: 200 }), deviceName: NAME }),
    maxBody: SMALL,
    response: obj('deviceId, code', { deviceId: { type: 'string' }, code: { type: 'string' } }),
    handler: async ({ body, daemon }) => ({ json: await daemon.keystore().sync.join(body) }),
  }),
  route({
    method: 'POST',
    path: '/v1/sync/join/complete',
    summary: 'Finish a join once approved: status joined or pending (admin)',
    auth: 'admin',
    maxBody: SMALL,
    response: obj('status, accountId?', { status: { type: 'string' }, accountId: { type: 'string' } }),
    handler: async ({ daemon }) => {
      const joined = await daemon.keystore().sync.completeJoin();
      if (joined.status === 'joined') daemon.startBackgroundSync();
      return { json: joined };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/sync/requests',
    summary: 'Join requests waiting on this device’s invites, with their short codes (admin)',
    auth: 'admin',
    maxBody: 0,
    response: obj('requests', { requests: { type: 'array', items: { type: 'object' } } }),
    handler: async ({ daemon }) => ({ json: { requests: await daemon.keystore().sync.joinRequests() } }),
  }),
  route({
    method: 'POST',
    path: '/v1/sync/approve',
    summary: 'Approve a join request: add the device and send it the class keys (admin)',
    auth: 'admin',
    body: s.object({ deviceId: DEVICE_ID, code: s.optional(s.string({ maxLength: 16 })) }),
    maxBody: SMALL,
    response: obj('deviceId, name, version', {
      deviceId: { type: 'string' },
      name: { type: 'string' },
      version: { type: 'integer' },
    }),
    handler: async ({ body, daemon }) => ({
      json: await daemon
        .keystore()
        .sync.approve(body.deviceId, body.code !== undefined ? { code: body.code } : {}),
    }),
  }),
  route({
    method: 'GET',
    path: '/v1/sync/devices',
    summary: 'The circle’s devices, removed ones with removedAt (admin)',
    auth: 'admin',
    maxBody: 0,
    response: obj('devices', { devices: { type: 'array', items: DEVICE } }),
    handler: async ({ daemon }) => ({ json: { devices: await daemon.keystore().sync.devices() } }),
  }),
  route({
    method: 'DELETE',
    path: '/v1/sync/devices/{id}',
    summary: 'Remove a device: new circle version and epoch, new class key it never receives (admin)',
    auth: 'admin',
    maxBody: 0,
    response: obj('version, epoch, classKeyId', {
      version: { type: 'integer' },
      epoch: { type: 'integer' },
      classKeyId: { type: 'string' },
    }),
    handler: async ({ params, daemon }) => ({ json: await daemon.keystore().sync.remove(params.id ?? '') }),
  }),
  route({
    method: 'POST',
    path: '/v1/sync/recover',
    summary: 'Rejoin the circle with the recovery phrase when no other device is left (admin)',
    auth: 'admin',
    body: s.object({ server: SERVER, phrase: s.string({ maxLength: 1024 }), deviceName: NAME }),
    maxBody: SMALL,
    response: obj('accountId, deviceId, version', {
      accountId: { type: 'string' },
      deviceId: { type: 'string' },
      version: { type: 'integer' },
    }),
    handler: async ({ body, daemon }) => {
      const recovered = await daemon.keystore().sync.recover(body);
      daemon.startBackgroundSync();
      return { json: recovered };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/sync/info',
    summary: 'This device in its circle: account, server, trusted version and epoch, class keys (admin)',
    auth: 'admin',
    maxBody: 0,
    response: { type: 'object', description: 'SyncInfo' },
    handler: async ({ daemon }) => ({ json: await daemon.keystore().sync.info() }),
  }),
];
