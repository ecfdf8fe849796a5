// Backup routes of the daemon (SPEC §10.2, §11): a backup holds every selected key's secret (sealed
// to a passphrase or an X-Wing key), so both routes need the admin token. The backup file travels as
// base64 in JSON both ways, at most 64 MiB: the daemon writes and reads no file of the caller's.
import { backupOperations, MAX_BACKUP_TRANSFER_BYTES } from '../backup/operations.js';
import { CofferError } from '../errors.js';
import { type Route, route } from './router.js';
import { encodeBase64, type Schema, s } from './schema.js';

const NAME = s.name();
const KEY_ID = s.keyId();

/** A string, or an object: the schema helpers have no union, so this one says both in OpenAPI. */
function stringOr<T>(text: Schema<string>, object: Schema<T>): Schema<string | T> {
  return {
    json: { oneOf: [text.json, object.json] },
    optional: false,
    parse: (value, path) => (typeof value === 'string' ? text.parse(value, path) : object.parse(value, path)),
  };
}

function integerOr<T>(integer: Schema<number>, object: Schema<T>): Schema<number | T> {
  return {
    json: { oneOf: [integer.json, object.json] },
    optional: false,
    parse: (value, path) =>
      typeof value === 'number' ? integer.parse(value, path) : object.parse(value, path),
  };
}

const createBody = s.object({
  passphrase: s.optional(s.string({ maxLength: 1024, minLength: 1 })),
  recipient: s.optional(
    stringOr(
      s.string({ maxLength: 4096, description: 'coffer1:xwing:… public-key string' }),
      s.object({ keyId: KEY_ID, version: s.optional(s.integer(1, 1_000_000)) }),
    ),
  ),
  since: s.optional(
    integerOr(
      s.integer(0, Number.MAX_SAFE_INTEGER, 'store generation'),
      s.object({
        generation: s.integer(0, Number.MAX_SAFE_INTEGER),
        backupId: s.optional(s.string({ maxLength: 64, minLength: 1 })),
        storeId: s.optional(s.string({ maxLength: 64 })),
      }),
    ),
  ),
  app: s.optional(NAME),
  purpose: s.optional(NAME),
  keyIds: s.optional(s.array(KEY_ID, { maxItems: 100_000, minItems: 1 })),
});

const restoreBody = s.object({
  backup: s.bytes(MAX_BACKUP_TRANSFER_BYTES, 'the backup file'),
  passphrase: s.optional(s.string({ maxLength: 1024, minLength: 1 })),
  mode: s.optional(s.enumOf(['fail', 'skip-existing', 'overwrite'] as const)),
});

export const backupRoutes: Route[] = [
  route({
    method: 'POST',
    path: '/v1/backup',
    summary: 'Write an encrypted backup (admin): full, selective (app/purpose/keyIds) or incremental (since)',
    auth: 'admin',
    body: createBody,
    maxBody: 4 * 1024 * 1024,
    response: {
      type: 'object',
      description: 'BackupResult and the backup file (base64)',
      properties: {
        kind: { type: 'string' },
        keyCount: { type: 'integer' },
        itemCount: { type: 'integer', description: 'keychain items in the backup (SPEC §11.5)' },
        generation: { type: 'integer' },
        baseGeneration: { type: 'integer' },
        backupId: { type: 'string' },
        bytes: { type: 'integer' },
        backup: { type: 'string', format: 'byte' },
      },
    },
    handler: async ({ body, daemon }) => {
      if ((body.passphrase === undefined) === (body.recipient === undefined))
        throw new CofferError('EINVAL', 'give exactly one of passphrase or recipient');
      const { backup, ...result } = await backupOperations(daemon.keystore()).create(body);
      return { json: { ...result, backup: encodeBase64(backup) } };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/backup/restore',
    summary: 'Restore a backup (admin): every check first, nothing written if one fails',
    auth: 'admin',
    body: restoreBody,
    maxBody: Math.ceil(MAX_BACKUP_TRANSFER_BYTES / 3) * 4 + 64 * 1024,
    response: {
      type: 'object',
      description:
        'RestoreReport: kind, backupId, keyCount, itemCount, mode, restored, skipped, restoredItems, skippedItems, failed',
      properties: {
        kind: { type: 'string' },
        backupId: { type: 'string' },
        keyCount: { type: 'integer' },
        itemCount: { type: 'integer' },
        restoredItems: { type: 'array', items: { type: 'string' } },
        skippedItems: { type: 'array', items: { type: 'string' } },
        mode: { type: 'string' },
        restored: { type: 'array', items: { type: 'string' } },
        skipped: { type: 'array', items: { type: 'string' } },
        failed: { type: 'array', items: { type: 'object' } },
      },
    },
    handler: async ({ body, daemon }) => {
      const { backup, ...options } = body;
      return { json: await backupOperations(daemon.keystore()).restore(backup, options) };
    },
  }),
];
