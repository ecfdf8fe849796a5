// The rotation operations of the shared surface (CofferOperations.rotation, client/surface.ts): one
// scheduler tick now (`coffer rotate due`), the confirmation of a held rotation, and an emergency
// rotation. In this process they run a one-shot scheduler on the keystore, so the events are audited
// as the daemon's are; the daemon answers them with its own running scheduler (POST
// /v1/rotation/due, /v1/keys/{id}/confirm-rotation, /v1/keys/{id}/emergency-rotate), so its
// subscribers (server-sent events, webhooks) see them too.
import type { Keystore } from '../core/keystore.js';
import type { Incident } from '../core/surface.js';
import type { RotationEvent } from './events.js';
import { RotationScheduler, rotateDue, type TickReport } from './scheduler.js';

export interface RotationOperations {
  /** Does every warning, rotation and expiry due now (one scheduler tick, SPEC §13.3). */
  due(): Promise<TickReport>;
  /** Confirms a rotation the key's policy holds for confirmation; answers the `rotated` event. */
  confirm(keyId: string): Promise<RotationEvent>;
  /** Rotates now and marks the old version compromised, recording the incident; answers the `alert` event. */
  emergency(keyId: string, incident: Incident): Promise<RotationEvent>;
}

/** The rotation operations on a keystore in this process. */
export function rotationOperations(ks: Keystore): RotationOperations {
  return {
    due: () => rotateDue(ks),
    confirm: (keyId) => oneShot(ks, (scheduler) => scheduler.confirm(keyId)),
    emergency: (keyId, incident) => oneShot(ks, (scheduler) => scheduler.emergencyRotate(keyId, incident)),
  };
}

async function oneShot<T>(ks: Keystore, work: (scheduler: RotationScheduler) => Promise<T>): Promise<T> {
  const scheduler = new RotationScheduler(ks);
  try {
    return await work(scheduler);
  } finally {
    await scheduler.idle();
  }
}
