// HTTP webhook subscriber for rotation events (SPEC §13.2): POSTs each event as JSON with a
// `Coffer-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>` header (the Stripe scheme:
// the timestamp is signed so a captured delivery cannot be replayed later), retrying failed deliveries
// with capped exponential backoff. Deliveries run in the background: a dead receiver never slows down,
// let alone blocks, a rotation.
import { timingSafeEqual } from 'node:crypto';
import { hmac } from '../crypto/mac.js';
import { CofferError } from '../errors.js';
import type { RotationEvent, RotationSubscriber } from './events.js';

export const SIGNATURE_HEADER = 'Coffer-Signature';

export interface WebhookOptions {
  url: string;
  /** HMAC key shared with the receiver; at least 16 bytes. */
  secret: string | Uint8Array;
  /** Attempts per event, the first included (default 6). */
  maxAttempts?: number;
  /** Delay before the first retry; doubles each time (default 1 s). */
  baseDelayMs?: number;
  /** Cap on one retry delay (default 5 min). */
  maxDelayMs?: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Events waiting or in flight at most; past it new events are given up on and reported (default 10 000). */
  maxQueue?: number;
  /** Unix seconds for the signature (tests); default the wall clock. */
  now?: () => number;
  /** Called when an event is given up on (all attempts failed, or dropped from a full queue). */
  onFailure?: (event: RotationEvent, reason: string) => void;
}

export interface WebhookSender {
  /** The subscriber to hand to the scheduler: it queues and returns at once. */
  readonly subscriber: RotationSubscriber;
  /** Resolves when every queued delivery has succeeded or been given up on. */
  drain(): Promise<void>;
  /** Stops retrying: pending retries are given up on (reported through onFailure). */
  close(): Promise<void>;
  readonly stats: { delivered: number; failed: number; attempts: number };
}

const encoder = new TextEncoder();

/** The v1 value: hex HMAC-SHA256 over `<unix>.<body>`, shared by the sender and the receiver check. */
function v1(secret: string | Uint8Array, body: string, unixSeconds: number): string {
  const key = typeof secret === 'string' ? encoder.encode(secret) : secret;
  return Buffer.from(hmac('sha256', key, encoder.encode(`${unixSeconds}.${body}`))).toString('hex');
}

/** `t=<unix>,v1=<hex>` for a body, per SPEC §13.2. */
export function signWebhook(secret: string | Uint8Array, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${v1(secret, body, unixSeconds)}`;
}

/**
 * Receiver side: true when the header carries a v1 signature of `body` under `secret` whose timestamp
 * is within `toleranceSeconds` of `nowSeconds`. Comparison is constant-time.
 */
export function verifyWebhookSignature(
  secret: string | Uint8Array,
  header: string | undefined,
  body: string,
  options: { nowSeconds?: number; toleranceSeconds?: number } = {},
): boolean {
  if (typeof header !== 'string' || header.length > 4096) return false;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === 't' && value !== undefined && /^\d{1,12}$/.test(value)) t = Number(value);
    if (name === 'v1' && value !== undefined && /^[0-9a-f]{64}$/.test(value)) candidates.push(value);
  }
  if (t === undefined || candidates.length === 0 || Math.abs(now - t) > tolerance) return false;
  const expected = Buffer.from(v1(secret, body, t));
  return candidates.some((c) => timingSafeEqual(Buffer.from(c), expected));
}

function bound(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw new CofferError('EINVAL', `${name} must be an integer ${min}..${max}`);
  return value;
}

/** Whether a response status is worth retrying: server errors, timeouts and rate limits. */
function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export function createWebhookSender(options: WebhookOptions): WebhookSender {
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'options must be an object');
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new CofferError('EINVAL', 'webhook url is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new CofferError('EINVAL', 'webhook url must be http: or https:');
  if (url.username || url.password) throw new CofferError('EINVAL', 'webhook url must not carry credentials');
  const secretBytes =
    typeof options.secret === 'string' ? Buffer.byteLength(options.secret) : (options.secret?.length ?? 0);
  if (!(typeof options.secret === 'string' || options.secret instanceof Uint8Array) || secretBytes < 16)
    throw new CofferError('EINVAL', 'webhook secret must be at least 16 bytes');
  const secret = typeof options.secret === 'string' ? options.secret : Uint8Array.from(options.secret);
  const maxAttempts = bound('maxAttempts', options.maxAttempts, 6, 1, 100);
  const baseDelayMs = bound('baseDelayMs', options.baseDelayMs, 1000, 1, 3_600_000);
  const maxDelayMs = bound('maxDelayMs', options.maxDelayMs, 300_000, 1, 86_400_000);
  const timeoutMs = bound('timeoutMs', options.timeoutMs, 10_000, 1, 600_000);
  const maxQueue = bound('maxQueue', options.maxQueue, 10_000, 1, 1_000_000);
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const onFailure = options.onFailure ?? (() => {});
  const target = url.toString();

  const stats = { delivered: 0, failed: 0, attempts: 0 };
  const inFlight = new Map<RotationEvent, Promise<void>>();
  const timers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  let closed = false;

  async function attempt(event: RotationEvent, body: string): Promise<string | undefined> {
    stats.attempts++;
    try {
      const response = await fetch(target, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signWebhook(secret, body, now()),
          'coffer-event-id': event.id,
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'manual',
      });
      await response.arrayBuffer().catch(() => {});
      if (response.status >= 200 && response.status < 300) return undefined;
      return retryable(response.status) ? `HTTP ${response.status}` : `final:HTTP ${response.status}`;
    } catch (error) {
      return `network: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          timers.delete(entry);
          resolve();
        }, ms),
        wake: () => {
          clearTimeout(entry.timer);
          timers.delete(entry);
          resolve();
        },
      };
      timers.add(entry);
    });
  }

  async function deliver(event: RotationEvent): Promise<void> {
    const body = JSON.stringify(event);
    let reason = 'closed';
    for (let n = 1; n <= maxAttempts && !closed; n++) {
      const failure = await attempt(event, body);
      if (failure === undefined) {
        stats.delivered++;
        return;
      }
      reason = failure;
      // A close() during the attempt found no sleeping retry to wake: give up now, not after a backoff.
      if (failure.startsWith('final:') || n === maxAttempts || closed) break;
      await sleep(Math.min(maxDelayMs, baseDelayMs * 2 ** (n - 1)));
    }
    stats.failed++;
    onFailure(event, reason.replace(/^final:/, ''));
  }

  const subscriber: RotationSubscriber = (event) => {
    if (closed) {
      stats.failed++;
      onFailure(event, 'webhook sender closed');
      return;
    }
    if (inFlight.size >= maxQueue) {
      // Bounded memory: past the bound new events are given up on at once, and said so.
      stats.failed++;
      onFailure(event, 'queue full');
      return;
    }
    const p = deliver(event).finally(() => inFlight.delete(event));
    inFlight.set(event, p);
  };

  return {
    subscriber,
    stats,
    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight.values()]);
    },
    async close() {
      closed = true;
      for (const t of [...timers]) t.wake();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight.values()]);
    },
  };
}
