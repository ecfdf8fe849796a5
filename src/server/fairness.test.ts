// One tenant cannot stall the others (docs/daemon.md "Fairness"). The attack: a token of app `a` sends
// two large ML-DSA-65 sign-batches at once; meanwhile an unauthenticated client asks /v1/health and
// another tenant signs, each back to back, and both must keep being answered while the batches run
// (before the worker pool and the yielding batch loop, one batch held the event loop from its first
// item to its last). Only counts of answers are asserted — latency figures belong to `npm run bench`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
    a = d.client((await d.admin.tokens.create({ apps: ['a'], ops: ['sign'] })).token);
    b = d.client((await d.admin.tokens.create({ apps: ['b'], ops: ['sign'] })).token);
    await a.sign(keyA.id, te.encode('warm'));
    await b.sign(keyB.id, te.encode('warm'));
  });
  after(async () => {
    await d?.cleanup();
  });

  test('health and another tenant keep being answered while two ML-DSA batches run', async () => {
    const items = Array.from({ length: 150 }, (_, i) => te.encode(`item ${i}`));
    let running = true;
    const batches = Promise.all([a.signBatch(keyA.id, items), a.signBatch(keyA.id, items)]);
    const probe = d.client();
    const counts = { health: 0, tenantB: 0 };
    const healthLoop = (async () => {
      while (running) {
        await probe.health();
        if (running) counts.health++;
      }
    })();
    const tenantLoop = (async () => {
      while (running) {
        await b.sign(keyB.id, te.encode('tenant b'));
        if (running) counts.tenantB++;
      }
    })();
    const done = await batches;
    running = false;
    await Promise.all([healthLoop, tenantLoop]);
    assert.ok(
      done.every((value) => value.length === items.length && value.every((x) => x.ok)),
      'every item of both batches was signed',
    );
    // Only counts of answers are asserted, no latency: before the fix the daemon's event loop was held
    // by one batch from its first item to its last: measured then, 3 health answers and 4 of tenant
    // b got in during the two batches; with the pool, thousands and about 40.
    const figures = `answered while the batches ran: ${counts.health} health, ${counts.tenantB} tenant b`;
    assert.ok(counts.health >= 50, figures);
    assert.ok(counts.tenantB >= 15, figures);
  });
});
