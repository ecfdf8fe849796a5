// Rotation events (SPEC §13.2) and the in-process event stream the daemon exposes as server-sent events.
// A subscriber is one function; the scheduler calls every subscriber after the event is committed and
// never waits on, or fails because of, a subscriber (delivery failures never block rotation).
import { CofferError } from '../errors.js';

export const ROTATION_EVENT_TYPES = [
  'advance_warning',
  'awaiting_confirmation',
  'rotated',
  'expired',
  'alert',
] as const;
export type RotationEventType = (typeof ROTATION_EVENT_TYPES)[number];

export type RotationTrigger = 'interval' | 'max_uses' | 'confirmed';

export interface RotationEvent {
  /**
   * Stable and unique per occurrence (`<keyId>.<type>.v<version>`; alerts add the new version), so a
   * receiver that sees an event twice (webhook retry) can drop the copy.
   */
  id: string;
  type: RotationEventType;
  keyId: string;
  app: string;
  purpose: string;
  algorithm: string;
  /** The version concerned: the primary about to rotate / rotated away, or the version that expired. */
  version: number;
  /** rotated and alert: the new primary version. */
  newVersion?: number;
  /** When the event was emitted (scheduler clock, ms). */
  at: number;
  /** When it was scheduled to happen (ms); equal to `at` for max-uses, confirmations and alerts. */
  dueAt: number;
  /** advance_warning, awaiting_confirmation, rotated: what made the rotation due. */
  trigger?: RotationTrigger;
  /** max_uses triggers: uses counted on the version and the limit. */
  uses?: number;
  maxUses?: number;
  /** alert: the incident of the emergency rotation. */
  incident?: { id?: string; description: string };
}

/** Receives committed events; may be async, its failures are reported, never propagated. */
export type RotationSubscriber = (event: RotationEvent) => void | Promise<void>;

/** Audit-log event name for a rotation event type. */
export function auditName(type: RotationEventType): string {
  return `rotation.${type}`;
}

/** The audit `details` of an event: the payload without the fields the audit entry already has. */
export function auditDetails(event: RotationEvent): Record<string, unknown> {
  const { keyId: _k, type: _t, ...rest } = event;
  return rest;
}

/**
 * Calls each subscriber; a throw or rejection goes to `onError` and never reaches the caller. Returns
 * the promises of async subscribers so tests and shutdown can wait for them.
 */
export function dispatch(
  subscribers: readonly RotationSubscriber[],
  events: readonly RotationEvent[],
  onError: (error: unknown, event: RotationEvent) => void,
): Promise<void>[] {
  const pending: Promise<void>[] = [];
  for (const event of events) {
    for (const subscriber of subscribers) {
      try {
        const result = subscriber(event);
        if (result && typeof (result as Promise<void>).then === 'function') {
          pending.push((result as Promise<void>).catch((error: unknown) => onError(error, event)));
        }
      } catch (error) {
        onError(error, event);
      }
    }
  }
  return pending;
}

/**
 * An in-process fan-out of events. `subscriber` plugs into the scheduler; `subscribe` hands each event
 * to a listener (the SSE handler, tests). A small ring of recent events lets an SSE client that
 * reconnects with Last-Event-ID catch up on what it missed.
 */
export class RotationEventStream {
  #listeners = new Set<(event: RotationEvent) => void>();
  #recent: RotationEvent[] = [];
  readonly #keep: number;

  constructor(options: { keepRecent?: number } = {}) {
    const keep = options.keepRecent ?? 256;
    if (!Number.isSafeInteger(keep) || keep < 0 || keep > 100_000)
      throw new CofferError('EINVAL', 'keepRecent must be an integer 0..100000');
    this.#keep = keep;
  }

  /** The function to pass among the scheduler's subscribers. */
  readonly subscriber: RotationSubscriber = (event) => this.publish(event);

  publish(event: RotationEvent): void {
    if (this.#keep > 0) {
      this.#recent.push(event);
      if (this.#recent.length > this.#keep) this.#recent.splice(0, this.#recent.length - this.#keep);
    }
    for (const listener of [...this.#listeners]) listener(event);
  }

  /** Events published after the one with this id (all kept ones when the id is no longer known). */
  since(lastId: string | undefined): RotationEvent[] {
    if (lastId === undefined) return [];
    const index = this.#recent.findIndex((e) => e.id === lastId);
    return index < 0 ? [...this.#recent] : this.#recent.slice(index + 1);
  }

  subscribe(listener: (event: RotationEvent) => void): () => void {
    if (typeof listener !== 'function') throw new CofferError('EINVAL', 'listener must be a function');
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }
}
