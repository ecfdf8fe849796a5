// The sync engine's end-to-end suite (SPEC §17.10), written against a service factory so that the
// same tests run on the in-process model (`memoryEngineService`) and on the real `SyncServer`:
// items travel between devices, conflicts merge without loss, queued writes survive a restart, the
// no-change check is one round trip, concurrent `now()` calls coalesce, and nothing the server holds
// contains a secret or an attribute in any encoding.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemorySyncService } from './memory-sync-transport.js';
import { type DeviceSet, type EngineSuiteService, makeDevices, syncAll } from './sync-devices.js';

/** The in-process model as an engine-suite service; `dump` holds everything it stores. */
export function memoryEngineService(
  service = new MemorySyncService(),
): EngineSuiteService & { service: MemorySyncService } {
  return {
    service,
    transport: (signer) => service.transport(signer),
    dump: async () => {
      const out: Uint8Array[] = [];
      const enc = new TextEncoder();
      for (const account of service.accounts.values()) {
        out.push(enc.encode(JSON.stringify(account.circle)));
        for (const r of account.records.values()) out.push(enc.encode(JSON.stringify(r)));
        for (const m of account.manifests.values()) out.push(m);
      }
      return out;
    },
    close: async () => undefined,
  };
}

async function secretOf(set: DeviceSet, device: number, id: string): Promise<string> {
  return Buffer.from((await set.devices[device]!.ks.keychain.get(id)).secret).toString('utf8');
}

export function runEngineSuite(name: string, makeService: () => Promise<EngineSuiteService>): void {
  describe(`sync engine: ${name}`, () => {
    let service: EngineSuiteService;
    let set: DeviceSet;
    before(async () => {
      service = await makeService();
      set = await makeDevices(service, 3);
    });
    after(async () => {
      await set?.close();
      await service?.close();
    });

    it('an item added on one device reaches the others, and a second sync with no change is one round trip', async () => {
      const [a, b, c] = set.devices as [
        (typeof set.devices)[0],
        (typeof set.devices)[0],
        (typeof set.devices)[0],
      ];
      const item = await a.ks.keychain.add({
        kind: 'generic-password',
        attributes: { service: 'example.org', account: 'alice' },
        secret: 'hunter2',
      });
      const pushed = await a.engine.now();
      assert.equal(pushed.pushed, 1);
      const pulled = await b.engine.now();
      assert.equal(pulled.pulled, 1);
      assert.equal(await secretOf(set, 1, item.id), 'hunter2');
      await c.engine.now();
      const found = await c.ks.keychain.find({ service: 'EXAMPLE.org' });
      assert.deepEqual(
        found.items.map((i) => i.id),
        [item.id],
      );
      const idle = await b.engine.now();
      assert.deepEqual(
        { pushed: idle.pushed, pulled: idle.pulled, roundTrips: idle.roundTrips },
        { pushed: 0, pulled: 0, roundTrips: 1 },
      );
      assert.equal((await b.engine.status()).queued, 0);
    });

    it('concurrent edits of different fields both survive; of one field, the later wins and the other is in history', async () => {
      const [a, b] = set.devices as [(typeof set.devices)[0], (typeof set.devices)[0]];
      const item = await a.ks.keychain.add({
        kind: 'generic-password',
        attributes: { service: 'two' },
        secret: 'base',
      });
      await syncAll(set.devices);
      await a.ks.keychain.update(item.id, { attributes: { account: 'from-a' }, secret: 'secret-a' });
      await b.ks.keychain.update(item.id, { secret: 'secret-b' });
      const first = await a.engine.now();
      assert.equal(first.pushed, 1);
      const second = await b.engine.now();
      assert.ok(second.conflicts >= 1, 'b merged');
      await syncAll(set.devices);
      const views = await Promise.all(set.devices.map((d) => d.ks.keychain.get(item.id)));
      for (const v of views) {
        assert.equal(v.attributes.account, 'from-a');
        assert.equal(Buffer.from(v.secret).toString(), 'secret-b', 'b edited the secret later');
      }
      const history = await a.ks.keychain.history(item.id);
      assert.ok(
        history.some((h) => Buffer.from(h.secret).toString() === 'secret-a'),
        "a's losing secret is in its history",
      );
    });

    it('a delete against a later edit resurrects; against an earlier edit the delete stands and the edit is in history', async () => {
      const [a, b] = set.devices as [(typeof set.devices)[0], (typeof set.devices)[0]];
      const item = await a.ks.keychain.add({
        kind: 'generic-password',
        attributes: { service: 'del' },
        secret: 'v0',
      });
      await syncAll(set.devices);
      await b.ks.keychain.update(item.id, { secret: 'edit-before-delete' });
      await new Promise((r) => setTimeout(r, 5));
      await a.ks.keychain.delete(item.id);
      await syncAll(set.devices);
      for (const d of set.devices) await assert.rejects(d.ks.keychain.get(item.id), { code: 'ENOENT' });
      const history = await b.ks.keychain.history(item.id);
      assert.ok(history.some((h) => Buffer.from(h.secret).toString() === 'edit-before-delete'));
      await b.ks.keychain.undelete(item.id);
      await syncAll(set.devices);
      for (const d of set.devices)
        assert.equal(Buffer.from((await d.ks.keychain.get(item.id)).secret).toString(), 'edit-before-delete');
    });

    it('writes queued while offline survive a restart and are pushed by the next sync', async () => {
      const [a, b] = set.devices as [(typeof set.devices)[0], (typeof set.devices)[0]];
      const items = [];
      for (let i = 0; i < 3; i++)
        items.push(
          await a.ks.keychain.add({
            kind: 'generic-password',
            attributes: { service: `offline-${i}` },
            secret: `q${i}`,
          }),
        );
      assert.equal((await a.engine.status()).queued, 3);
      await a.restart();
      assert.equal((await a.engine.status()).queued, 3);
      assert.equal((await a.engine.now()).pushed, 3);
      await b.engine.now();
      for (const [i, item] of items.entries()) assert.equal(await secretOf(set, 1, item.id), `q${i}`);
    });

    it('items with sync: false never leave their device', async () => {
      const [a, b] = set.devices as [(typeof set.devices)[0], (typeof set.devices)[0]];
      const local = await a.ks.keychain.add({
        kind: 'generic-password',
        attributes: { service: 'local' },
        secret: 'stay',
        sync: false,
      });
      assert.equal((await a.engine.now()).pushed, 0);
      await b.engine.now();
      await assert.rejects(b.ks.keychain.get(local.id), { code: 'ENOENT' });
    });

    it('concurrent now() calls share one run', async () => {
      const [a] = set.devices as [(typeof set.devices)[0]];
      await a.ks.keychain.add({ kind: 'generic-password', attributes: { service: 'coalesce' }, secret: 'x' });
      const reports = await Promise.all([a.engine.now(), a.engine.now(), a.engine.now()]);
      assert.equal(reports[0]!.pushed, 1);
      assert.equal(reports[1], reports[2], 'the calls during a run share the next one');
      assert.equal(reports[1]!.pushed, 0);
    });

    it('the server holds no secret and no attribute, raw, base64 or hex (zero knowledge)', async () => {
      const [a, b] = set.devices as [(typeof set.devices)[0], (typeof set.devices)[0]];
      const secrets = ['zk-secret-correct-horse-battery', 'zk-password-Tr0ub4dor&3'];
      const attributes = [
        'zk-service.example.com',
        'zk-account-alice@example.com',
        'zk-label-bank login',
        'zk-comment-PIN is under the mat',
      ];
      const item = await a.ks.keychain.add({
        kind: 'generic-password',
        attributes: {
          service: attributes[0],
          account: attributes[1],
          label: attributes[2],
          comment: attributes[3],
        },
        secret: secrets[0]!,
      });
      await a.engine.now({ audit: true });
      await b.engine.now();
      await b.ks.keychain.update(item.id, { secret: secrets[1]! });
      await syncAll(set.devices);
      await b.engine.now({ audit: true });
      const held = Buffer.concat((await service.dump()).map((x) => Buffer.from(x)));
      const haystacks = [held.toString('latin1'), held.toString('latin1').toLowerCase()];
      for (const needle of [...secrets, ...attributes]) {
        const forms = [
          needle,
          Buffer.from(needle).toString('base64'),
          Buffer.from(needle).toString('base64url'),
          Buffer.from(needle).toString('hex'),
          needle.slice(3, 15),
        ];
        for (const form of forms)
          for (const h of haystacks)
            assert.ok(!h.includes(form.toLowerCase()) && !h.includes(form), `server holds ${form}`);
      }
      assert.ok(held.length > 1000, 'the scan saw the server contents');
    });
  });
}
