// Recomputes the vectors of SPEC §17.7: the manifest digest over two records and the worked merges
// (two edits of different fields, the device-id tie-break, delete against edit both ways).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { canonicalJson } from '../core/encoding.js';
import type { ItemBody } from '../keychain/record.js';
import { Manifest } from './manifest.js';
import { type ItemVersion, mergeVersions } from './merge.js';

const UUID = '00000000-0000-4000-8000-000000000001';
const C0 = '018f0000000000000123456789abcdef';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

function version(
  clock: string,
  gencount: number,
  fields: { account?: string; secret?: string },
  stamps: Record<string, string>,
  modifiedAt: number,
): ItemVersion {
  const body: ItemBody = {
    kind: 'generic-password',
    group: 'default',
    sync: true,
    createdAt: 1700000000000,
    modifiedAt,
    attributes: { account: fields.account ?? 'alice', service: 'example' },
    secret: b64(fields.secret ?? 'hunter2'),
    clocks: { 'attr.account': C0, 'attr.service': C0, secret: C0, ...stamps },
  };
  return { uuid: UUID, gencount, clock, deviceId: clock.slice(16), body };
}

test('SPEC §17.7 manifest digest over two records', () => {
  const entries = [
    { uuid: '00000000-0000-4000-8000-000000000002', hash: createHash('sha256').update('').digest('hex') },
    { uuid: UUID, hash: '8cc2da3aad4ba69dd17e82e3830df04c3e3d564b7ccaa0721c31e736d874636f' },
  ];
  const both = new Manifest(entries);
  assert.equal(both.digest(), '758cbcb918fafd15fcb89e38d221fb466ffbc0a24588fb52da5f1d91e9b8514e');
  const first = 'a8a3a383a3cdd817f31a2ce5703a3a8286674f5f5401e69cfbfe848aa02b617e';
  assert.equal(new Manifest([entries[1]!]).digest(), first);
  assert.equal(both.fingerprint('00000000000040008000000000000001'), first);
  const empty = 'ed40f9bfbdf3e3751842ae509db2b93c94f185619ac7a62125fafbbef3a77068';
  assert.equal(new Manifest([]).digest(), empty);
  assert.equal(both.fingerprint('1'), empty);
});

const TA = '018f000001000000aaaaaaaaaaaaaaaa';
const TB = '018f000000ff0000bbbbbbbbbbbbbbbb';

test('SPEC §17.7 merge of two edits of different fields, in either order', () => {
  const a = version(TA, 2, { secret: 'correct horse' }, { secret: TA }, 1700000000100);
  const b = version(
    TB,
    2,
    { account: 'alice@example.com', secret: 'tr0ub4dor' },
    { 'attr.account': TB, secret: TB },
    1700000000050,
  );
  for (const r of [mergeVersions(a, b), mergeVersions(b, a)]) {
    assert.equal(r.outcome, 'combined');
    assert.deepEqual(r.body.attributes, { account: 'alice@example.com', service: 'example' });
    assert.equal(r.body.secret, b64('correct horse'));
    assert.deepEqual(r.body.clocks, { 'attr.account': TB, 'attr.service': C0, secret: TA });
    assert.equal(r.clock, TA);
    assert.equal(r.body.modifiedAt, 1700000000100);
    assert.deepEqual(r.superseded, [
      { field: 'attr.account', value: '"alice"', clock: C0 },
      { field: 'secret', value: '"dHIwdWI0ZG9y"', clock: TB },
    ]);
    assert.deepEqual(r.history, [b, a]);
    assert.equal(
      createHash('sha256').update(canonicalJson(r.body)).digest('hex'),
      '0eb36829355697fe70b596ef820a14894f203aa30ea9f01c61ebf1f158a6d7f2',
    );
  }
});

test('SPEC §17.7 device-id tie-break on one field', () => {
  const sameA = '018f000001000000aaaaaaaaaaaaaaaa';
  const sameB = '018f000001000000bbbbbbbbbbbbbbbb';
  const a = version(sameA, 2, { secret: 'from a' }, { secret: sameA }, 1700000000100);
  const b = version(sameB, 2, { secret: 'from b' }, { secret: sameB }, 1700000000100);
  for (const r of [mergeVersions(a, b), mergeVersions(b, a)]) {
    assert.equal(r.outcome, 'kept');
    assert.equal(r.winner, b);
    assert.equal(r.body.secret, b64('from b'));
    assert.deepEqual(r.history, [a]);
    assert.deepEqual(r.superseded, [{ field: 'secret', value: JSON.stringify(b64('from a')), clock: sameA }]);
  }
});

test('SPEC §17.7 delete against edit, both ways', () => {
  const deleteClock = '018f000002000000aaaaaaaaaaaaaaaa';
  const tombstone: ItemVersion = {
    uuid: UUID,
    gencount: 2,
    clock: deleteClock,
    deviceId: 'aaaaaaaaaaaaaaaa',
    tomb: 1700000000200,
    body: {
      kind: 'generic-password',
      group: 'default',
      sync: true,
      createdAt: 1700000000000,
      modifiedAt: 1700000000200,
      attributes: {},
      secret: '',
      clocks: {},
    },
  };
  const earlier = '018f000001ff0000bbbbbbbbbbbbbbbb';
  const unseen = version(earlier, 2, { secret: 'earlier edit' }, { secret: earlier }, 1700000000199);
  for (const r of [mergeVersions(tombstone, unseen), mergeVersions(unseen, tombstone)]) {
    assert.equal(r.winner, tombstone);
    assert.equal(r.tomb, 1700000000200);
    assert.deepEqual(r.history, [unseen]);
    assert.ok(
      r.superseded.some((e) => e.field === 'secret' && e.value === JSON.stringify(b64('earlier edit'))),
    );
  }
  const later = '018f000002000000bbbbbbbbbbbbbbbb';
  const after = version(later, 2, { secret: 'later edit' }, { secret: later }, 1700000000200);
  for (const r of [mergeVersions(tombstone, after), mergeVersions(after, tombstone)]) {
    assert.equal(r.winner, after);
    assert.equal(r.tomb, undefined);
    assert.equal(r.body.secret, b64('later edit'));
    assert.deepEqual(r.history, [tombstone]);
  }
});
