// What the scheduler must do for one key at one instant (SPEC §13.3–13.4), as a pure function of the key,
// its persisted scheduler record, its usage and the clock. Keeping the decision pure lets every
// scheduler instance, a restarted one included, reach the same answer from the same stored state, and
// lets the write of the new record be the single compare-and-swap that decides who emits an event.
import { effectiveKey } from '../core/lifecycle.js';
import type { KeyInfo } from '../core/types.js';
import type { RotationEvent, RotationTrigger } from './events.js';
import { dueAt, type EffectivePolicy, effectivePolicy, graceEnd, warnAt } from './policy.js';

export type IntentTrigger = RotationTrigger | 'emergency';

/** A rotation claimed by one scheduler instance before it calls the keystore (SPEC §13.4). */
export interface RotationIntent {
  /** The primary version being rotated away; "done" is derived from the key: primaryVersion > from. */
  from: number;
  trigger: IntentTrigger;
  dueAt: number;
  owner: string;
  claimedAt: number;
  uses?: number;
  maxUses?: number;
  incident?: { id?: string; description: string };
}

/** The persisted scheduler state of one key: record `ext/rotation/key/<keyId>` (SPEC §13.4). */
export interface KeyScheduleRecord {
  v: 1;
  keyId: string;
  /** The primary version the flags below are about; a new primary starts a new cycle. */
  cycle: number;
  /** When the advance warning of this cycle was emitted. */
  warned?: number;
  /** When awaiting_confirmation was emitted for this cycle, and what it was waiting on. */
  awaiting?: { at: number; dueAt: number; trigger: RotationTrigger; uses?: number };
  intent?: RotationIntent;
  /** Versions whose expiry was emitted, ascending. */
  expired: number[];
  lastRotation?: { from: number; to: number; at: number; trigger: IntentTrigger };
}

export interface PlanContext {
  now: number;
  instanceId: string;
  leaseMs: number;
  /** Uses counted on the key's versions (`{ "<version>": n }`), when known. */
  usage?: Record<string, number>;
  /** false: only finish or drop intents, never claim a rotation (the pass after rotating). */
  claim: boolean;
  /** A confirmation for the current cycle (confirm(keyId)). */
  confirm?: boolean;
}

export interface KeyPlan {
  keyId: string;
  /** The record to write; undefined when nothing changes. */
  record?: KeyScheduleRecord;
  /** Events to emit once the record is committed. */
  events: RotationEvent[];
  /** The rotation to perform after the commit (an intent this instance now holds). */
  rotate?: RotationIntent;
  /** Another instance holds a live intent on this key. */
  busy?: boolean;
}

function baseEvent(key: KeyInfo, now: number): Omit<RotationEvent, 'id' | 'type' | 'version' | 'dueAt'> {
  return { keyId: key.id, app: key.app, purpose: key.purpose, algorithm: key.algorithm, at: now };
}

function eventId(keyId: string, type: string, version: number): string {
  return `${keyId}.${type}.v${version}`;
}

function completion(key: KeyInfo, intent: RotationIntent, now: number): RotationEvent {
  const base = baseEvent(key, now);
  if (intent.trigger === 'emergency') {
    return {
      ...base,
      id: eventId(key.id, 'alert', key.primaryVersion),
      type: 'alert',
      version: intent.from,
      newVersion: key.primaryVersion,
      dueAt: intent.dueAt,
      ...(intent.incident ? { incident: intent.incident } : {}),
    };
  }
  return {
    ...base,
    id: eventId(key.id, 'rotated', intent.from),
    type: 'rotated',
    version: intent.from,
    newVersion: key.primaryVersion,
    dueAt: intent.dueAt,
    trigger: intent.trigger,
    ...(intent.uses !== undefined ? { uses: intent.uses, maxUses: intent.maxUses } : {}),
  };
}

function newCycle(record: KeyScheduleRecord, primary: number): void {
  record.cycle = primary;
  delete record.warned;
  delete record.awaiting;
}

/** The decision for one key (see the file comment). `record` is the stored one, if any. */
export function planKey(stored: KeyInfo, record: KeyScheduleRecord | undefined, ctx: PlanContext): KeyPlan {
  const { now } = ctx;
  const key = effectiveKey(stored, now);
  const plan: KeyPlan = { keyId: key.id, events: [] };
  const next: KeyScheduleRecord = record
    ? structuredClone(record)
    : { v: 1, keyId: key.id, cycle: key.primaryVersion, expired: [] };
  const policy: EffectivePolicy = effectivePolicy(key);
  const rotatable = key.state === 'active' || key.state === 'suspended';

  // 1. An intent in flight: finished (the key moved on), still ours to do, or someone else's.
  if (next.intent) {
    const intent = next.intent;
    if (key.primaryVersion > intent.from) {
      plan.events.push(completion(key, intent, now));
      next.lastRotation = { from: intent.from, to: key.primaryVersion, at: now, trigger: intent.trigger };
      delete next.intent;
    } else if (!rotatable) {
      // Revoked, destroyed or still pre-active since the claim: nothing left to rotate.
      delete next.intent;
    } else if (!ctx.claim) {
      // Left for the next claiming pass.
    } else if (intent.owner === ctx.instanceId || now >= intent.claimedAt + ctx.leaseMs) {
      next.intent = { ...intent, owner: ctx.instanceId, claimedAt: now };
      plan.rotate = next.intent;
    } else {
      return { ...plan, busy: true };
    }
  }
  if (!next.intent && next.cycle !== key.primaryVersion) newCycle(next, key.primaryVersion);

  // 2. Grace periods that ended (compromised and destroyed versions refuse everything already).
  if (key.state !== 'compromised' && key.state !== 'destroyed') {
    for (const version of [...key.versions].sort((a, b) => a.version - b.version)) {
      const end = graceEnd(version, policy);
      if (end === undefined || end > now || next.expired.includes(version.version)) continue;
      next.expired.push(version.version);
      plan.events.push({
        ...baseEvent(key, now),
        id: eventId(key.id, 'expired', version.version),
        type: 'expired',
        version: version.version,
        dueAt: end,
      });
    }
    next.expired.sort((a, b) => a - b);
  }

  // 3. The current cycle: warn, then rotate or ask for confirmation. Only active keys rotate by policy.
  if (key.state === 'active' && !next.intent && ctx.claim) {
    const due = dueAt(key, policy);
    const warn = warnAt(key, policy);
    const uses = ctx.usage?.[String(key.primaryVersion)] ?? 0;
    const usedUp = policy.maxUses !== undefined && uses >= policy.maxUses;
    if (warn !== undefined && now >= warn && next.warned === undefined) {
      next.warned = now;
      plan.events.push({
        ...baseEvent(key, now),
        id: eventId(key.id, 'advance_warning', key.primaryVersion),
        type: 'advance_warning',
        version: key.primaryVersion,
        dueAt: warn,
        trigger: 'interval',
      });
    }
    const trigger: RotationTrigger | undefined = now >= due ? 'interval' : usedUp ? 'max_uses' : undefined;
    const useFields = trigger === 'max_uses' ? { uses, maxUses: policy.maxUses } : {};
    if (ctx.confirm && next.awaiting) {
      next.intent = {
        from: key.primaryVersion,
        trigger: 'confirmed',
        dueAt: next.awaiting.dueAt,
        owner: ctx.instanceId,
        claimedAt: now,
      };
      plan.rotate = next.intent;
    } else if (trigger && policy.requireConfirmation) {
      if (next.awaiting === undefined) {
        const eventDue = trigger === 'interval' ? due : now;
        next.awaiting = { at: now, dueAt: eventDue, trigger, ...(trigger === 'max_uses' ? { uses } : {}) };
        plan.events.push({
          ...baseEvent(key, now),
          id: eventId(key.id, 'awaiting_confirmation', key.primaryVersion),
          type: 'awaiting_confirmation',
          version: key.primaryVersion,
          dueAt: eventDue,
          trigger,
          ...useFields,
        });
      }
    } else if (trigger) {
      next.intent = {
        from: key.primaryVersion,
        trigger,
        dueAt: trigger === 'interval' ? due : now,
        owner: ctx.instanceId,
        claimedAt: now,
        ...useFields,
      };
      plan.rotate = next.intent;
    }
  }

  const changed =
    record === undefined ? plan.events.length > 0 || plan.rotate !== undefined : !sameRecord(record, next);
  if (changed) plan.record = next;
  return plan;
}

/** Starts an emergency intent: overrides any scheduled one, since the primary must go now. */
export function emergencyIntent(
  key: KeyInfo,
  record: KeyScheduleRecord | undefined,
  incident: { id?: string; description: string },
  ctx: { now: number; instanceId: string },
): KeyScheduleRecord {
  const next: KeyScheduleRecord = record
    ? structuredClone(record)
    : { v: 1, keyId: key.id, cycle: key.primaryVersion, expired: [] };
  next.intent = {
    from: key.primaryVersion,
    trigger: 'emergency',
    dueAt: ctx.now,
    owner: ctx.instanceId,
    claimedAt: ctx.now,
    incident: {
      ...(incident.id !== undefined ? { id: incident.id } : {}),
      description: incident.description,
    },
  };
  return next;
}

/**
 * The lowest version the keystore should still process, when the scheduler must enforce a default
 * grace period itself: the keystore stamps `graceEndsAt` only from a key's explicit gracePeriodMs, so
 * a version that expired under the default table is archived by raising minDecryptionVersion past it.
 * Undefined when nothing needs raising (SPEC §13.1).
 */
export function minVersionToEnforce(key: KeyInfo, record: KeyScheduleRecord | undefined): number | undefined {
  if (!record || record.expired.length === 0) return undefined;
  if (key.state === 'compromised' || key.state === 'destroyed') return undefined;
  const gone = (v: KeyInfo['versions'][number]) =>
    record.expired.includes(v.version) || v.state === 'compromised' || v.state === 'destroyed';
  let desired = key.minDecryptionVersion;
  for (const v of [...key.versions].sort((a, b) => a.version - b.version)) {
    if (v.version < desired) continue;
    if (v.version >= key.primaryVersion || !gone(v)) break;
    desired = v.version + 1;
  }
  if (desired <= key.minDecryptionVersion) return undefined;
  const needed = key.versions.some(
    (v) =>
      v.version >= key.minDecryptionVersion &&
      v.version < desired &&
      v.state === 'deactivated' &&
      v.graceEndsAt === undefined,
  );
  return needed ? desired : undefined;
}

function sameRecord(a: KeyScheduleRecord, b: KeyScheduleRecord): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The earliest instant at which planKey could do something for this key without the key, its record
 * or its usage changing first: lets a tick skip the keys with nothing due (SPEC §13.5). -Infinity means
 * "look every tick" (an intent in flight).
 */
export function nextWake(stored: KeyInfo, record: KeyScheduleRecord | undefined, now: number): number {
  if (record?.intent) return Number.NEGATIVE_INFINITY;
  const key = effectiveKey(stored, now);
  if (key.state === 'compromised' || key.state === 'destroyed') return Number.POSITIVE_INFINITY;
  if (key.state === 'pre-active') return key.activatesAt ?? Number.POSITIVE_INFINITY;
  const policy = effectivePolicy(key);
  let wake = Number.POSITIVE_INFINITY;
  for (const version of key.versions) {
    const end = graceEnd(version, policy);
    if (end !== undefined && !record?.expired.includes(version.version)) wake = Math.min(wake, end);
  }
  if (key.state !== 'active') return wake;
  if (record && record.cycle !== key.primaryVersion) return Number.NEGATIVE_INFINITY;
  const warn = warnAt(key, policy);
  if (warn !== undefined && record?.warned === undefined) wake = Math.min(wake, warn);
  if (!(policy.requireConfirmation && record?.awaiting)) wake = Math.min(wake, dueAt(key, policy));
  return wake;
}
