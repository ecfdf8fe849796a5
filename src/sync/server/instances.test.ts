// Several SyncServer instances on one PostgreSQL database (SPEC §17.8): a push subscriber on one
// instance hears writes made through another (LISTEN/NOTIFY), concurrent compare-and-swaps on one
// uuid through both instances have exactly one winner, a device removed through one instance loses
// its socket on the other, and each instance's cached manifest follows the other's writes.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { postgresForThisFile } from '../../testing/postgres.js';
import { dumpSyncStore } from '../../testing/sync-server-dump.js';
import {
  circleOf,
  eventually,
  makeTestDevice,
  manifestOf,
  type TestDevice,
  testRecord,
} from '../../testing/sync-transport-suite.js';
import { HttpSyncTransport } from '../http-transport.js';
import type { PushEvent } from '../transport.js';
import type { WireRecord } from '../wire-record.js';
import { SyncServer } from './server.js';

const database = postgresForThisFile('sync_instances');

describe('two instances on one PostgreSQL', () => {
  let one: SyncServer;
  let two: SyncServer;
  let url: string;
  let devA: TestDevice;
  let devB: TestDevice;
  let a: HttpSyncTransport;
  let b: HttpSyncTransport;

  before(async () => {
    url = await database();
    [one, two] = await Promise.all([SyncServer.start({ store: url }), SyncServer.start({ store: url })]);
    const accountId = `acct-${randomBytes(4).toString('hex')}`;
    devA = makeTestDevice(accountId);
    devB = makeTestDevice(accountId);
    a = new HttpSyncTransport({ url: one.url, signer: devA.signer });
    await a.createAccount(accountId, circleOf(1, [devA, devB]));
    // B's session is created on instance two: sessions live in the shared store.
    b = new HttpSyncTransport({ url: two.url, signer: devB.signer });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await one?.close();
    await two?.close();
  });

  test('push crosses instances', async () => {
    const events: PushEvent[] = [];
    const stop = await b.subscribe((event) => events.push(event));
    const record = testRecord({ gencount: 1 });
    const [result] = await a.putRecords([{ record, ifGencount: 0 }]);
    const event = await eventually(
      () => events.find((e) => e.uuid === record.uuid),
      'the event on instance two',
    );
    assert.equal(event.seq, result?.ok ? result.seq : -1);
    assert.equal(event.deviceId, devA.signer.deviceId);
    stop();
  });

  test('concurrent compare-and-swap on one uuid through both instances: exactly one winner each round', async () => {
    for (let round = 0; round < 12; round++) {
      const uuid = randomUUID();
      const [ra, rb] = await Promise.all([
        a.putRecords([{ record: testRecord({ uuid, gencount: 1 }), ifGencount: 0 }]),
        b.putRecords([
          { record: testRecord({ uuid, gencount: 1, deviceId: 'bbbbbbbbbbbbbbbb' }), ifGencount: 0 },
        ]),
      ]);
      const winners = [ra?.[0], rb?.[0]].filter((r) => r?.ok);
      assert.equal(winners.length, 1, `round ${round}`);
      const loser = [ra?.[0], rb?.[0]].find((r) => !r?.ok);
      const [stored] = await a.getRecords([uuid]);
      assert.ok(loser && !loser.ok);
      assert.deepEqual(loser.current, stored);
    }
  });

  test("each instance's manifest follows writes made through the other", async () => {
    const first = await b.changes(0);
    const records = Array.from({ length: 5 }, () => testRecord({ gencount: 1 }));
    await a.putRecords(records.map((record) => ({ record, ifGencount: 0 })));
    const all: WireRecord[] = [];
    let since = 0;
    for (;;) {
      const page = await b.changes(since, 1000);
      all.push(...page.records.map((r) => r.record));
      since = page.nextSeq;
      if (!page.more) {
        assert.notEqual(page.digest, first.digest);
        assert.equal(page.digest, manifestOf(all).digest());
        const [same] = await b.ranges([{ prefix: '', fingerprint: manifestOf(all).digest() }]);
        assert.equal(same?.result, 'same');
        break;
      }
    }
  });

  test('a device removed through one instance loses its socket on the other', async () => {
    const gone = makeTestDevice(devA.signer.accountId);
    const circle = await a.getCircle();
    await a.putCircle(circle.version, circleOf(circle.version + 1, [devA, devB, gone]));
    const g = new HttpSyncTransport({ url: two.url, signer: gone.signer });
    let closed: unknown = null;
    await g.subscribe(
      () => undefined,
      (error) => {
        closed = error;
      },
    );
    await a.putCircle(circle.version + 1, circleOf(circle.version + 2, [devA, devB]));
    await eventually(() => (closed === null ? undefined : true), 'the socket on instance two to close');
    assert.equal((closed as { code?: string }).code, 'EPERM');
    await g.close();
  });

  test("dumpSyncStore yields every stored row's bytes (for the engine's zero-knowledge scan)", async () => {
    const record = testRecord({ gencount: 1 });
    await a.putRecords([{ record, ifGencount: 0 }]);
    const dump = await dumpSyncStore(url);
    assert.ok(dump.includes(Buffer.from(record.encItem)), 'the record as stored is in the dump');
    assert.ok(dump.includes(Buffer.from(devA.signer.accountId)));
  });
});
