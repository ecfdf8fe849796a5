// The daemon keeps an authenticated token for a moment so a request does not re-read and re-hash it
// (daemon.ts TOKEN_CACHE_MS); a revocation through the daemon must still take effect on the very next
// request. The daemon's clock is frozen here, so the cache never expires on its own: only the
// revocation can end the token's entry.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type DaemonFixture, startDaemon } from '../testing/daemon.js';

let d: DaemonFixture;
const frozen = Date.now();
before(async () => {
  d = await startDaemon({ clock: () => frozen });
});
after(async () => {
  await d.cleanup();
});

test('a cached token revoked through the daemon is refused on the next request', async () => {
  const made = await d.admin.tokens.create({ name: 'cached', apps: ['*'], ops: ['read'] });
  const client = d.client(made.token);
  // The first use also records lastUsedAt (which drops the entry, its revision changes); the second
  // authenticates again and leaves the token in the daemon's cache, the third is served from it.
  for (let i = 0; i < 3; i++) await client.listKeys();
  await d.admin.tokens.revoke(made.id);
  await assert.rejects(client.listKeys(), { code: 'EPERM' });
});

test('revoking one token leaves the others working', async () => {
  const keep = await d.admin.tokens.create({ name: 'keep', apps: ['*'], ops: ['read'] });
  const drop = await d.admin.tokens.create({ name: 'drop', apps: ['*'], ops: ['read'] });
  const kept = d.client(keep.token);
  const dropped = d.client(drop.token);
  for (let i = 0; i < 3; i++) {
    await kept.listKeys();
    await dropped.listKeys();
  }
  await d.admin.tokens.revoke(drop.id);
  await assert.rejects(dropped.listKeys(), { code: 'EPERM' });
  assert.ok(Array.isArray(await kept.listKeys()));
});
