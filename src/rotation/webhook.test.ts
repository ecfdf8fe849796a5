// Webhook delivery against a real local HTTP server on a loopback port (SPEC §13.2): signature
// format and verification, retries with backoff against a receiver that fails twice, the attempt
// bound, no retry on a 4xx, the queue bound and close(), and a dead receiver never delaying a rotation.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { CofferError } from '../errors.js';
import { tempKeystore } from '../testing/keystore.js';
import type { RotationEvent } from './events.js';
import { RotationScheduler } from './scheduler.js';
import { createWebhookSender, SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from './webhook.js';

const SECRET = 'whsec_0123456789abcdef0123';

interface Received {
  body: string;
  signature: string | undefined;
  at: number;
}

/**
 * A receiver on 127.0.0.1 whose status per request comes from `statusFor(n)` (n counts from 1); it
 * records each request at once and answers `delayMs` later.
 */
async function receiver(
  statusFor: (n: number) => number,
  delayMs = 0,
): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({
        body: Buffer.concat(chunks).toString('utf8'),
        signature: req.headers[SIGNATURE_HEADER.toLowerCase()] as string | undefined,
        at: Date.now(),
      });
      res.statusCode = statusFor(got.length);
      setTimeout(() => res.end(), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, got, server };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const EVENT: RotationEvent = {
  id: 'k_x.rotated.v1',
  type: 'rotated',
  keyId: 'k_x',
  app: 'a',
  purpose: 'p',
  algorithm: 'ed25519',
  version: 1,
  newVersion: 2,
  at: 1,
  dueAt: 1,
  trigger: 'interval',
};

test('signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>, verified in constant time with a tolerance', () => {
  const header = signWebhook(SECRET, '{"a":1}', 1_700_000_000);
  assert.match(header, /^t=1700000000,v1=[0-9a-f]{64}$/);
  // Independent recomputation of the documented formula.
  const mac = createHmac('sha256', SECRET).update('1700000000.{"a":1}').digest('hex');
  assert.equal(header, `t=1700000000,v1=${mac}`);
  assert.equal(verifyWebhookSignature(SECRET, header, '{"a":1}', { nowSeconds: 1_700_000_100 }), true);
  assert.equal(verifyWebhookSignature(SECRET, header, '{"a":2}', { nowSeconds: 1_700_000_100 }), false);
  assert.equal(
    verifyWebhookSignature('another-secret-0123', header, '{"a":1}', { nowSeconds: 1_700_000_000 }),
    false,
  );
  assert.equal(
    verifyWebhookSignature(SECRET, header, '{"a":1}', { nowSeconds: 1_700_000_301 }),
    false,
    'replay after tolerance',
  );
  assert.equal(verifyWebhookSignature(SECRET, undefined, '{"a":1}'), false);
  assert.equal(verifyWebhookSignature(SECRET, 't=abc,v1=zz', '{"a":1}'), false);
});

test('a receiver that fails twice then succeeds gets the event on the third attempt, with backoff', async () => {
  const r = await receiver((n) => (n <= 2 ? 503 : 200));
  const failures: string[] = [];
  const sender = createWebhookSender({
    url: r.url,
    secret: SECRET,
    baseDelayMs: 40,
    onFailure: (_e, reason) => failures.push(reason),
  });
  try {
    sender.subscriber(EVENT);
    await sender.drain();
    assert.equal(r.got.length, 3);
    assert.deepEqual(sender.stats, { delivered: 1, failed: 0, attempts: 3 });
    assert.deepEqual(failures, []);
    // Exponential: the second gap (80 ms) is about twice the first (40 ms).
    const gap1 = r.got[1]!.at - r.got[0]!.at;
    const gap2 = r.got[2]!.at - r.got[1]!.at;
    assert.ok(gap1 >= 35 && gap2 >= 75, `gaps ${gap1} ${gap2}`);
    for (const g of r.got) {
      assert.deepEqual(JSON.parse(g.body), EVENT);
      assert.equal(verifyWebhookSignature(SECRET, g.signature, g.body), true);
    }
  } finally {
    await sender.close();
    await close(r.server);
  }
});

test('attempts are bounded; a 4xx is not retried; the failure is reported', async () => {
  const always500 = await receiver(() => 500);
  const reject400 = await receiver(() => 400);
  const failures: string[] = [];
  const a = createWebhookSender({
    url: always500.url,
    secret: SECRET,
    maxAttempts: 3,
    baseDelayMs: 5,
    onFailure: (_e, why) => failures.push(why),
  });
  const b = createWebhookSender({
    url: reject400.url,
    secret: SECRET,
    baseDelayMs: 5,
    onFailure: (_e, why) => failures.push(why),
  });
  try {
    a.subscriber(EVENT);
    b.subscriber(EVENT);
    await Promise.all([a.drain(), b.drain()]);
    assert.equal(always500.got.length, 3);
    assert.equal(reject400.got.length, 1);
    assert.deepEqual(failures.sort(), ['HTTP 400', 'HTTP 500']);
    assert.equal(a.stats.failed, 1);
  } finally {
    await a.close();
    await b.close();
    await close(always500.server);
    await close(reject400.server);
  }
});

test('past maxQueue events are given up on at once; close() ends pending retries; a closed sender refuses', async () => {
  const r = await receiver(() => 503);
  const failures: [string, string][] = [];
  const sender = createWebhookSender({
    url: r.url,
    secret: SECRET,
    maxQueue: 1,
    baseDelayMs: 60_000,
    onFailure: (e, why) => failures.push([e.id, why]),
  });
  try {
    sender.subscriber({ ...EVENT, id: 'first' });
    sender.subscriber({ ...EVENT, id: 'second' });
    assert.deepEqual(failures, [['second', 'queue full']]);
    while (r.got.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // The first event now sleeps a minute before its retry: close() must not wait for it.
    const started = Date.now();
    await sender.close();
    assert.ok(Date.now() - started < 5_000, 'close() woke the pending retry');
    sender.subscriber({ ...EVENT, id: 'third' });
    assert.deepEqual(failures, [
      ['second', 'queue full'],
      ['first', 'HTTP 503'],
      ['third', 'webhook sender closed'],
    ]);
    assert.deepEqual(sender.stats, { delivered: 0, failed: 3, attempts: 1 });
    assert.equal(r.got.length, 1);
  } finally {
    await sender.close();
    await close(r.server);
  }
});

test('close() while an attempt is in flight gives the event up when the attempt ends, without a backoff', async () => {
  const r = await receiver(() => 503, 200);
  const failures: string[] = [];
  const sender = createWebhookSender({
    url: r.url,
    secret: SECRET,
    baseDelayMs: 60_000,
    onFailure: (_e, why) => failures.push(why),
  });
  try {
    sender.subscriber(EVENT);
    while (r.got.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const started = Date.now();
    await sender.close();
    assert.ok(Date.now() - started < 5_000, 'no backoff sleep after close()');
    assert.deepEqual(failures, ['HTTP 503']);
    assert.deepEqual(sender.stats, { delivered: 0, failed: 1, attempts: 1 });
  } finally {
    await sender.close();
    await close(r.server);
  }
});

// Not timed (a tick under load may take any time): a receiver that holds every request unanswered until
// released makes any wait on delivery inside tick() a deadlock, which the test's timeout turns into a
// failure; tick() returning at all while that receiver still holds its request is the property.
test('a dead or stalled receiver never delays rotation; events reach a live one signed, once each', {
  timeout: 60_000,
}, async () => {
  const clock = { now: Date.UTC(2032, 0, 1) };
  const t = await tempKeystore({ clock: () => clock.now });
  const live = await receiver(() => 204);
  // A port that was just closed: connections are refused.
  const dead = await receiver(() => 200);
  const deadUrl = dead.url;
  await close(dead.server);
  const deadFailures: string[] = [];
  const toDead = createWebhookSender({
    url: deadUrl,
    secret: SECRET,
    maxAttempts: 4,
    baseDelayMs: 50,
    onFailure: (_e, why) => deadFailures.push(why),
  });
  const toLive = createWebhookSender({ url: live.url, secret: SECRET });
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const held = createServer((req, res) => {
    req.resume();
    req.on('end', () => void released.then(() => res.end()));
  });
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  const toHeld = createWebhookSender({
    url: `http://127.0.0.1:${(held.address() as AddressInfo).port}/hook`,
    secret: SECRET,
  });
  const sched = new RotationScheduler(t.ks, {
    clock: () => clock.now,
    subscribers: [toDead.subscriber, toHeld.subscriber, toLive.subscriber],
  });
  try {
    const key = await t.ks.createKey({
      app: 'a',
      purpose: 'p',
      algorithm: 'ed25519',
      rotation: { intervalMs: 1000, advanceWarningMs: 500 },
    });
    clock.now += 1000;
    const report = await sched.tick();
    assert.deepEqual(
      report.rotated.map((r) => r.keyId),
      [key.id],
    );
    // tick() is back while the held receiver answered nothing: no delivery was waited for.
    assert.equal(toHeld.stats.delivered, 0);
    release();
    await toHeld.drain();
    assert.equal(toHeld.stats.delivered, 2);
    await toLive.drain();
    assert.deepEqual(
      live.got.map((g) => (JSON.parse(g.body) as RotationEvent).type),
      ['advance_warning', 'rotated'],
    );
    assert.ok(live.got.every((g) => verifyWebhookSignature(SECRET, g.signature, g.body)));
    await toDead.drain();
    assert.equal(deadFailures.length, 2);
    assert.ok(deadFailures.every((w) => w.startsWith('network')));
  } finally {
    release();
    await sched.stop();
    await toHeld.close();
    await close(held);
    await toDead.close();
    await toLive.close();
    await close(live.server);
    await t.cleanup();
  }
});

test('createWebhookSender validates its options', () => {
  const bad: unknown[] = [
    null,
    { url: 'not a url', secret: SECRET },
    { url: 'ftp://127.0.0.1/', secret: SECRET },
    { url: 'http://user:pw@127.0.0.1/', secret: SECRET },
    { url: 'http://127.0.0.1/', secret: 'short' },
    { url: 'http://127.0.0.1/', secret: SECRET, maxAttempts: 0 },
    { url: 'http://127.0.0.1/', secret: SECRET, baseDelayMs: -1 },
  ];
  for (const options of bad) {
    assert.throws(
      () => createWebhookSender(options as never),
      (e: unknown) => e instanceof CofferError && e.code === 'EINVAL',
      JSON.stringify(options),
    );
  }
});
