// The merge rule (SPEC §17.4) under the compare-and-swap rule (SPEC §17.2), checked as a protocol:
// 3 devices with skewed clocks make random offline edits of the same and of different fields,
// deletes and undeletes of one item, and sync with a model of the server's gencount swap in a random
// order. After everyone syncs, all devices hold the same version, and every write any device made is
// either in that version with its stamp or in some device's history: 0 lost. The real server,
// transport and encryption are not in this test (they do not exist yet, issue 13); the keychain's
// own applyPatch makes the edits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../core/encoding.js';
import { applyPatch } from '../keychain/body.js';
import type { ItemBody } from '../keychain/record.js';
import { SyncClock } from './hlc.js';
import { type ItemVersion, mergeVersions } from './merge.js';

const UUID = '00000000-0000-4000-8000-00000000c0de';
const DEVICES = ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb', 'cccccccccccccccc'];

type Op =
  | { kind: 'edit'; device: number; field: 'secret' | 'account' | 'x'; value: string }
  | { kind: 'delete'; device: number }
  | { kind: 'undelete'; device: number }
  | { kind: 'sync'; device: number }
  | { kind: 'tick'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('edit' as const),
      device: fc.integer({ min: 0, max: 2 }),
      field: fc.constantFrom('secret' as const, 'account' as const, 'x' as const),
      value: fc.constantFrom('v1', 'v2', 'v3', 'v4'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('delete' as const), device: fc.integer({ min: 0, max: 2 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('undelete' as const), device: fc.integer({ min: 0, max: 2 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('sync' as const), device: fc.integer({ min: 0, max: 2 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 3 }) }),
  },
);

interface Device {
  id: string;
  clock: SyncClock;
  current: ItemVersion;
  history: ItemVersion[];
}

const content = (v: ItemVersion) => canonicalJson({ body: v.body, tomb: v.tomb ?? null });
const secretOf = (s: string) => Buffer.from(s).toString('base64');

function fieldStamps(v: ItemVersion): string[] {
  const out: string[] = [];
  for (const [field, clock] of Object.entries(v.body.clocks)) {
    const attrs = v.body.attributes as Record<string, unknown>;
    const value =
      field === 'secret'
        ? v.body.secret
        : field.startsWith('attr.')
          ? attrs[field.slice(5)]
          : v.body.attributes.custom?.[field.slice(7)];
    out.push(`${field}=${JSON.stringify(value ?? null)}@${clock}`);
  }
  return out;
}

function run(ops: Op[], offsets: number[]) {
  let now = 1_000_000;
  const createdClock = `${now.toString(16).padStart(12, '0')}0000${DEVICES[0]}`;
  const created: ItemVersion = {
    uuid: UUID,
    gencount: 1,
    clock: createdClock,
    deviceId: DEVICES[0]!,
    body: {
      kind: 'generic-password',
      group: 'default',
      sync: true,
      createdAt: now,
      modifiedAt: now,
      attributes: { account: 'alice', service: 'example' },
      secret: secretOf('hunter2'),
      clocks: { secret: createdClock, 'attr.account': createdClock, 'attr.service': createdClock },
    },
  };
  let server: ItemVersion = created;
  const devices: Device[] = DEVICES.map((id, i) => ({
    id,
    clock: new SyncClock({ deviceId: id, wallTime: () => now + offsets[i]!, last: createdClock }),
    current: created,
    history: [],
  }));
  const written: string[] = []; // every field stamp any device wrote
  const write = (d: Device, next: ItemVersion) => {
    d.history.push(d.current);
    d.current = next;
    for (const s of fieldStamps(next)) written.push(s);
  };
  const sync = (d: Device) => {
    d.clock.update(server.clock);
    if (content(d.current) === content(server)) {
      d.current = server;
      return;
    }
    const r = mergeVersions(d.current, server);
    for (const v of r.history) if (!d.history.includes(v)) d.history.push(v);
    const result: ItemVersion = {
      ...r.winner,
      body: r.body,
      clock: r.clock,
      deviceId: d.id,
      gencount: Math.max(d.current.gencount, server.gencount) + 1,
    };
    if (r.tomb === undefined) delete result.tomb;
    if (content(result) === content(server)) {
      d.current = server;
      return;
    }
    // Compare-and-swap on the gencount the device just read: nothing runs in between here.
    assert.ok(result.gencount > server.gencount);
    server = result;
    d.current = result;
  };
  for (const op of ops) {
    if (op.kind === 'tick') {
      now += op.ms;
      continue;
    }
    const d = devices[op.device]!;
    if (op.kind === 'sync') sync(d);
    else if (op.kind === 'edit') {
      if (d.current.tomb !== undefined) continue;
      const clock = d.clock.now();
      const patch =
        op.field === 'secret'
          ? { secret: new TextEncoder().encode(op.value) }
          : op.field === 'account'
            ? { attributes: { account: op.value } }
            : { attributes: { custom: { x: op.value } } };
      const body = applyPatch(d.current.body, patch, clock, now);
      write(d, { ...d.current, gencount: d.current.gencount + 1, clock, deviceId: d.id, body });
    } else if (op.kind === 'delete') {
      if (d.current.tomb !== undefined) continue;
      const clock = d.clock.now();
      const body: ItemBody = { ...d.current.body, attributes: {}, secret: '', clocks: {}, modifiedAt: now };
      write(d, { ...d.current, gencount: d.current.gencount + 1, clock, deviceId: d.id, tomb: now, body });
    } else {
      if (d.current.tomb === undefined) continue;
      const last = [...d.history].reverse().find((v) => v.tomb === undefined);
      if (!last) continue;
      const clock = d.clock.now();
      const clocks = Object.fromEntries(Object.keys(last.body.clocks).map((f) => [f, clock]));
      const { tomb: _gone, ...live } = last;
      write(d, {
        ...live,
        gencount: d.current.gencount + 1,
        clock,
        deviceId: d.id,
        body: { ...last.body, clocks },
      });
    }
  }
  // Everyone syncs until nothing changes: two full rounds suffice (one to merge in, one to hear it).
  for (let round = 0; round < 2; round++) for (const d of devices) sync(d);
  return { server, devices, written };
}

test('3 devices, random offline edits, deletes and sync order: identical at the end, 0 writes lost', () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { maxLength: 60 }),
      fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 3, maxLength: 3 }),
      (ops, offsets) => {
        const { server, devices, written } = run(ops, offsets);
        for (const d of devices) assert.equal(content(d.current), content(server), `device ${d.id} differs`);
        const kept = new Set([
          ...fieldStamps(server),
          ...devices.flatMap((d) => d.history.flatMap((v) => fieldStamps(v))),
        ]);
        for (const stamp of written) assert.ok(kept.has(stamp), `write ${stamp} lost`);
        // Without deletes, field-level merge keeps every field's latest write in the current version:
        // concurrent edits of different fields both survive there, not only in history.
        if (!ops.some((o) => o.kind === 'delete'))
          for (const field of ['secret', 'attr.account', 'custom.x']) {
            const latest = written
              .filter((w) => w.startsWith(`${field}=`))
              .sort((x, y) => (x.split('@')[1]! < y.split('@')[1]! ? -1 : 1))
              .at(-1);
            if (latest) assert.ok(fieldStamps(server).includes(latest), `${latest} not current`);
          }
      },
    ),
    { numRuns: 200 },
  );
});
