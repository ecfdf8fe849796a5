// The contract suite of SyncTransport (src/sync/transport.ts, SPEC §17.8): every implementation —
// SyncServer + HttpSyncTransport on SQLite and on PostgreSQL, an in-memory model — must pass it.
// It speaks only the interface: a harness connects a transport for a device signer (or none, for a
// joining device) and the suite creates accounts, devices and records of its own.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { b64 } from '../core/encoding.js';
import { keygen, sign } from '../crypto/sig.js';
import { Manifest, recordHash } from '../sync/manifest.js';
import { answerRanges, reconcile } from '../sync/reconcile.js';
import type {
  CircleUpload,
  DevicePublicKeys,
  DeviceSigner,
  PushEvent,
  SyncTransport,
} from '../sync/transport.js';
import { fromWire, type WireRecord } from '../sync/wire-record.js';

export interface SyncTransportHarness {
  /** A transport acting as `signer`'s device (no signer: a joining device, invite calls only). */
  connect(signer?: DeviceSigner): SyncTransport | Promise<SyncTransport>;
  close(): Promise<void>;
}

export interface TestDevice {
  signer: DeviceSigner;
  keys: DevicePublicKeys;
  /** Signs with the Ed25519 key only (for attacks: the server must refuse it). */
  ed25519Secret: Uint8Array;
  mldsa65Secret: Uint8Array;
}

/** A device identity with fresh Ed25519 and ML-DSA-65 keys; ids are 16 hex like record device ids. */
export function makeTestDevice(accountId: string, deviceId = randomBytes(8).toString('hex')): TestDevice {
  const ed = keygen('ed25519');
  const ml = keygen('ml-dsa-65');
  return {
    signer: {
      accountId,
      deviceId,
      sign: async (message) => ({
        ed25519: sign('ed25519', ed.secretKey, message),
        mldsa65: sign('ml-dsa-65', ml.secretKey, message),
      }),
    },
    keys: { deviceId, ed25519: b64.encode(ed.publicKey), mldsa65: b64.encode(ml.publicKey) },
    ed25519Secret: ed.secretKey,
    mldsa65Secret: ml.secretKey,
  };
}

export function circleOf(
  version: number,
  devices: readonly TestDevice[],
  document = randomBytes(48),
): CircleUpload {
  return { version, document: b64.encode(document), devices: devices.map((d) => d.keys) };
}

/** A record the wire parser accepts, with random ciphertext (the server cannot tell it from a real one). */
export function testRecord(options: {
  uuid?: string;
  gencount: number;
  deviceId?: string;
  tomb?: number;
}): WireRecord {
  const deviceId = options.deviceId ?? 'aaaaaaaaaaaaaaaa';
  const wall = Date.now().toString(16).padStart(12, '0');
  return {
    uuid: options.uuid ?? randomUUID(),
    parentKeyId: 'ck_abcdefghijklmnop',
    gencount: options.gencount,
    clock: `${wall}${randomBytes(2).toString('hex')}${deviceId}`,
    deviceId,
    wrappedKey: b64.encode(randomBytes(60)),
    encItem: b64.encode(randomBytes(28 + 64)),
    ...(options.tomb !== undefined ? { tomb: options.tomb } : {}),
  };
}

export function manifestOf(records: readonly WireRecord[]): Manifest {
  return new Manifest(records.map((r) => ({ uuid: r.uuid, hash: recordHash(fromWire(r)) })));
}

/** Polls `probe` (sync or async) until it gives a value; fails with `what` after `ms`. */
export async function eventually<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  ms = 10_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: string }) => {
    assert.equal(error.code, code);
    return true;
  });
}

export function runSyncTransportSuite(
  name: string,
  makeTransportPair: () => Promise<SyncTransportHarness>,
): void {
  describe(`SyncTransport contract: ${name}`, () => {
    let harness: SyncTransportHarness;
    let accountId: string;
    let devA: TestDevice;
    let devB: TestDevice;
    let a: SyncTransport;
    let b: SyncTransport;

    before(async () => {
      harness = await makeTransportPair();
      accountId = `acct-${randomBytes(6).toString('hex')}`;
      devA = makeTestDevice(accountId);
      devB = makeTestDevice(accountId);
      a = await harness.connect(devA.signer);
      await a.createAccount(accountId, circleOf(1, [devA, devB]));
      b = await harness.connect(devB.signer);
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await harness?.close();
    });

    test('an account is created once; its circle is what was uploaded', async () => {
      const circle = await b.getCircle();
      assert.equal(circle.version, 1);
      await rejects(a.createAccount(accountId, circleOf(1, [devA])), 'EALREADY');
    });

    test('circle compare-and-swap: the right version wins, a stale one gets the current circle', async () => {
      const other = makeTestDevice(`acct-${randomBytes(6).toString('hex')}`);
      const t = await harness.connect(other.signer);
      await t.createAccount(other.signer.accountId, circleOf(1, [other]));
      const v2 = circleOf(2, [other]);
      assert.deepEqual(await t.putCircle(1, v2), { ok: true });
      const lost = await t.putCircle(1, circleOf(2, [other]));
      assert.deepEqual(lost, { ok: false, current: { version: 2, document: v2.document } });
      // The version must grow: the same version again is a lost swap too.
      assert.equal((await t.putCircle(2, circleOf(2, [other]))).ok, false);
      assert.equal((await t.getCircle()).version, 2);
      await t.close();
    });

    test('record CAS: one winner, the loser gets the current copy; gaps allowed; gencount never decreases', async () => {
      const uuid = randomUUID();
      const first = testRecord({ uuid, gencount: 1 });
      const [won] = await a.putRecords([{ record: first, ifGencount: 0 }]);
      assert.equal(won?.ok, true);
      const rival = testRecord({ uuid, gencount: 1, deviceId: 'bbbbbbbbbbbbbbbb' });
      const [lost] = await b.putRecords([{ record: rival, ifGencount: 0 }]);
      assert.deepEqual(lost, { uuid, ok: false, current: first });
      // A device that wrote offline three times sends its latest: gencount 4 over 1.
      const later = testRecord({ uuid, gencount: 4 });
      const [gap] = await b.putRecords([{ record: later, ifGencount: 1 }]);
      assert.equal(gap?.ok, true);
      // A write on a stale base loses even with a higher gencount; one below the stored one too.
      const [stale] = await a.putRecords([{ record: testRecord({ uuid, gencount: 9 }), ifGencount: 1 }]);
      assert.deepEqual(stale, { uuid, ok: false, current: later });
      await assert.rejects(a.putRecords([{ record: testRecord({ uuid, gencount: 3 }), ifGencount: 4 }]));
      assert.deepEqual(await a.getRecords([uuid]), [later]);
      if (won?.ok && gap?.ok) assert.ok(gap.seq > won.seq, 'seq grows with every accepted write');
    });

    test('a batch: winners and losers answered one for one, in order', async () => {
      const taken = testRecord({ gencount: 1 });
      await a.putRecords([{ record: taken, ifGencount: 0 }]);
      const fresh = testRecord({ gencount: 1 });
      const results = await b.putRecords([
        { record: fresh, ifGencount: 0 },
        { record: testRecord({ uuid: taken.uuid, gencount: 2 }), ifGencount: 0 },
      ]);
      assert.equal(results.length, 2);
      assert.equal(results[0]?.uuid, fresh.uuid);
      assert.equal(results[0]?.ok, true);
      assert.deepEqual(results[1], { uuid: taken.uuid, ok: false, current: taken });
      assert.deepEqual(await b.getRecords([fresh.uuid, randomUUID()]), [fresh]);
    });

    test('junk records are refused and nothing stored changes', async () => {
      const good = testRecord({ gencount: 1 });
      await assert.rejects(
        a.putRecords([
          { record: good, ifGencount: 0 },
          { record: { ...testRecord({ gencount: 1 }), wrappedKey: 'not base64!' }, ifGencount: 0 },
        ]),
        (error: { code?: string }) => error.code === 'EBADMSG',
      );
      assert.deepEqual(await a.getRecords([good.uuid]), []);
    });

    test('changes: pages in seq order, nextSeq and more, and the digest of the whole account', async () => {
      const t = makeTestDevice(`acct-${randomBytes(6).toString('hex')}`);
      const c = await harness.connect(t.signer);
      await c.createAccount(t.signer.accountId, circleOf(1, [t]));
      const empty = await c.changes(0);
      assert.deepEqual(
        { ...empty, digest: undefined },
        { records: [], nextSeq: 0, more: false, digest: undefined },
      );
      assert.equal(empty.digest, new Manifest([]).digest());
      const records = Array.from({ length: 7 }, () => testRecord({ gencount: 1 }));
      for (const record of records) await c.putRecords([{ record, ifGencount: 0 }]);
      // Overwrite the first: it moves to the end of the log.
      const rewritten = testRecord({ uuid: records[0]!.uuid, gencount: 2 });
      await c.putRecords([{ record: rewritten, ifGencount: 1 }]);
      const current = [rewritten, ...records.slice(1)];
      const seen: { seq: number; record: WireRecord }[] = [];
      let since = 0;
      let page = await c.changes(since, 3);
      for (;;) {
        assert.ok(page.records.length <= 3);
        seen.push(...page.records);
        since = page.nextSeq;
        if (!page.more) break;
        page = await c.changes(since, 3);
      }
      const seqs = seen.map((r) => r.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
      );
      assert.equal(new Set(seqs).size, seqs.length);
      assert.deepEqual(
        seen.map((r) => r.record.uuid),
        [...records.slice(1), rewritten].map((r) => r.uuid),
      );
      assert.deepEqual(seen.at(-1)?.record, rewritten);
      assert.equal(page.digest, manifestOf(current).digest());
      const tail = await c.changes(since);
      assert.deepEqual(tail.records, []);
      assert.equal(tail.nextSeq, since);
      await c.close();
    });

    test('ranges answer as answerRanges over the account manifest; reconcile finds exactly the difference', async () => {
      const t = makeTestDevice(`acct-${randomBytes(6).toString('hex')}`);
      const c = await harness.connect(t.signer);
      await c.createAccount(t.signer.accountId, circleOf(1, [t]));
      const records = Array.from({ length: 60 }, () => testRecord({ gencount: 1 }));
      await c.putRecords(records.map((record) => ({ record, ifGencount: 0 })));
      const server = manifestOf(records);
      const local = manifestOf(records.slice(5));
      const requests = [
        { prefix: '', fingerprint: local.digest() },
        ...'0123456789abcdef'.split('').map((d) => ({ prefix: d, fingerprint: local.fingerprint(d) })),
      ];
      assert.deepEqual(await c.ranges(requests), answerRanges(server, requests));
      assert.deepEqual(await c.ranges([{ prefix: '', fingerprint: server.digest() }]), [
        { prefix: '', result: 'same' },
      ]);
      const diff = await reconcile(local, { query: (r) => c.ranges(r) });
      assert.deepEqual(
        diff.remoteOnly,
        records
          .slice(0, 5)
          .map((r) => r.uuid)
          .sort(),
      );
      await assert.rejects(
        c.ranges([{ prefix: 'XYZ', fingerprint: server.digest() }]),
        (e: { code?: string }) => e.code === 'EINVAL',
      );
      await c.close();
    });

    test('device manifests: the latest one per device', async () => {
      await a.putDeviceManifest(new Uint8Array([1, 2, 3]));
      await b.putDeviceManifest(new Uint8Array([9]));
      await a.putDeviceManifest(new Uint8Array([4, 5]));
      const got = (await b.getDeviceManifests()).sort((x, y) => (x.deviceId < y.deviceId ? -1 : 1));
      const want = [
        { deviceId: devA.keys.deviceId, manifest: new Uint8Array([4, 5]) },
        { deviceId: devB.keys.deviceId, manifest: new Uint8Array([9]) },
      ].sort((x, y) => (x.deviceId < y.deviceId ? -1 : 1));
      assert.deepEqual(
        got.map((m) => ({ deviceId: m.deviceId, manifest: [...m.manifest] })),
        want.map((m) => ({ deviceId: m.deviceId, manifest: [...m.manifest] })),
      );
    });

    test('invite mailbox: one request, taken by the sponsor; one reply, taken once; then gone', async () => {
      const joiner = await harness.connect();
      const mailboxId = randomBytes(32).toString('hex');
      await a.openInvite({ mailboxId, expiresAt: Date.now() + 60_000 });
      await rejects(a.openInvite({ mailboxId, expiresAt: Date.now() + 60_000 }), 'EALREADY');
      assert.equal(await a.takeJoinRequest(mailboxId), undefined);
      await joiner.postJoinRequest(mailboxId, new Uint8Array([7, 7]));
      await rejects(joiner.postJoinRequest(mailboxId, new Uint8Array([8])), 'EALREADY');
      assert.deepEqual([...((await a.takeJoinRequest(mailboxId)) ?? [])], [7, 7]);
      assert.equal(await joiner.takeJoinReply(mailboxId), undefined);
      await a.postJoinReply(mailboxId, new Uint8Array([1, 2, 3]));
      await rejects(joiner.postJoinRequest(mailboxId, new Uint8Array([8])), 'ENOENT');
      assert.deepEqual([...((await joiner.takeJoinReply(mailboxId)) ?? [])], [1, 2, 3]);
      await rejects(joiner.takeJoinReply(mailboxId), 'ENOENT');
      await rejects(joiner.postJoinRequest(randomBytes(32).toString('hex'), new Uint8Array([1])), 'ENOENT');
      // A joiner without an identity can do nothing else.
      await assert.rejects(joiner.getCircle());
      await joiner.close();
    });

    test('an expired mailbox is refused', async () => {
      const joiner = await harness.connect();
      const mailboxId = randomBytes(32).toString('hex');
      await a.openInvite({ mailboxId, expiresAt: Date.now() + 300 });
      await new Promise((resolve) => setTimeout(resolve, 400));
      await rejects(joiner.postJoinRequest(mailboxId, new Uint8Array([1])), 'ENOENT');
      await joiner.close();
    });

    test('push: ids, gencount, seq and the acting device — never content', async () => {
      const events: PushEvent[] = [];
      const unsubscribe = await b.subscribe((event) => events.push(event));
      const record = testRecord({ gencount: 1 });
      const [result] = await a.putRecords([{ record, ifGencount: 0 }]);
      const event = await eventually(() => events.find((e) => e.uuid === record.uuid), 'the push event');
      assert.deepEqual(Object.keys(event).sort(), ['deviceId', 'gencount', 'seq', 'uuid']);
      assert.deepEqual(event, {
        uuid: record.uuid,
        gencount: 1,
        seq: result?.ok ? result.seq : -1,
        deviceId: devA.signer.deviceId,
      });
      unsubscribe();
    });

    test('stats count round trips and bytes', async () => {
      const before = { ...a.stats };
      await a.getRecords([randomUUID()]);
      await a.putRecords([{ record: testRecord({ gencount: 1 }), ifGencount: 0 }]);
      assert.ok(a.stats.roundTrips >= before.roundTrips + 2);
      assert.ok(a.stats.bytesUp > before.bytesUp);
      assert.ok(a.stats.bytesDown > before.bytesDown);
    });

    test('a device dropped by a circle upload is refused from then on, and its push subscription ends', async () => {
      const t = makeTestDevice(`acct-${randomBytes(6).toString('hex')}`);
      const u = makeTestDevice(t.signer.accountId);
      const ct = await harness.connect(t.signer);
      await ct.createAccount(t.signer.accountId, circleOf(1, [t, u]));
      const cu = await harness.connect(u.signer);
      await cu.getCircle();
      let closed: Error | undefined | null = null;
      await cu.subscribe(
        () => undefined,
        (error) => {
          closed = error;
        },
      );
      assert.deepEqual(await ct.putCircle(1, circleOf(2, [t])), { ok: true });
      await assert.rejects(cu.getCircle(), (e: { code?: string }) => e.code === 'EPERM');
      await assert.rejects(cu.putRecords([{ record: testRecord({ gencount: 1 }), ifGencount: 0 }]));
      await eventually(
        () => (closed === null ? undefined : true),
        'the removed device’s push socket to close',
      );
      assert.equal((closed as unknown as Error | undefined)?.constructor.name, 'CofferError');
      await ct.close();
      await cu.close();
    });
  });
}
