// Scheduler behaviour one rule at a time (SPEC §13.3–13.5): warnings, rotation, confirmation, max uses,
// expiry and the default-grace archive, emergency alerts, crash recovery at each point between the
// intent write and the done record, rotateDue for cron, the timer, and argument validation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Keystore } from '../core/keystore.js';
import { CofferError } from '../errors.js';
import { tempKeystore } from '../testing/keystore.js';
import type { RotationEvent } from './events.js';
import type { KeyScheduleRecord } from './plan.js';
import { DAY_MS, YEAR_MS } from './policy.js';
import { RECORD_NAMESPACE, RotationScheduler, rotateDue } from './scheduler.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2031, 5, 1);
// Well-formed, never created.
const MISSING = `k_${'a'.repeat(26)}`;

async function fixture() {
  const clock = { now: T0 };
  const t = await tempKeystore({ clock: () => clock.now });
  const events: RotationEvent[] = [];
  const sched = new RotationScheduler(t.ks, {
    clock: () => clock.now,
    subscribers: [(e) => void events.push(e)],
    instanceId: 'test',
  });
  return { ...t, clock, events, sched };
}

async function expectCode(fn: () => unknown, code: string) {
  await assert.rejects(
    async () => fn(),
    (e: unknown) => e instanceof CofferError && e.code === code,
  );
}

async function record(ks: Keystore, id: string) {
  return ks.getRecord<KeyScheduleRecord>(RECORD_NAMESPACE, `key/${id}`);
}

test('warning, rotation and expiry each happen once, at the first tick at or after their time', async () => {
  const f = await fixture();
  try {
    const key = await f.ks.createKey({
      app: 'a',
      purpose: 'p',
      algorithm: 'ed25519',
      rotation: { intervalMs: 10 * HOUR, advanceWarningMs: 3 * HOUR, gracePeriodMs: 2 * HOUR },
    });
    const at = async (h: number) => {
      f.clock.now = T0 + h * HOUR;
      return f.sched.tick();
    };
    assert.deepEqual((await at(6)).events, []);
    const warn = (await at(7)).events;
    assert.deepEqual(
      warn.map((e) => [e.type, e.version, e.dueAt]),
      [['advance_warning', 1, T0 + 7 * HOUR]],
    );
    assert.deepEqual((await at(8)).events, [], 'the warning is not repeated');
    const rot = await at(10);
    assert.deepEqual(rot.rotated, [{ keyId: key.id, from: 1, to: 2 }]);
    assert.equal(rot.events[0]?.type, 'rotated');
    assert.equal(rot.events[0]?.trigger, 'interval');
    assert.equal((await f.ks.getKey(key.id)).primaryVersion, 2);
    assert.deepEqual((await at(11)).events, []);
    const exp = await at(12);
    assert.deepEqual(
      exp.events.map((e) => [e.type, e.version]),
      [['expired', 1]],
    );
    // The keystore itself refuses the expired version (explicit grace: it stamped graceEndsAt).
    await expectCode(
      () => f.ks.verify(key.id, new Uint8Array(1), new Uint8Array(64), { version: 1 }),
      'EKEYEXPIRED',
    );
    assert.deepEqual((await at(13)).events, []);
    const tail = await f.ks.auditTail(50);
    const names = tail.map((e) => e.event).filter((e) => e.startsWith('rotation.'));
    assert.deepEqual(names, ['rotation.advance_warning', 'rotation.rotated', 'rotation.expired']);
    assert.deepEqual(
      f.events.map((e) => e.type),
      ['advance_warning', 'rotated', 'expired'],
    );
  } finally {
    await f.cleanup();
  }
});

test('requireConfirmation: awaiting_confirmation once, then confirm() rotates; confirm without it is ESTATE', async () => {
  const f = await fixture();
  try {
    const key = await f.ks.createKey({
      app: 'a',
      purpose: 'p',
      algorithm: 'aes-256-gcm',
      rotation: { intervalMs: 5 * HOUR, requireConfirmation: true },
    });
    await expectCode(() => f.sched.confirm(key.id), 'ESTATE');
    f.clock.now = T0 + 5 * HOUR;
    const r = await f.sched.tick();
    assert.deepEqual(
      r.events.map((e) => e.type),
      ['advance_warning', 'awaiting_confirmation'],
    );
    assert.deepEqual(r.rotated, []);
    f.clock.now += HOUR;
    assert.deepEqual((await f.sched.tick()).events, [], 'asked once');
    assert.equal((await f.ks.getKey(key.id)).primaryVersion, 1);
    const done = await f.sched.confirm(key.id);
    assert.equal(done.type, 'rotated');
    assert.equal(done.trigger, 'confirmed');
    assert.equal(done.dueAt, T0 + 5 * HOUR);
    assert.equal((await f.ks.getKey(key.id)).primaryVersion, 2);
    await expectCode(() => f.sched.confirm(key.id), 'ESTATE');
  } finally {
    await f.cleanup();
  }
});

test('maxUses rotates at the first tick after the primary reached its use count', async () => {
  const f = await fixture();
  try {
    const key = await f.ks.createKey({
      app: 'a',
      purpose: 'p',
      algorithm: 'ed25519',
      rotation: { maxUses: 3 },
    });
    for (let i = 0; i < 2; i++) await f.ks.sign(key.id, new Uint8Array([i]));
    f.clock.now += HOUR;
    assert.deepEqual((await f.sched.tick()).rotated, []);
    await f.ks.sign(key.id, new Uint8Array([9]));
    f.clock.now += HOUR;
    const r = await f.sched.tick();
    assert.deepEqual(r.rotated, [{ keyId: key.id, from: 1, to: 2 }]);
    assert.equal(r.events[0]?.trigger, 'max_uses');
    assert.equal(r.events[0]?.uses, 3);
    assert.equal(r.events[0]?.maxUses, 3);
    f.clock.now += HOUR;
    assert.deepEqual((await f.sched.tick()).rotated, [], 'the new version starts at zero uses');
  } finally {
    await f.cleanup();
  }
});

test('a default grace period is enforced by raising minDecryptionVersion when it ends', async () => {
  const f = await fixture();
  try {
    // Interval set, grace from the table (x-wing: 1 year): the keystore stamps no graceEndsAt.
    const key = await f.ks.createKey({
      app: 'a',
      purpose: 'p',
      algorithm: 'x-wing',
      rotation: { intervalMs: 30 * DAY_MS },
    });
    const { ciphertext } = await f.ks.encapsulate(key.id);
    f.clock.now = T0 + 30 * DAY_MS;
    assert.equal((await f.sched.tick()).rotated.length, 1);
    assert.equal((await f.ks.getKey(key.id)).versions[0]?.graceEndsAt, undefined);
    await f.ks.decapsulate(key.id, ciphertext, { version: 1 });
    f.clock.now = T0 + 30 * DAY_MS + YEAR_MS - 1;
    const before = await f.sched.tick();
    assert.ok(!before.events.some((e) => e.type === 'expired'));
    f.clock.now = T0 + 30 * DAY_MS + YEAR_MS;
    const r = await f.sched.tick();
    assert.deepEqual(
      r.events.filter((e) => e.type === 'expired').map((e) => e.version),
      [1],
    );
    assert.deepEqual(r.archived, [{ keyId: key.id, minDecryptionVersion: 2 }]);
    await expectCode(() => f.ks.decapsulate(key.id, ciphertext, { version: 1 }), 'EKEYEXPIRED');
  } finally {
    await f.cleanup();
  }
});

test('crash after the intent, before ks.rotate: the restarted scheduler rotates exactly once', async () => {
  const f = await fixture();
  try {
    const key = await f.ks.createKey({
      app: 'a',
      purpose: 'p',
      algorithm: 'ed25519',
      rotation: { intervalMs: HOUR },
    });
    f.clock.now = T0 + HOUR;
    // The state a crashed instance "dead" leaves: its claim written, the keystore untouched.
    await f.ks.writeRecords(RECORD_NAMESPACE, [
      {
        name: `key/${key.id}`,
        expectRevision: 0,
        value: {
          v: 1,
          keyId: key.id,
          cycle: 1,
          warned: T0 + HOUR,
          intent: { from: 1, trigger: 'interval', dueAt: T0 + HOUR, owner: 'dead', claimedAt: T0 + HOUR },
          expired: [],
        } satisfies KeyScheduleRecord,
      },
    ]);
    // Within the dead instance's lease nobody takes over...
    const early = await f.sched.tick();
    assert.deepEqual(early.busy, [key.id]);
    assert.equal((await f.ks.getKey(key.id)).primaryVersion, 1);
    // ...after it, the claim is taken over and the rotation happens once.
    f.clock.now = T0 + HOUR + 5 * 60_000;
    const r = await f.sched.tick();
    assert.deepEqual(r.rotated, [{ keyId: key.id, from: 1, to: 2 }]);
    assert.deepEqual(
      r.events.map((e) => [e.type, e.dueAt]),
      [['rotated', T0 + HOUR]],
    );
    assert.equal((await f.ks.getKey(key.id)).versions.length, 2);
    assert.equal((await record(f.ks, key.id))?.value.intent, undefined);
  } finally {
    await f.cleanup();
  }
});

test('crash after ks.rotate, before the done record: the rotated event is emitted once, no second rotation', async () => {
  const f = await fixture();
  try {
    const key = await f.ks.createKey({
      app: 'a',
      purpose: 'p',
      algorithm: 'ed25519',
      rotation: { intervalMs: HOUR },
    });
    f.clock.now = T0 + HOUR;
    await f.ks.writeRecords(RECORD_NAMESPACE, [
      {
        name: `key/${key.id}`,
        expectRevision: 0,
        value: {
          v: 1,
          keyId: key.id,
          cycle: 1,
          intent: { from: 1, trigger: 'interval', dueAt: T0 + HOUR, owner: 'test', claimedAt: T0 + HOUR },
          expired: [],
        } satisfies KeyScheduleRecord,
      },
    ]);
    await f.ks.rotate(key.id, { reason: 'scheduled rotation (interval)' });
    const r = await f.sched.tick();
    assert.deepEqual(r.rotated, [], 'nothing rotated again');
    assert.deepEqual(
      r.events.map((e) => [e.type, e.version, e.newVersion]),
      [['rotated', 1, 2]],
    );
    assert.equal((await f.ks.getKey(key.id)).versions.length, 2);
    const rec = (await record(f.ks, key.id))?.value;
    assert.equal(rec?.cycle, 2);
    assert.deepEqual(rec?.lastRotation, { from: 1, to: 2, at: T0 + HOUR, trigger: 'interval' });
    assert.deepEqual((await f.sched.tick()).events, []);
  } finally {
    await f.cleanup();
  }
});

test('a manual rotation starts a new cycle without a rotated event; warnings follow the new primary', async () => {
  const f = await fixture();
  try {
    const key = await f.ks.createKey({
      app: 'a',
      purpose: 'p',
      algorithm: 'ed25519',
      rotation: { intervalMs: 10 * HOUR, advanceWarningMs: 2 * HOUR },
    });
    f.clock.now = T0 + 8 * HOUR;
    assert.deepEqual(
      (await f.sched.tick()).events.map((e) => e.type),
      ['advance_warning'],
    );
    f.clock.now = T0 + 9 * HOUR;
    await f.ks.rotate(key.id);
    assert.deepEqual((await f.sched.tick()).events, []);
    f.clock.now = T0 + 10 * HOUR;
    assert.deepEqual((await f.sched.tick()).events, [], 'the old due time no longer applies');
    f.clock.now = T0 + 17 * HOUR;
    const w = (await f.sched.tick()).events;
    assert.deepEqual(
      w.map((e) => [e.type, e.version]),
      [['advance_warning', 2]],
    );
  } finally {
    await f.cleanup();
  }
});

test('emergencyRotate: alert with the incident, old version compromised, recorded in the audit log', async () => {
  const f = await fixture();
  try {
    const key = await f.ks.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519' });
    await expectCode(() => f.sched.emergencyRotate(key.id, { description: '' }), 'EINVAL');
    await expectCode(() => f.sched.emergencyRotate(key.id, null as never), 'EINVAL');
    const alert = await f.sched.emergencyRotate(key.id, { id: 'INC-7', description: 'laptop stolen' });
    assert.equal(alert.type, 'alert');
    assert.deepEqual(alert.incident, { id: 'INC-7', description: 'laptop stolen' });
    assert.equal(alert.version, 1);
    assert.equal(alert.newVersion, 2);
    const info = await f.ks.getKey(key.id);
    assert.equal(info.versions.find((v) => v.version === 1)?.state, 'compromised');
    assert.deepEqual(
      f.events.map((e) => e.type),
      ['alert'],
    );
    const names = (await f.ks.auditTail(10)).map((e) => e.event);
    assert.ok(names.includes('key.emergency-rotate') && names.includes('rotation.alert'));
    await f.ks.revoke(key.id, 'gone');
    await expectCode(() => f.sched.emergencyRotate(key.id, { description: 'again' }), 'EKEYREVOKED');
    await expectCode(() => f.sched.emergencyRotate(MISSING, { description: 'x' }), 'ENOENT');
  } finally {
    await f.cleanup();
  }
});

test('suspended, revoked and pre-active keys are not rotated; a subscriber that throws blocks nothing', async () => {
  const clock = { now: T0 };
  const t = await tempKeystore({ clock: () => clock.now });
  const errors: unknown[] = [];
  const sched = new RotationScheduler(t.ks, {
    clock: () => clock.now,
    subscribers: [
      () => {
        throw new Error('receiver down');
      },
      async () => {
        throw new Error('async receiver down');
      },
    ],
    onError: (e) => errors.push(e),
  });
  try {
    const policy = { intervalMs: HOUR, advanceWarningMs: 1000 };
    const [s, r, p, ok] = await t.ks.createKeys([
      { app: 'a', purpose: 's', algorithm: 'ed25519', rotation: policy },
      { app: 'a', purpose: 'r', algorithm: 'ed25519', rotation: policy },
      { app: 'a', purpose: 'p', algorithm: 'ed25519', rotation: policy, preActive: true },
      { app: 'a', purpose: 'o', algorithm: 'ed25519', rotation: policy },
    ]);
    await t.ks.suspend(s!.id);
    await t.ks.revoke(r!.id, 'test');
    clock.now = T0 + 2 * HOUR;
    const report = await sched.tick();
    await sched.idle();
    assert.deepEqual(
      report.rotated.map((x) => x.keyId),
      [ok!.id],
    );
    assert.deepEqual(new Set(report.events.map((e) => e.keyId)), new Set([ok!.id]));
    for (const k of [s!, r!, p!]) assert.equal((await t.ks.getKey(k.id)).primaryVersion, 1);
    assert.equal(errors.length, report.events.length * 2);
  } finally {
    await sched.stop();
    await t.cleanup();
  }
});

test('rotateDue runs one tick for cron; start()/stop() drive ticks from a timer', async () => {
  const f = await fixture();
  try {
    const key = await f.ks.createKey({
      app: 'a',
      purpose: 'p',
      algorithm: 'ed25519',
      rotation: { intervalMs: HOUR },
    });
    const seen: RotationEvent[] = [];
    const report = await rotateDue(f.ks, { now: T0 + 2 * HOUR, subscribers: [(e) => void seen.push(e)] });
    assert.deepEqual(report.rotated, [{ keyId: key.id, from: 1, to: 2 }]);
    assert.deepEqual(
      seen.map((e) => e.type),
      ['advance_warning', 'rotated'],
    );
    await expectCode(() => rotateDue(f.ks, { now: -1 }), 'EINVAL');

    f.clock.now = T0 + 2 * HOUR;
    const timed = new RotationScheduler(f.ks, {
      clock: () => f.clock.now,
      tickIntervalMs: 5,
      subscribers: [(e) => void seen.push(e)],
    });
    timed.start();
    assert.throws(
      () => timed.start(),
      (e: unknown) => e instanceof CofferError && e.code === 'EALREADY',
    );
    f.clock.now = T0 + 3 * HOUR;
    const deadline = Date.now() + 5000;
    while (!seen.some((e) => e.type === 'rotated' && e.version === 2) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    await timed.stop();
    assert.equal((await f.ks.getKey(key.id)).primaryVersion, 3);
  } finally {
    await f.cleanup();
  }
});

test('constructor and methods validate their arguments before any work', async () => {
  const f = await fixture();
  try {
    const bad: [string, () => unknown][] = [
      ['no keystore', () => new RotationScheduler(null as never)],
      ['clock', () => new RotationScheduler(f.ks, { clock: 5 as never })],
      ['subscribers', () => new RotationScheduler(f.ks, { subscribers: ['x' as never] })],
      ['lease', () => new RotationScheduler(f.ks, { leaseMs: 0 })],
      ['tick interval', () => new RotationScheduler(f.ks, { tickIntervalMs: 1.5 })],
      ['instance id', () => new RotationScheduler(f.ks, { instanceId: 'a b' })],
      ['now', () => f.sched.tick(Number.NaN)],
      ['confirm id', () => f.sched.confirm('' as never)],
      ['usage poll', () => new RotationScheduler(f.ks, { usagePollMs: -1 })],
      ['subscriber', () => f.sched.subscribe('x' as never)],
      ['emergency id', () => f.sched.emergencyRotate('' as never, { description: 'x' })],
      ['incident id', () => f.sched.emergencyRotate(MISSING, { id: '', description: 'x' })],
      ['rotateDue options', () => rotateDue(f.ks, null as never)],
      ['rotateDue lease', () => rotateDue(f.ks, { leaseMs: 0 })],
      ['rotateDue instance id', () => rotateDue(f.ks, { instanceId: '' })],
    ];
    for (const [what, fn] of bad) {
      await assert.rejects(
        async () => fn(),
        (e: unknown) => e instanceof CofferError && e.code === 'EINVAL',
        what,
      );
    }
    await expectCode(() => f.sched.confirm(MISSING), 'ENOENT');
  } finally {
    await f.cleanup();
  }
});

test('confirm() while another instance holds a live claim is ECONFLICT and rotates nothing', async () => {
  const f = await fixture();
  try {
    const key = await f.ks.createKey({
      app: 'a',
      purpose: 'p',
      algorithm: 'aes-256-gcm',
      rotation: { intervalMs: HOUR, requireConfirmation: true },
    });
    f.clock.now = T0 + HOUR;
    await f.ks.writeRecords(RECORD_NAMESPACE, [
      {
        name: `key/${key.id}`,
        expectRevision: 0,
        value: {
          v: 1,
          keyId: key.id,
          cycle: 1,
          intent: { from: 1, trigger: 'confirmed', dueAt: T0 + HOUR, owner: 'other', claimedAt: T0 + HOUR },
          expired: [],
        } satisfies KeyScheduleRecord,
      },
    ]);
    await expectCode(() => f.sched.confirm(key.id), 'ECONFLICT');
    assert.equal((await f.ks.getKey(key.id)).primaryVersion, 1);
    assert.equal((await record(f.ks, key.id))?.value.intent?.owner, 'other');
    assert.deepEqual(f.events, []);
  } finally {
    await f.cleanup();
  }
});
