// Records as they travel (SPEC §17.2): a real keychain record goes to its wire form and back byte for
// byte (so its record hash is the same on both sides) and still opens; a wire record whose gencount,
// uuid, clock or tombstone flag was changed in transit fails to open (EBADMSG); headers the wire
// cannot carry are refused before sending.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { insecureSeededRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import {
  type ItemBody,
  openItemRecord,
  parseRecord,
  type RecordHeader,
  sealItemRecord,
} from '../keychain/record.js';
import { recordHash } from './manifest.js';
import { fromWire, toWire, type WireRecord } from './wire-record.js';

const classKey = Uint8Array.from({ length: 32 }, (_, i) => i);
const rng = insecureSeededRng(new TextEncoder().encode('coffer sync wire tests'));
const header: RecordHeader = {
  uuid: '00000000-0000-4000-8000-000000000001',
  parentKeyId: 'ck_aaaaaaaaaaaaaaaa',
  version: 3,
  clock: '018f0000000000000123456789abcdef',
  deviceId: '0123456789abcdef',
};
const body: ItemBody = {
  kind: 'generic-password',
  group: 'default',
  sync: true,
  createdAt: 1,
  modifiedAt: 2,
  attributes: { service: 'example', account: 'alice' },
  secret: 'aHVudGVyMg==',
  clocks: { secret: header.clock, 'attr.service': header.clock, 'attr.account': header.clock },
};
const isBadMsg = (e: unknown) => e instanceof CofferError && e.code === 'EBADMSG';

function travel(w: WireRecord): unknown {
  return JSON.parse(JSON.stringify(w));
}

test('a record goes to the wire and back byte for byte and still opens', () => {
  for (const h of [header, { ...header, tomb: 1700000000000 }]) {
    const stored = sealItemRecord(h, body, classKey, rng);
    const wire = toWire(stored);
    assert.equal(wire.gencount, h.version);
    assert.equal(wire.tomb, h.tomb);
    const back = fromWire(travel(wire));
    assert.deepEqual(back, stored);
    assert.equal(recordHash(back), recordHash(stored));
    assert.deepEqual(openItemRecord(parseRecord(back), classKey), body);
  }
});

test('a field changed in transit makes the record fail to open', () => {
  const stored = sealItemRecord({ ...header, tomb: 5 }, body, classKey, rng);
  const wire = toWire(stored);
  const changes: Partial<WireRecord>[] = [
    { gencount: 2 }, // rolled back
    { gencount: 4 },
    { uuid: '00000000-0000-4000-8000-000000000002' }, // moved to another item
    { clock: '018f0000000000010123456789abcdef' },
    { deviceId: 'fedcba9876543210' },
    { tomb: 6 },
  ];
  for (const change of changes) {
    const rebuilt = fromWire(travel({ ...wire, ...change }));
    assert.throws(() => openItemRecord(parseRecord(rebuilt), classKey), isBadMsg, JSON.stringify(change));
  }
  const { tomb: _dropped, ...untombed } = wire; // a tombstone turned back into a live item
  assert.throws(
    () => openItemRecord(parseRecord(fromWire(travel(untombed as WireRecord))), classKey),
    isBadMsg,
  );
});

test('any flipped bit of the travelling key or ciphertext fails to open', () => {
  const stored = sealItemRecord(header, body, classKey, rng);
  const wire = toWire(stored);
  fc.assert(
    fc.property(fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 7 }), (inKey, index, bit) => {
      const bytes = Buffer.from(inKey ? wire.wrappedKey : wire.encItem, 'base64');
      bytes[index % bytes.length]! ^= 1 << bit;
      const changed = { ...wire, [inKey ? 'wrappedKey' : 'encItem']: bytes.toString('base64') };
      assert.throws(() => openItemRecord(parseRecord(fromWire(travel(changed))), classKey), isBadMsg);
    }),
    { numRuns: 100 },
  );
});

test('malformed wire records are EBADMSG; headers the wire cannot carry are EINVAL before sending', () => {
  const wire = toWire(sealItemRecord(header, body, classKey, rng));
  for (const bad of [
    null,
    [],
    { ...wire, extra: 1 },
    { ...wire, gencount: '3' },
    { ...wire, encItem: 'not base64!' },
    { ...wire, wrappedKey: wire.wrappedKey.slice(4) },
    { ...wire, uuid: 'nope' },
  ])
    assert.throws(() => fromWire(bad), isBadMsg, JSON.stringify(bad)?.slice(0, 60));
  const future = sealItemRecord({ ...header, shard: 7 }, body, classKey, rng);
  assert.throws(
    () => toWire(future),
    (e: unknown) => e instanceof CofferError && e.code === 'EINVAL',
  );
});
