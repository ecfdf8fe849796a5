// The scheduler's proof (brief N): a year of policies on 1 000 keys, ticked hourly, with a restart in
// the middle, and a season shared by two scheduler instances on one store. Every event the schedulers
// emit is compared with an independent hour-by-hour model of the policies: each warning, rotation,
// confirmation request and expiry must happen exactly once, at the model's tick.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Keystore } from '../core/keystore.js';
import type { CreateKeySpec } from '../core/types.js';
import { passphrase, tempKeystore } from '../testing/keystore.js';
import type { RotationEvent } from './events.js';
import { RotationScheduler } from './scheduler.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2030, 0, 1);

interface KeySpec {
  purpose: string;
  intervalMs?: number;
  warnMs?: number;
  graceMs?: number;
  maxUses?: number;
  /** Confirm this many hours after awaiting_confirmation was emitted. */
  confirmAfterH?: number;
  /** Sign once every this many hours (at hours ≡ signOffsetH). */
  signEveryH?: number;
  signOffsetH?: number;
}

/** Deterministic mix of policies for key number i. */
function specFor(i: number): KeySpec {
  const purpose = `k${i}`;
  const kind = i % 20;
  if (kind < 13) {
    return {
      purpose,
      intervalMs: [45, 61, 90, 120, 200][i % 5]! * DAY,
      warnMs: [1, 3, 10][i % 3]! * DAY,
      graceMs: [12 * HOUR, 5 * DAY, 40 * DAY][i % 3]!,
    };
  }
  if (kind < 14) {
    return {
      purpose,
      intervalMs: 60 * DAY,
      warnMs: 2 * DAY,
      graceMs: 7 * DAY,
      maxUses: 3 + (i % 3),
      signEveryH: [48, 72, 96][i % 3]!,
      signOffsetH: i % 48,
    };
  }
  if (kind < 16) {
    return {
      purpose,
      intervalMs: [30, 45][i % 2]! * DAY,
      warnMs: 5 * DAY,
      graceMs: 20 * DAY,
      confirmAfterH: [1, 7, 30][i % 3]!,
    };
  }
  // Algorithm defaults (ed25519: 1 year, warning 30 days, grace 2 years).
  return { purpose };
}

function createSpec(s: KeySpec): CreateKeySpec {
  const rotation = {
    ...(s.intervalMs ? { intervalMs: s.intervalMs } : {}),
    ...(s.warnMs ? { advanceWarningMs: s.warnMs } : {}),
    ...(s.graceMs ? { gracePeriodMs: s.graceMs } : {}),
    ...(s.maxUses ? { maxUses: s.maxUses } : {}),
    ...(s.confirmAfterH ? { requireConfirmation: true } : {}),
  };
  return {
    app: 'year',
    purpose: s.purpose,
    algorithm: 'ed25519',
    ...(Object.keys(rotation).length ? { rotation } : {}),
  };
}

type Expected = { type: RotationEvent['type']; version: number; at: number };

/** The policy semantics written out plainly, hour by hour (SPEC §13.3), with no keystore at all. */
function model(s: KeySpec, hours: number): Expected[] {
  const interval = s.intervalMs ?? 365 * DAY;
  const warn = s.warnMs ?? 30 * DAY;
  const grace = s.graceMs ?? 2 * 365 * DAY;
  const out: Expected[] = [];
  let version = 1;
  let created = T0;
  let uses = 0;
  let warned = false;
  let awaitingAt: number | undefined;
  const deactivated = new Map<number, number>();
  const expired = new Set<number>();
  const rotate = (t: number) => {
    out.push({ type: 'rotated', version, at: t });
    deactivated.set(version, t);
    version++;
    created = t;
    uses = 0;
    warned = false;
    awaitingAt = undefined;
  };
  for (let h = 1; h <= hours; h++) {
    const t = T0 + h * HOUR;
    if (s.signEveryH && h % s.signEveryH === s.signOffsetH) uses++;
    if (s.confirmAfterH && awaitingAt !== undefined && t >= awaitingAt + s.confirmAfterH * HOUR) rotate(t);
    for (const [v, at] of deactivated) {
      if (!expired.has(v) && at + grace <= t) {
        expired.add(v);
        out.push({ type: 'expired', version: v, at: t });
      }
    }
    if (!warned && t >= created + interval - warn) {
      warned = true;
      out.push({ type: 'advance_warning', version, at: t });
    }
    const due = t >= created + interval || (s.maxUses !== undefined && uses >= s.maxUses);
    if (due && s.confirmAfterH) {
      if (awaitingAt === undefined) {
        awaitingAt = t;
        out.push({ type: 'awaiting_confirmation', version, at: t });
      }
    } else if (due) {
      rotate(t);
    }
  }
  return out;
}

const keyOf = (e: { type: string; version: number }, id: string) => `${id}|${e.type}|${e.version}`;

/** Compares emitted events with the model: same set, each exactly once, at the model's tick. */
function compare(specs: Map<string, KeySpec>, events: RotationEvent[], hours: number): number {
  const seen = new Map<string, RotationEvent>();
  for (const e of events) {
    const k = keyOf(e, e.keyId);
    assert.ok(!seen.has(k), `event repeated: ${k}`);
    assert.equal(e.id, `${e.keyId}.${e.type}.v${e.version}`);
    // A confirmed rotation happens when confirmed; its dueAt stays the time the rotation fell due.
    if (e.trigger !== 'confirmed')
      assert.ok(
        e.at - e.dueAt >= 0 && e.at - e.dueAt < HOUR,
        `late or early: ${k} at ${e.at} due ${e.dueAt}`,
      );
    seen.set(k, e);
  }
  let expectedCount = 0;
  for (const [id, spec] of specs) {
    for (const x of model(spec, hours)) {
      expectedCount++;
      const k = keyOf(x, id);
      const got = seen.get(k);
      assert.ok(got, `missing event ${k} at ${x.at}`);
      assert.equal(got.at, x.at, `wrong time for ${k}`);
      seen.delete(k);
    }
  }
  assert.deepEqual([...seen.keys()], [], 'events the model does not predict');
  return expectedCount;
}

/** Signs with every key whose model signs this hour (drives max-uses). */
async function signDue(ks: Keystore, specs: Map<string, KeySpec>, h: number): Promise<void> {
  for (const [id, s] of specs) {
    if (s.signEveryH && h % s.signEveryH === s.signOffsetH) await ks.sign(id, new Uint8Array([h & 255]));
  }
}

/** Confirms the keys whose model confirms this hour. */
async function confirmDue(
  sched: RotationScheduler,
  specs: Map<string, KeySpec>,
  awaiting: Map<string, number>,
  t: number,
): Promise<void> {
  for (const [id, at] of [...awaiting]) {
    const s = specs.get(id)!;
    if (t >= at + s.confirmAfterH! * HOUR) {
      awaiting.delete(id);
      const event = await sched.confirm(id);
      assert.equal(event.type, 'rotated');
      assert.equal(event.trigger, 'confirmed');
    }
  }
}

test('a year of policies on 1 000 keys: every event exactly once and on time, across a restart', async () => {
  const started = performance.now();
  let now = T0;
  const clock = () => now;
  const { ks: first, url, cleanup } = await tempKeystore({ clock });
  let ks: Keystore = first;
  try {
    const specs = new Map<string, KeySpec>();
    const all = Array.from({ length: 1000 }, (_, i) => specFor(i));
    const created = await ks.createKeys(all.map(createSpec));
    for (const [i, info] of created.entries()) specs.set(info.id, all[i]!);

    const events: RotationEvent[] = [];
    const awaiting = new Map<string, number>();
    const collect = (e: RotationEvent) => {
      events.push(e);
      if (e.type === 'awaiting_confirmation') awaiting.set(e.keyId, e.at);
    };
    const HOURS = 365 * 24;
    const RESTART = 4380 + 7;
    let sched = new RotationScheduler(ks, { clock, subscribers: [collect], instanceId: 'first' });
    for (let h = 1; h <= HOURS; h++) {
      now = T0 + h * HOUR;
      if (h === RESTART) {
        await sched.stop();
        await ks.close();
        ks = await Keystore.open({ store: url, protector: passphrase(), clock });
        sched = new RotationScheduler(ks, { clock, subscribers: [collect], instanceId: 'second' });
      }
      await signDue(ks, specs, h);
      await confirmDue(sched, specs, awaiting, now);
      const report = await sched.tick(now);
      assert.deepEqual(report.failures, [], `failures at hour ${h}`);
    }
    await sched.stop();
    const count = compare(specs, events, HOURS);
    assert.ok(count > 5000, `the year exercised ${count} events`);
    const types = new Set(events.map((e) => `${e.type}/${e.trigger ?? ''}`));
    for (const t of [
      'advance_warning/interval',
      'rotated/interval',
      'rotated/max_uses',
      'rotated/confirmed',
      'awaiting_confirmation/interval',
      'expired/',
    ])
      assert.ok(types.has(t), `the mix produced ${t}`);
    // The keys agree: every rotated event is a version the keystore has, created at the event time.
    const byId = new Map((await ks.listKeys({ app: 'year' })).map((k) => [k.id, k]));
    for (const e of events.filter((x) => x.type === 'rotated')) {
      const v = byId.get(e.keyId)!.versions.find((x) => x.version === e.newVersion);
      assert.equal(v?.createdAt, e.at);
    }
    // And the audit log holds each event once, in a chain that verifies.
    const audit = await ks.verifyAudit();
    assert.equal(audit.ok, true, audit.problems.join('; '));
    console.log(`year: ${count} events in ${Math.round(performance.now() - started)} ms`);
  } finally {
    await ks.close().catch(() => {});
    await cleanup().catch(() => {});
  }
});

test('two scheduler instances on one store share a season without losing or repeating an event', async () => {
  let now = T0;
  const clock = () => now;
  const { ks: a, url, cleanup } = await tempKeystore({ clock, cacheTtlMs: 0 });
  const b = await Keystore.open({ store: url, protector: passphrase(), clock, cacheTtlMs: 0 });
  try {
    const specs = new Map<string, KeySpec>();
    const all = Array.from({ length: 120 }, (_, i) => specFor(i)).filter((s) => !s.confirmAfterH);
    const created = await a.createKeys(all.map(createSpec));
    for (const [i, info] of created.entries()) specs.set(info.id, all[i]!);
    const events: RotationEvent[] = [];
    const collect = (e: RotationEvent) => void events.push(e);
    const sa = new RotationScheduler(a, { clock, subscribers: [collect], instanceId: 'a' });
    const sb = new RotationScheduler(b, { clock, subscribers: [collect], instanceId: 'b' });
    const HOURS = 120 * 24;
    for (let h = 1; h <= HOURS; h++) {
      now = T0 + h * HOUR;
      // Uses are counted where they happen; signing through one handle keeps the model's counts exact.
      await signDue(a, specs, h);
      // Both tick the same instant concurrently: the record CAS decides who emits what.
      const [ra, rb] = await Promise.all([sa.tick(now), sb.tick(now)]);
      assert.deepEqual([...ra.failures, ...rb.failures], []);
    }
    const count = compare(specs, events, HOURS);
    assert.ok(count > 300);
  } finally {
    await b.close().catch(() => {});
    await cleanup();
  }
});
