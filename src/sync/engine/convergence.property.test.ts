// SPEC §17.10 end to end, as a property (fast-check): 3–4 devices with real keystores and keychains
// on the in-process server model make random adds, updates (same field and different fields),
// deletes and undeletes, sync in random order (a device that does not sync for a while is offline
// and its writes stay queued), and restart (reopen from storage). After everyone syncs, every device
// holds byte-identical records, equal to the server's, nothing is queued, and every write a device
// acknowledged is current or in that device's history: nothing is lost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { currentKey } from '../../keychain/keychain.js';
import type { Item } from '../../keychain/types.js';
import { memoryEngineService } from '../../testing/engine-suite.js';
import { MemorySyncService } from '../../testing/memory-sync-transport.js';
import {
  type DeviceSet,
  makeDevices,
  quietly,
  syncAll,
  type TestDevice,
} from '../../testing/sync-devices.js';
import { fromWire } from '../wire-record.js';

type Field = 'secret' | 'account' | 'label';
type Command =
  | { op: 'add'; dev: number }
  | { op: 'update'; dev: number; item: number; field: Field }
  | { op: 'delete' | 'undelete' | 'sync' | 'syncAll' | 'restart'; dev: number; item: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), dev: fc.nat(3) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('update' as const),
      dev: fc.nat(3),
      item: fc.nat(7),
      field: fc.constantFrom<Field>('secret', 'account', 'label'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constantFrom('delete' as const, 'undelete' as const),
      dev: fc.nat(3),
      item: fc.nat(7),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('sync' as const), dev: fc.nat(3), item: fc.constant(0) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('syncAll' as const), dev: fc.nat(3), item: fc.constant(0) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('restart' as const), dev: fc.nat(3), item: fc.constant(0) }),
  },
);

interface Acked {
  dev: number;
  id: string;
  field: Field;
  value: string;
}

const fieldValue = (item: Item, field: Field) =>
  field === 'secret' ? Buffer.from(item.secret).toString() : item.attributes[field];

describe('sync convergence (property)', () => {
  let set: DeviceSet;
  before(async () => {
    set = await makeDevices(memoryEngineService(), 4);
  });
  after(async () => set?.close());

  it('devices end identical and no acknowledged write is lost', async () => {
    let counter = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 4 }),
        fc.array(command, { minLength: 6, maxLength: 24 }),
        async (n, commands) => {
          const server = new MemorySyncService();
          await set.reset(memoryEngineService(server));
          const devices = set.devices.slice(0, n) as TestDevice[];
          const ids: string[] = [];
          const acked: Acked[] = [];
          for (const c of commands) {
            const d = devices[c.dev % n]!;
            const id = ids.length > 0 && 'item' in c ? ids[c.item % ids.length]! : undefined;
            const tag = `v${++counter}`;
            if (c.op === 'add') {
              const info = await d.ks.keychain.add({
                kind: 'generic-password',
                attributes: { service: `s-${tag}` },
                secret: tag,
              });
              ids.push(info.id);
              acked.push({ dev: c.dev % n, id: info.id, field: 'secret', value: tag });
            } else if (c.op === 'update' && id) {
              const changes = c.field === 'secret' ? { secret: tag } : { attributes: { [c.field]: tag } };
              if (await quietly(() => d.ks.keychain.update(id, changes)))
                acked.push({ dev: c.dev % n, id, field: c.field, value: tag });
            } else if (c.op === 'delete' && id) await quietly(() => d.ks.keychain.delete(id));
            else if (c.op === 'undelete' && id) await quietly(() => d.ks.keychain.undelete(id));
            else if (c.op === 'sync') await d.engine.now();
            else if (c.op === 'syncAll') await syncAll(devices, 1);
            else if (c.op === 'restart') await d.restart();
          }
          await syncAll(devices, 8);

          const account = server.tamper(set.accountId);
          for (const id of ids) {
            const onServer = Buffer.from(fromWire(account.records.get(id)!.record)).toString('hex');
            for (const d of devices) {
              const stored = await d.ks.keychain.syncAccess().get(currentKey(id));
              assert.equal(
                Buffer.from(stored!.value).toString('hex'),
                onServer,
                `${d.name} holds the server's record of ${id}`,
              );
            }
          }
          for (const d of devices)
            assert.equal((await d.engine.status()).queued, 0, `${d.name} has nothing queued`);
          for (const w of acked) {
            const kc = devices[w.dev]!.ks.keychain;
            const current = await quietly(() => kc.get(w.id));
            const versions = [...(current ? [current] : []), ...(await kc.history(w.id))];
            assert.ok(
              versions.some((v) => fieldValue(v, w.field) === w.value),
              `write ${w.field}=${w.value} of device ${w.dev} on ${w.id} is current or in its history`,
            );
          }
        },
      ),
      { numRuns: Number(process.env.SYNC_PROPERTY_RUNS ?? 12), endOnFailure: true },
    );
  });
});
