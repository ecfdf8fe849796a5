// Public surface of the rotation feature (docs/architecture.md `rotation/`): policy defaults, the scheduler and
// its events, the webhook sender and the SSE helper the daemon mounts.
export {
  auditName,
  ROTATION_EVENT_TYPES,
  type RotationEvent,
  RotationEventStream,
  type RotationEventType,
  type RotationSubscriber,
  type RotationTrigger,
} from './events.js';
export type { KeyScheduleRecord, RotationIntent } from './plan.js';
export {
  ALGORITHM_DEFAULTS,
  DEFAULT_ADVANCE_WARNING_MS,
  type EffectivePolicy,
  effectivePolicy,
} from './policy.js';
export {
  RECORD_NAMESPACE,
  RotationScheduler,
  rotateDue,
  type SchedulerOptions,
  type TickReport,
} from './scheduler.js';
export { type SseOptions, sseFrame, sseHandler } from './sse.js';
export {
  createWebhookSender,
  SIGNATURE_HEADER,
  signWebhook,
  verifyWebhookSignature,
  type WebhookOptions,
  type WebhookSender,
} from './webhook.js';
