// Range-based reconciliation (SPEC §17.6) against the real answering side: exactly the symmetric
// difference for random sets, one round trip when nothing differs, round trips and transfer that
// grow with the differences and log n (counted, not timed), and a lying peer refused.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { Manifest, type ManifestEntry } from './manifest.js';
import {
  manifestPeer,
  type RangeAnswer,
  type RangeRequest,
  type ReconcilePeer,
  reconcile,
} from './reconcile.js';

function uuidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
const hashOf = (s: string) => createHash('sha256').update(s).digest('hex');

function entries(n: number, tag = 'v1'): ManifestEntry[] {
  return Array.from({ length: n }, (_, i) => ({ uuid: uuidFrom(`item ${i}`), hash: hashOf(`${i} ${tag}`) }));
}

/** Counts what crosses the wire: round trips, range requests, entries listed. */
function counting(peer: ReconcilePeer) {
  const seen = { roundTrips: 0, requests: 0, entries: 0 };
  return {
    seen,
    peer: {
      async query(requests: readonly RangeRequest[]) {
        seen.roundTrips += 1;
        seen.requests += requests.length;
        const answers = await peer.query(JSON.parse(JSON.stringify(requests)));
        for (const a of answers) if (a.result === 'entries') seen.entries += a.entries.length;
        return JSON.parse(JSON.stringify(answers)) as RangeAnswer[];
      },
    } satisfies ReconcilePeer,
  };
}

function symmetricDifference(a: ManifestEntry[], b: ManifestEntry[]): string[] {
  const ma = new Map(a.map((e) => [e.uuid, e.hash]));
  const mb = new Map(b.map((e) => [e.uuid, e.hash]));
  const out = new Set<string>();
  for (const [u, h] of ma) if (mb.get(u) !== h) out.add(u);
  for (const u of mb.keys()) if (!ma.has(u)) out.add(u);
  return [...out].sort();
}

test('finds exactly the symmetric difference of random sets', async () => {
  const entryArb = fc.record({
    uuid: fc.integer({ min: 0, max: 400 }).map((i) => uuidFrom(`u${i}`)),
    hash: fc.integer({ min: 0, max: 2 }).map((v) => hashOf(`h${v}`)),
  });
  const setArb = fc.uniqueArray(entryArb, { selector: (e) => e.uuid, maxLength: 300 });
  await fc.assert(
    fc.asyncProperty(setArb, setArb, fc.integer({ min: 1, max: 20 }), async (a, b, threshold) => {
      const result = await reconcile(new Manifest(a), manifestPeer(new Manifest(b), threshold));
      assert.deepEqual(result.ids, symmetricDifference(a, b));
      const remote = new Map(b.map((e) => [e.uuid, e.hash]));
      for (const id of result.localOnly) assert.equal(remote.has(id), false);
      for (const id of result.remoteOnly) assert.equal(remote.has(id), true);
      for (const id of result.changed) assert.equal(remote.has(id), true);
    }),
    { numRuns: 150 },
  );
});

test('an unchanged keychain costs one round trip carrying one digest', async () => {
  const set = entries(5000);
  const { seen, peer } = counting(manifestPeer(new Manifest(set)));
  const result = await reconcile(new Manifest([...set].reverse()), peer);
  assert.deepEqual(result.ids, []);
  assert.deepEqual(seen, { roundTrips: 1, requests: 1, entries: 0 });
});

test('few differences among many: round trips O(log n), transfer O(d · log n), counted', async () => {
  const n = 20_000;
  const base = entries(n);
  const depth = Math.ceil(Math.log(n) / Math.log(16));
  for (const d of [1, 3, 10]) {
    const theirs = base.map((e) => ({ ...e }));
    // d differences of all three kinds: changed, only here, only there.
    const local = base.map((e) => ({ ...e }));
    for (let k = 0; k < d; k++) {
      const i = (k * 7919 + 13) % n;
      if (k % 3 === 0) theirs[i] = { ...theirs[i]!, hash: hashOf(`changed ${k}`) };
      else if (k % 3 === 1) local.push({ uuid: uuidFrom(`new here ${k}`), hash: hashOf(`x${k}`) });
      else theirs.push({ uuid: uuidFrom(`new there ${k}`), hash: hashOf(`y${k}`) });
    }
    const { seen, peer } = counting(manifestPeer(new Manifest(theirs)));
    const result = await reconcile(new Manifest(local), peer);
    assert.deepEqual(result.ids, symmetricDifference(local, theirs));
    assert.equal(result.ids.length, d);
    assert.ok(seen.roundTrips <= depth + 2, `round trips ${seen.roundTrips} for n=${n}, d=${d}`);
    // Each split is of a range holding a difference: at most d per depth, 16 requests each.
    assert.ok(seen.requests <= 1 + 16 * d * (seen.roundTrips - 1), `requests ${seen.requests}`);
    // At most d listed ranges of at most 16 entries: nowhere near the n a full download sends.
    assert.ok(seen.entries <= 16 * d, `entries ${seen.entries}`);
    assert.deepEqual(
      {
        roundTrips: result.roundTrips,
        rangesSent: result.rangesSent,
        entriesReceived: result.entriesReceived,
      },
      { roundTrips: seen.roundTrips, rangesSent: seen.requests, entriesReceived: seen.entries },
    );
  }
});

test('transfer grows with log n, not n: ten times the items, a bounded number of extra requests', async () => {
  const cost = async (n: number) => {
    const base = entries(n);
    const theirs = base.map((e, i) => (i === 17 ? { ...e, hash: hashOf('edited') } : e));
    const { seen, peer } = counting(manifestPeer(new Manifest(theirs)));
    await reconcile(new Manifest(base), peer);
    return seen;
  };
  const small = await cost(2_000);
  const large = await cost(20_000);
  // One more hex digit of depth: one more round trip and 16 more requests at most.
  assert.ok(large.roundTrips <= small.roundTrips + 1);
  assert.ok(large.requests <= small.requests + 16);
  assert.ok(large.entries <= 16);
});

test('one side empty: every entry is a difference and the split stops at the list threshold', async () => {
  const set = entries(300);
  const fromEmpty = await reconcile(new Manifest([]), manifestPeer(new Manifest(set)));
  assert.equal(fromEmpty.remoteOnly.length, 300);
  const toEmpty = await reconcile(new Manifest(set), manifestPeer(new Manifest([])));
  assert.equal(toEmpty.localOnly.length, 300);
  assert.equal(toEmpty.roundTrips, 1);
});

function lyingPeer(lie: (answers: RangeAnswer[], requests: readonly RangeRequest[]) => RangeAnswer[]) {
  const honest = manifestPeer(new Manifest(entries(100, 'server')));
  return { query: async (r: readonly RangeRequest[]) => lie([...(await honest.query(r))], r) };
}
const isBadMsg = (e: unknown) => e instanceof CofferError && e.code === 'EBADMSG';

test('a peer that lies is refused: wrong count, order, entries outside range, impossible split, bad entries', async () => {
  const local = new Manifest(entries(100));
  await assert.rejects(
    reconcile(
      local,
      lyingPeer((a) => a.slice(1)),
    ),
    isBadMsg,
  );
  await assert.rejects(
    reconcile(
      local,
      lyingPeer((a) => a.map((x) => ({ ...x, prefix: `${x.prefix}0` }))),
    ),
    isBadMsg,
  );
  await assert.rejects(
    reconcile(
      local,
      lyingPeer((a, r) =>
        r[0]!.prefix === '0'
          ? a.map((x) => ({
              prefix: x.prefix,
              result: 'entries',
              entries: [{ uuid: uuidFrom('elsewhere'), hash: hashOf('z') }],
            }))
          : a,
      ),
    ),
    isBadMsg,
  );
  // Keeps answering "split" down the all-zero prefixes, past the 32 digits a uuid has.
  const endless: ReconcilePeer = {
    query: async (requests) =>
      requests.map(
        (x): RangeAnswer =>
          /^0*$/.test(x.prefix)
            ? { prefix: x.prefix, result: 'split', count: 99 }
            : { prefix: x.prefix, result: 'same' },
      ),
  };
  await assert.rejects(reconcile(local, endless), isBadMsg);
  await assert.rejects(
    reconcile(
      local,
      lyingPeer((a) =>
        a.map((x) => ({ prefix: x.prefix, result: 'entries', entries: [{ uuid: 'nope', hash: 'x' }] })),
      ),
    ),
    isBadMsg,
  );
});
