// One tenant cannot stall the others (docs/daemon.md "Fairness"). The attack: a token of app `a` sends
// two large ML-DSA-65 sign-batches at once; an unauthenticated health check and another tenant's
// signature sent while they run must be answered before the batches finish (before the worker pool and
// the yielding batch loop, all signing ran on the event loop and both waited for the last item). Only
// the order of events is asserted — the latency figures belong to `npm run bench`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CofferClient } from '../client/index.js';
import type { KeyInfo } from '../core/types.js';
import { type DaemonFixture, startDaemon } from './fixture.js';

const te = new TextEncoder();

describe('fairness under a heavy batch', () => {
  let d: DaemonFixture;
  let keyA: KeyInfo;
  let keyB: KeyInfo;
  let a: CofferClient;
  let b: CofferClient;
  before(async () => {
    d = await startDaemon();
    keyA = await d.admin.createKey({ app: 'a', purpose: 'pq', algorithm: 'ml-dsa-65' });
    keyB = await d.admin.createKey({ app: 'b', purpose: 'pq', algorithm: 'ml-dsa-65' });
    a = d.client((await d.admin.createToken({ apps: ['a'], ops: ['sign'] })).token);
    b = d.client((await d.admin.createToken({ apps: ['b'], ops: ['sign'] })).token);
    await a.sign(keyA.id, te.encode('warm'));
    await b.sign(keyB.id, te.encode('warm'));
  });
  after(async () => {
    await d?.cleanup();
  });

  test('health and another tenant are answered before two ML-DSA batches finish', async () => {
    const items = Array.from({ length: 150 }, (_, i) => te.encode(`item ${i}`));
    const order: string[] = [];
    const batches = Promise.all([a.signBatch(keyA.id, items), a.signBatch(keyA.id, items)]).then((r) => {
      order.push('batches');
      return r;
    });
    await sleep(100);
    const health = d
      .client()
      .health()
      .then(() => order.push('health'));
    const other = b.sign(keyB.id, te.encode('tenant b')).then(() => order.push('tenant b'));
    await Promise.all([health, other]);
    const results = await batches;
    assert.ok(
      results.every((r) => r.length === items.length && r.every((x) => x.ok)),
      'every item of both batches was signed',
    );
    assert.deepEqual(order.slice(-1), ['batches'], `answer order: ${order.join(' → ')}`);
  });
});
