// Properties of the item merge (SPEC §17.4): the same result whichever version is the device's own,
// no field value lost (in the result with its stamp, or in history), field-level last-writer-wins,
// the delete-versus-edit rule both ways, and refusal of inputs that are not two versions of one item.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../core/encoding.js';
import { CofferError } from '../errors.js';
import type { ItemBody } from '../keychain/record.js';
import { type ItemVersion, type MergeResult, mergeVersions } from './merge.js';

const UUID = '00000000-0000-4000-8000-0000000000aa';
const FIELDS = ['secret', 'attr.account', 'attr.label', 'attr.port', 'custom.pin', 'custom.q'] as const;
const clockArb = fc
  .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 2 }), fc.constantFrom('a', 'b', 'c'))
  .map(
    ([wall, counter, d]) =>
      `${wall.toString(16).padStart(12, '0')}${counter.toString(16).padStart(4, '0')}${d.repeat(16)}`,
  );

type FieldState =
  | { kind: 'unset' }
  | { kind: 'removed'; clock: string }
  | { kind: 'set'; value: string; clock: string };
const fieldArb: fc.Arbitrary<FieldState> = fc.oneof(
  fc.constant({ kind: 'unset' as const }),
  clockArb.map((clock) => ({ kind: 'removed' as const, clock })),
  fc.record({ kind: fc.constant('set' as const), value: fc.constantFrom('1', '2', 'x'), clock: clockArb }),
);

function liveBody(states: FieldState[], modifiedAt: number): ItemBody {
  const attributes: Record<string, unknown> = {};
  const custom: Record<string, string> = {};
  const clocks: Record<string, string> = {};
  let secret = '';
  FIELDS.forEach((field, i) => {
    const s = states[i]!;
    if (s.kind === 'unset') return;
    clocks[field] = s.clock;
    if (s.kind === 'removed') return;
    if (field === 'secret') secret = Buffer.from(s.value).toString('base64');
    else if (field === 'attr.port') attributes.port = Number(s.value === 'x' ? 443 : s.value);
    else if (field.startsWith('attr.')) attributes[field.slice(5)] = s.value;
    else custom[field.slice(7)] = s.value;
  });
  if (Object.keys(custom).length > 0) attributes.custom = custom;
  return { kind: 'note', group: 'default', sync: true, createdAt: 1, modifiedAt, attributes, secret, clocks };
}

const liveArb: fc.Arbitrary<ItemVersion> = fc
  .tuple(fc.array(fieldArb, { minLength: FIELDS.length, maxLength: FIELDS.length }), clockArb, fc.nat(1000))
  .map(([states, extra, modifiedAt]) => {
    const body = liveBody(states, modifiedAt);
    // A record's clock is at least the stamp of every field it wrote.
    const clock = [extra, ...Object.values(body.clocks)].sort().at(-1)!;
    return { uuid: UUID, gencount: 1 + (modifiedAt % 7), clock, deviceId: clock.slice(16), body };
  });
const tombArb: fc.Arbitrary<ItemVersion> = fc.tuple(clockArb, fc.nat(1000)).map(([clock, at]) => ({
  uuid: UUID,
  gencount: 1 + (at % 7),
  clock,
  deviceId: clock.slice(16),
  tomb: at,
  body: {
    kind: 'note',
    group: 'default',
    sync: true,
    createdAt: 1,
    modifiedAt: at,
    attributes: {},
    secret: '',
    clocks: {},
  },
}));
const versionArb = fc.oneof({ weight: 3, arbitrary: liveArb }, { weight: 1, arbitrary: tombArb });

/** field → [value or null, stamp or ''] as the body holds it. */
function fieldsOf(body: ItemBody): Map<string, [string | null, string]> {
  const out = new Map<string, [string | null, string]>();
  const attrs = body.attributes as Record<string, unknown>;
  for (const field of FIELDS) {
    let value: unknown;
    if (field === 'secret') value = body.secret === '' ? undefined : body.secret;
    else if (field.startsWith('attr.')) value = attrs[field.slice(5)];
    else value = body.attributes.custom?.[field.slice(7)];
    const clock = body.clocks[field] ?? '';
    if (value !== undefined || clock !== '')
      out.set(field, [value === undefined ? null : canonicalJson(value), clock]);
  }
  return out;
}

const view = (r: MergeResult) =>
  canonicalJson({ ...r, winner: { ...r.winner }, history: r.history.map((v) => ({ ...v })) });

test('merge does not depend on which version is the local one', () => {
  fc.assert(
    fc.property(versionArb, versionArb, (a, b) => {
      assert.equal(view(mergeVersions(a, b)), view(mergeVersions(b, a)));
    }),
    { numRuns: 400 },
  );
});

test('no field value is lost: it is in the result with its stamp, or its version is in history', () => {
  fc.assert(
    fc.property(versionArb, versionArb, (a, b) => {
      const r = mergeVersions(a, b);
      const result = fieldsOf(r.body);
      for (const input of [a, b]) {
        const inHistory = r.history.includes(input);
        for (const [field, held] of fieldsOf(input.body)) {
          const kept = result.get(field);
          const same = kept !== undefined && kept[0] === held[0] && kept[1] === held[1];
          assert.ok(same || inHistory, `${field} of ${input.clock} lost`);
          if (!same && input.tomb === undefined && r.tomb === undefined)
            assert.ok(
              r.superseded.some((s) => s.field === field && s.value === held[0] && s.clock === held[1]),
              `${field} of ${input.clock} not reported superseded`,
            );
        }
        if (!inHistory) assert.equal(canonicalJson(input.body), canonicalJson(r.body));
      }
      for (const s of r.superseded)
        assert.ok(r.history.some((v) => fieldsOf(v.body).get(s.field)?.[0] === s.value));
    }),
    { numRuns: 400 },
  );
});

test('two live versions: each field carries the later of the two stamps (field-level last writer wins)', () => {
  fc.assert(
    fc.property(liveArb, liveArb, (a, b) => {
      const r = mergeVersions(a, b);
      for (const field of FIELDS) {
        const stamps = [a.body.clocks[field] ?? '', b.body.clocks[field] ?? ''].sort();
        assert.equal(r.body.clocks[field] ?? '', stamps[1]);
      }
      // A merge takes no new stamp: the result's clock is the surviving record's.
      assert.equal(r.clock, r.winner.clock);
      assert.ok(r.winner === a || r.winner === b);
      if (r.outcome === 'combined')
        assert.equal(r.body.modifiedAt, Math.max(a.body.modifiedAt, b.body.modifiedAt));
    }),
    { numRuns: 300 },
  );
});

test('merge is idempotent and absorbs: merging a version into a result changes nothing', () => {
  fc.assert(
    fc.property(versionArb, versionArb, (a, b) => {
      const self = mergeVersions(a, a);
      assert.equal(self.outcome, 'kept');
      assert.deepEqual(self.history, []);
      const r = mergeVersions(a, b);
      const asVersion: ItemVersion = {
        ...r.winner,
        clock: r.clock,
        body: r.body,
        ...(r.tomb !== undefined ? { tomb: r.tomb } : {}),
      };
      if (r.tomb === undefined) delete (asVersion as { tomb?: number }).tomb;
      for (const input of [a, b]) {
        const again = mergeVersions(input, asVersion);
        assert.equal(canonicalJson(again.body), canonicalJson(r.body));
        assert.equal(again.tomb, r.tomb);
      }
    }),
    { numRuns: 300 },
  );
});

test('delete against edit: an edit stamped after the delete resurrects, one before it loses to history', () => {
  fc.assert(
    fc.property(tombArb, liveArb, (tomb, live) => {
      const r = mergeVersions(tomb, live);
      const latestEdit = Object.values(live.body.clocks).sort().at(-1) ?? '';
      if (latestEdit > tomb.clock) {
        assert.equal(r.winner, live);
        assert.equal(r.tomb, undefined);
        assert.equal(r.body, live.body);
        assert.deepEqual(r.history, [tomb]);
      } else {
        assert.equal(r.winner, tomb);
        assert.equal(r.tomb, tomb.tomb);
        assert.deepEqual(r.history, [live]);
      }
    }),
    { numRuns: 300 },
  );
});

test('a live record re-written after the delete without a new edit does not undo the delete', () => {
  const deleteClock = `0000000000050000${'a'.repeat(16)}`;
  const edit = `${'000000000003'}0000${'b'.repeat(16)}`;
  const rewrite = `${'000000000009'}0000${'b'.repeat(16)}`;
  const body = liveBody(
    [
      { kind: 'set', value: '1', clock: edit },
      { kind: 'unset' },
      { kind: 'unset' },
      { kind: 'unset' },
      { kind: 'unset' },
      { kind: 'unset' },
    ],
    9,
  );
  const live: ItemVersion = { uuid: UUID, gencount: 3, clock: rewrite, deviceId: 'b'.repeat(16), body };
  const tomb: ItemVersion = {
    uuid: UUID,
    gencount: 2,
    clock: deleteClock,
    deviceId: 'a'.repeat(16),
    tomb: 5,
    body: { ...body, attributes: {}, secret: '', clocks: {} },
  };
  const r = mergeVersions(live, tomb);
  assert.equal(r.winner, tomb);
  assert.deepEqual(r.history, [live]);
});

test('two tombstones: the later delete stands', () => {
  fc.assert(
    fc.property(tombArb, tombArb, (a, b) => {
      const r = mergeVersions(a, b);
      assert.notEqual(r.tomb, undefined);
      assert.equal(r.clock, [a.clock, b.clock].sort()[1]);
    }),
  );
});

test('versions of two items, malformed stamps and gencounts are refused', () => {
  const [a] = fc.sample(liveArb, { numRuns: 1, seed: 7 });
  const other = { ...a!, uuid: '00000000-0000-4000-8000-0000000000bb' };
  assert.throws(
    () => mergeVersions(a!, other),
    (e: unknown) => e instanceof CofferError && e.code === 'EINVAL',
  );
  const badClock = { ...a!, clock: 'not a clock' };
  assert.throws(
    () => mergeVersions(a!, badClock),
    (e: unknown) => e instanceof CofferError && e.code === 'EBADMSG',
  );
  const badField = { ...a!, body: { ...a!.body, clocks: { secret: 'zz' } } };
  assert.throws(
    () => mergeVersions(a!, badField),
    (e: unknown) => e instanceof CofferError && e.code === 'EBADMSG',
  );
  const badGen = { ...a!, gencount: 0 };
  assert.throws(
    () => mergeVersions(a!, badGen),
    (e: unknown) => e instanceof CofferError && e.code === 'EINVAL',
  );
});
