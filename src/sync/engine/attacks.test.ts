// A sync server that lies (SPEC §17.10.4): each attack, played on the in-process model's raw state
// (`tamper`) or by a wrapping transport, is detected with its named EBADMSG, kept for `status()`,
// and installs nothing — the device's items stay as they were.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { memoryEngineService } from '../../testing/engine-suite.js';
import { MemorySyncService } from '../../testing/memory-sync-transport.js';
import {
  type DeviceSet,
  makeDevices,
  syncAll,
  type TestDevice,
  wrapTransport,
} from '../../testing/sync-devices.js';
import { SyncEngine } from './engine.js';

let sets: DeviceSet[] = [];
afterEach(async () => {
  for (const s of sets) await s.close();
  sets = [];
});

async function setup(service = new MemorySyncService()) {
  const set = await makeDevices(memoryEngineService(service), 3);
  sets.push(set);
  const [a, b, c] = set.devices as [TestDevice, TestDevice, TestDevice];
  const x = await a.ks.keychain.add({ kind: 'generic-password', attributes: { service: 'x' }, secret: 'x1' });
  const y = await a.ks.keychain.add({ kind: 'generic-password', attributes: { service: 'y' }, secret: 'y1' });
  await syncAll([a, b]);
  const account = service.tamper(set.accountId);
  const firstX = structuredClone(account.records.get(x.id)!);
  await a.ks.keychain.update(x.id, { secret: 'x2' });
  await a.engine.now({ audit: true });
  await b.engine.now({ audit: true });
  return { service, set, a, b, c, x: x.id, y: y.id, account, firstX };
}

async function expectAttack(
  device: TestDevice,
  name: string,
  engine: SyncEngine = device.engine,
  run = () => engine.now({ audit: true }),
) {
  await assert.rejects(run(), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'EBADMSG');
    assert.match(error.message, new RegExp(`sync server attack \\(${name}\\)`));
    return true;
  });
  const status = await engine.status();
  assert.equal(status.attack?.name, name);
  assert.equal(status.lastError?.code, 'EBADMSG');
}

async function secret(device: TestDevice, id: string): Promise<string> {
  return Buffer.from((await device.ks.keychain.get(id)).secret).toString();
}

describe('sync engine against a lying server', () => {
  it('a replayed old record in the change log is refused (replayed-record)', async () => {
    const { b, x, account, firstX } = await setup();
    account.records.set(x, { record: firstX.record, seq: ++account.seq });
    await expectAttack(b, 'replayed-record');
    assert.equal(await secret(b, x), 'x2');
  });

  it('an item rolled back to an older gencount without a log entry is found by the digest (rolled-back-gencount)', async () => {
    const { b, x, account, firstX } = await setup();
    const current = account.records.get(x)!;
    account.records.set(x, { record: firstX.record, seq: current.seq });
    await expectAttack(b, 'rolled-back-gencount');
    assert.equal(await secret(b, x), 'x2');
  });

  it('a rollback is caught by a device that never saw the newer record, through the writer manifest', async () => {
    const { c, x, account, firstX } = await setup();
    account.records.set(x, { record: firstX.record, seq: account.records.get(x)!.seq });
    await expectAttack(c, 'rolled-back-gencount');
    await assert.rejects(c.ks.keychain.get(x), { code: 'ENOENT' }, 'nothing was installed');
  });

  it('records out of order in the change log are refused (reordered-records)', async () => {
    const { a, b, set } = await setup();
    await a.ks.keychain.add({ kind: 'generic-password', attributes: { service: 'p' }, secret: 'p' });
    await a.ks.keychain.add({ kind: 'generic-password', attributes: { service: 'q' }, secret: 'q' });
    await a.engine.now();
    const reversing = wrapTransport(b.transport, {
      changes: async (since, limit) => {
        const page = await b.transport.changes(since, limit);
        return { ...page, records: [...page.records].reverse() };
      },
    });
    const engine = new SyncEngine({
      keychain: b.ks.keychain,
      transport: reversing,
      membership: b.membership,
    });
    await expectAttack(b, 'reordered-records', engine, () => engine.now());
    assert.equal((await b.ks.keychain.find({ service: 'p' })).items.length, 0, 'nothing installed');
    void set;
  });

  it('a record moved to another uuid fails authentication (swapped-record)', async () => {
    const { b, x, y, account } = await setup();
    const other = account.records.get(y)!.record;
    const gencount = account.records.get(x)!.record.gencount + 1;
    account.records.set(x, { record: { ...other, uuid: x, gencount }, seq: ++account.seq });
    await expectAttack(b, 'swapped-record');
    assert.equal(await secret(b, x), 'x2');
  });

  it("a record of another account's keychain fails authentication (swapped-record)", async () => {
    const { b, service, account } = await setup();
    const stranger = await makeDevices(memoryEngineService(service), 1);
    sets.push(stranger);
    const [s] = stranger.devices as [TestDevice];
    const theirs = await s.ks.keychain.add({
      kind: 'generic-password',
      attributes: { service: 'theirs' },
      secret: 't',
    });
    await s.engine.now();
    const record = service.tamper(stranger.accountId).records.get(theirs.id)!.record;
    account.records.set(theirs.id, { record, seq: ++account.seq });
    await expectAttack(b, 'swapped-record');
    await assert.rejects(b.ks.keychain.get(theirs.id), { code: 'ENOENT' });
  });

  it('a record the server stops serving is noticed by a device that saw it (dropped-record)', async () => {
    const { b, y, account } = await setup();
    account.records.delete(y);
    await expectAttack(b, 'dropped-record');
    assert.equal(await secret(b, y), 'y1');
  });

  it('a dropped record is noticed by a device that never saw it, through the manifests (dropped-record)', async () => {
    const { c, y, account } = await setup();
    account.records.delete(y);
    await expectAttack(c, 'dropped-record');
  });

  it('an older manifest of a device served again is refused (older-manifest)', async () => {
    const { a, b, x, account } = await setup();
    const old = account.manifests.get(a.deviceId)!;
    await a.ks.keychain.update(x, { secret: 'x3' });
    await a.engine.now({ audit: true });
    await b.engine.now({ audit: true });
    account.manifests.set(a.deviceId, old);
    await expectAttack(b, 'older-manifest');
  });

  it('a manifest altered by the server does not verify (forged-manifest)', async () => {
    const { a, b, account } = await setup();
    const bytes = Uint8Array.from(account.manifests.get(a.deviceId)!);
    const text = Buffer.from(bytes).toString('latin1');
    const at = text.indexOf('"count":') + 8;
    bytes[at] = bytes[at] === 0x39 ? 0x38 : bytes[at]! + 1;
    account.manifests.set(a.deviceId, bytes);
    await expectAttack(b, 'forged-manifest');
  });

  it('a change log shorter than one a device already read is refused (rolled-back-log)', async () => {
    const { b, account } = await setup();
    const reader = wrapTransport(b.transport, {
      changes: async (since, limit) => {
        const page = await b.transport.changes(0, limit);
        return { ...page, records: [], nextSeq: Math.min(since, page.nextSeq) - 1 };
      },
    });
    const engine = new SyncEngine({ keychain: b.ks.keychain, transport: reader, membership: b.membership });
    await expectAttack(b, 'rolled-back-log', engine, () => engine.now());
    void account;
  });
});
