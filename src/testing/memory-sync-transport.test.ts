// The in-process model of the sync server's contract: compare-and-swap on gencount with the current
// copy on a loss, the change log and its digest, the device set that may call, one-time mailboxes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { insecureSeededRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { type ItemBody, sealItemRecord } from '../keychain/record.js';
import type { DeviceSigner } from '../sync/transport.js';
import { toWire, type WireRecord } from '../sync/wire-record.js';
import { MemorySyncService } from './memory-sync-transport.js';
import { runSyncTransportSuite } from './sync-transport-suite.js';

const rng = insecureSeededRng(new TextEncoder().encode('memory sync transport'));
const classKey = new Uint8Array(32).fill(7);
const body: ItemBody = {
  kind: 'note',
  group: 'default',
  sync: true,
  createdAt: 1,
  modifiedAt: 1,
  attributes: {},
  secret: '',
  clocks: {},
};
const record = (version: number): WireRecord =>
  toWire(
    sealItemRecord(
      {
        uuid: '00000000-0000-4000-8000-000000000001',
        parentKeyId: 'ck_aaaaaaaaaaaaaaaa',
        version,
        clock: '018f0000000000000123456789abcdef',
        deviceId: '0123456789abcdef',
      },
      body,
      classKey,
      rng,
    ),
  );
const signer = (deviceId: string): DeviceSigner => ({
  accountId: 'acct',
  deviceId,
  sign: async () => ({ ed25519: new Uint8Array(64), mldsa65: new Uint8Array(3309) }),
});
const keys = (deviceId: string) => ({ deviceId, ed25519: '', mldsa65: '' });
const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;

test('compare-and-swap on gencount, the change log and the device set', async () => {
  const service = new MemorySyncService();
  const a = service.transport(signer('a'));
  await a.createAccount('acct', { version: 1, document: 'ZG9j', devices: [keys('a'), keys('b')] });
  const b = service.transport(signer('b'));
  assert.deepEqual((await a.putRecords([{ record: record(1), ifGencount: 0 }]))[0]?.ok, true);
  const lost = (await b.putRecords([{ record: record(1), ifGencount: 0 }]))[0]!;
  assert.equal(lost.ok, false);
  if (!lost.ok) assert.equal(lost.current.gencount, 1);
  assert.equal((await b.putRecords([{ record: record(3), ifGencount: 1 }]))[0]?.ok, true);
  const page = await a.changes(0);
  assert.deepEqual(
    page.records.map((r) => r.record.gencount),
    [3],
  );
  assert.equal(page.more, false);
  assert.equal((await a.changes(page.nextSeq)).records.length, 0);
  assert.equal((await a.putCircle(1, { version: 2, document: 'ZG9j', devices: [keys('a')] })).ok, true);
  await assert.rejects(b.getCircle(), code('EPERM'));
  assert.equal((await a.putCircle(1, { version: 3, document: 'eA==', devices: [keys('a')] })).ok, false);
  assert.ok(a.stats.roundTrips > 0 && a.stats.bytesDown > 0);
});

test('an invite mailbox takes one request and one reply, then is gone; an expired one refuses', async () => {
  const service = new MemorySyncService();
  const a = service.transport(signer('a'));
  await a.createAccount('acct', { version: 1, document: 'ZG9j', devices: [keys('a')] });
  const joiner = service.transport();
  await a.openInvite({ mailboxId: 'm1', expiresAt: Date.now() + 60_000 });
  await joiner.postJoinRequest('m1', Uint8Array.of(1));
  await assert.rejects(joiner.postJoinRequest('m1', Uint8Array.of(2)), code('EALREADY'));
  assert.deepEqual(await a.takeJoinRequest('m1'), Uint8Array.of(1));
  assert.equal(await joiner.takeJoinReply('m1'), undefined);
  await a.postJoinReply('m1', Uint8Array.of(9));
  assert.deepEqual(await joiner.takeJoinReply('m1'), Uint8Array.of(9));
  await assert.rejects(joiner.takeJoinReply('m1'), code('ENOENT'));
  await a.openInvite({ mailboxId: 'm2', expiresAt: Date.now() + 60_000 });
  service.now = () => Date.now() + 120_000;
  await assert.rejects(joiner.postJoinRequest('m2', Uint8Array.of(1)), code('ENOENT'));
});

// The same contract suite the real server passes (src/sync/server/suite-*.test.ts), on the model.
runSyncTransportSuite('the in-process model', async () => {
  const service = new MemorySyncService();
  return { connect: (s) => service.transport(s), close: async () => {} };
});
