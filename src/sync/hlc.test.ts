// The sync clock of SPEC §17.3: never goes backwards whatever the wall clock does, every clock it
// issues is above every clock it has seen, the receive rule's cases, the counter's overflow, and the
// skew bound refusing a clock from the far future without moving.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { formatClock, parseClock } from '../keychain/clock.js';
import { compareClocks, DEFAULT_MAX_SKEW_MS, SyncClock } from './hlc.js';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';

test('now follows wall time and counts within one millisecond', () => {
  let t = 1000;
  const c = new SyncClock({ deviceId: A, wallTime: () => t });
  assert.equal(c.now(), formatClock({ wall: 1000, counter: 0, deviceId: A }));
  assert.equal(c.now(), formatClock({ wall: 1000, counter: 1, deviceId: A }));
  t = 900; // the wall clock stepped back: the clock does not
  assert.equal(c.now(), formatClock({ wall: 1000, counter: 2, deviceId: A }));
  t = 2000;
  assert.equal(c.now(), formatClock({ wall: 2000, counter: 0, deviceId: A }));
});

test('update: the receive rule of Kulkarni et al. in each case', () => {
  let t = 1000;
  const c = new SyncClock({
    deviceId: A,
    wallTime: () => t,
    last: formatClock({ wall: 1000, counter: 4, deviceId: A }),
  });
  // Remote ahead (within the bound): take its wall, counter + 1.
  assert.equal(
    c.update(formatClock({ wall: 1500, counter: 7, deviceId: B })),
    formatClock({ wall: 1500, counter: 8, deviceId: A }),
  );
  // Same wall on both: max counter + 1.
  assert.equal(
    c.update(formatClock({ wall: 1500, counter: 3, deviceId: B })),
    formatClock({ wall: 1500, counter: 9, deviceId: A }),
  );
  // Remote behind: own wall, own counter + 1.
  assert.equal(
    c.update(formatClock({ wall: 10, counter: 99, deviceId: B })),
    formatClock({ wall: 1500, counter: 10, deviceId: A }),
  );
  // Physical time past both: counter resets.
  t = 5000;
  assert.equal(
    c.update(formatClock({ wall: 10, counter: 0, deviceId: B })),
    formatClock({ wall: 5000, counter: 0, deviceId: A }),
  );
});

test('a clock further ahead than the skew bound is refused and changes nothing', () => {
  const t = 1_000_000;
  const c = new SyncClock({ deviceId: A, wallTime: () => t, maxSkewMs: 1000 });
  const before = c.now();
  assert.throws(
    () => c.update(formatClock({ wall: t + 1001, counter: 0, deviceId: B })),
    (e: unknown) => e instanceof CofferError && e.code === 'EINVAL',
  );
  assert.equal(c.last(), before);
  assert.equal(parseClock(c.update(formatClock({ wall: t + 1000, counter: 0, deviceId: B }))).wall, t + 1000);
  assert.equal(new SyncClock({ deviceId: A }).maxSkewMs, DEFAULT_MAX_SKEW_MS);
});

test('65 536 events in one millisecond borrow the next millisecond', () => {
  const c = new SyncClock({
    deviceId: A,
    wallTime: () => 7,
    last: formatClock({ wall: 7, counter: 0xffff, deviceId: A }),
  });
  assert.equal(c.now(), formatClock({ wall: 8, counter: 0, deviceId: A }));
});

test('every clock issued is above every clock issued or seen before, whatever the wall clock does', () => {
  const event = fc.oneof(
    fc.record({ kind: fc.constant('now' as const), wall: fc.integer({ min: 0, max: 50 }) }),
    fc.record({
      kind: fc.constant('update' as const),
      wall: fc.integer({ min: 0, max: 50 }),
      remoteWall: fc.integer({ min: 0, max: 60 }),
      remoteCounter: fc.integer({ min: 0, max: 0xffff }),
    }),
  );
  fc.assert(
    fc.property(fc.array(event, { maxLength: 60 }), (events) => {
      let t = 0;
      const c = new SyncClock({ deviceId: A, wallTime: () => t, maxSkewMs: 5 });
      let highest = '';
      for (const e of events) {
        t = e.wall;
        if (e.kind === 'now') {
          const next = c.now();
          assert.ok(next > highest);
          assert.ok(parseClock(next).wall >= t);
          highest = next;
        } else {
          const remote = formatClock({ wall: e.remoteWall, counter: e.remoteCounter, deviceId: B });
          if (e.remoteWall > t + 5) {
            assert.throws(() => c.update(remote));
            continue;
          }
          const next = c.update(remote);
          assert.ok(compareClocks(next, remote) === 1 || parseClock(next).wall > parseClock(remote).wall);
          assert.ok(next > highest);
          highest = next;
        }
      }
    }),
  );
});

test('compareClocks is the string order and refuses what is not a clock', () => {
  const x = formatClock({ wall: 5, counter: 1, deviceId: A });
  const y = formatClock({ wall: 5, counter: 1, deviceId: B });
  assert.equal(compareClocks(x, y), -1);
  assert.equal(compareClocks(y, x), 1);
  assert.equal(compareClocks(x, x), 0);
  assert.throws(
    () => compareClocks(x, 'zz'),
    (e: unknown) => e instanceof CofferError && e.code === 'EBADMSG',
  );
  assert.throws(
    () => new SyncClock({ deviceId: 'short' }),
    (e: unknown) => e instanceof CofferError && e.code === 'EINVAL',
  );
});
