// Per-token limits (SPEC §10.5): the token bucket and the in-flight count on a controlled clock, then
// against the daemon — a token over its concurrency or its rate gets 429 ERATE with Retry-After (and
// the client's RateLimitedError carries it) before the daemon reads the body or looks at the key,
// while other tokens and unauthenticated routes are unaffected.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { parseRetryAfter, RateLimitedError } from '../client/index.js';
import type { KeyInfo } from '../core/types.js';
import { type DaemonFixture, startDaemon } from './fixture.js';
import { RateLimitError, resolveLimits, TokenLimits } from './limits.js';

const te = new TextEncoder();

describe('TokenLimits', () => {
  test('a token bucket: burst, refill at the rate, Retry-After from the deficit', () => {
    let now = 0;
    const limits = new TokenLimits({ rate: 2, burst: 3, concurrency: 0 }, () => now);
    for (let i = 0; i < 3; i++) limits.admit('t')();
    assert.throws(
      () => limits.admit('t'),
      (e: unknown) => e instanceof RateLimitError && e.retryAfterSeconds === 1,
    );
    limits.admit('other')(); // one token's bucket is not another's
    now += 500; // +1 operation
    limits.admit('t')();
    assert.throws(() => limits.admit('t'), { code: 'ERATE' });
    now += 10_000; // refills to the burst, not beyond
    for (let i = 0; i < 3; i++) limits.admit('t')();
    assert.throws(() => limits.admit('t'), { code: 'ERATE' });
  });

  test('a batch charges its items as a debt that later requests wait out', () => {
    let now = 0;
    const limits = new TokenLimits({ rate: 100, burst: 100, concurrency: 0 }, () => now);
    limits.admit('t')();
    limits.charge('t', 999); // balance 99 - 999 = -900, bounded at -burst = -100
    assert.throws(
      () => limits.admit('t'),
      (e: unknown) => e instanceof RateLimitError && e.retryAfterSeconds === Math.ceil(101 / 100),
    );
    now += 1010;
    limits.admit('t')();
  });

  test('in-flight requests are counted until released (twice is harmless)', () => {
    const limits = new TokenLimits({ concurrency: 2, rate: 0 });
    const first = limits.admit('t');
    const second = limits.admit('t');
    assert.throws(
      () => limits.admit('t'),
      (e: unknown) => e instanceof RateLimitError && e.retryAfterSeconds === 1,
    );
    first();
    first();
    const third = limits.admit('t');
    assert.throws(() => limits.admit('t'), { code: 'ERATE' });
    second();
    third();
  });

  test('options are checked; 0 turns a limit off', () => {
    assert.deepEqual(resolveLimits({ rate: 5 }), { concurrency: 16, rate: 5, burst: 10 });
    assert.throws(() => resolveLimits({ rate: -1 }), { code: 'EINVAL' });
    assert.throws(() => resolveLimits({ concurrency: 1.5 }), { code: 'EINVAL' });
    const off = new TokenLimits({ rate: 0, concurrency: 0 });
    for (let i = 0; i < 1000; i++) off.admit('t');
  });

  test('the client reads Retry-After as seconds or as an HTTP date', () => {
    assert.equal(parseRetryAfter('7'), 7);
    assert.equal(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')),
      10,
    );
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});

function post(
  socket: string,
  path: string,
  token: string,
  body: string,
): Promise<{ status: number; retryAfter: string | undefined; code: string | undefined }> {
  return new Promise((done, fail) => {
    const req = request(
      {
        socketPath: socket,
        method: 'POST',
        path,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          done({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'] as string | undefined,
            code: text.startsWith('{"error"') ? JSON.parse(text).error.code : undefined,
          });
        });
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

describe('limits in the daemon', () => {
  let d: DaemonFixture;
  let key: KeyInfo;
  let pq: KeyInfo;
  before(async () => {
    d = await startDaemon({ server: { limits: { concurrency: 1, rate: 50, burst: 50 } } });
    key = await d.admin.createKey({ app: 'a', purpose: 'sig', algorithm: 'ed25519' });
    pq = await d.admin.createKey({ app: 'a', purpose: 'pq', algorithm: 'ml-dsa-65' });
  });
  after(async () => {
    await d?.cleanup();
  });

  test('a second request in flight is 429 ERATE with Retry-After; the client says when to retry', async () => {
    const { token } = await d.admin.tokens.create({ apps: ['a'], ops: ['sign'] });
    const client = d.client(token);
    const slow = client.signBatch(
      pq.id,
      Array.from({ length: 20 }, () => te.encode('x')),
    );
    await new Promise((r) => setTimeout(r, 20));
    const refused = await post(d.socket, `/v1/keys/${key.id}/sign`, token, JSON.stringify({ data: 'aGk=' }));
    assert.equal(refused.status, 429);
    assert.equal(refused.code, 'ERATE');
    assert.equal(refused.retryAfter, '1');
    await assert.rejects(client.sign(key.id, te.encode('x')), (error: unknown) => {
      assert.ok(error instanceof RateLimitedError);
      assert.equal(error.code, 'ERATE');
      assert.equal(error.retryAfterSeconds, 1);
      return true;
    });
    // Another token and the health route are not held back by this one.
    const { token: other } = await d.admin.tokens.create({ apps: ['a'], ops: ['sign'] });
    assert.equal((await d.client(other).sign(key.id, te.encode('y'))).version, 1);
    assert.deepEqual(await d.client().health(), { ok: true });
    assert.ok((await slow).every((r) => r.ok));
    assert.equal((await client.sign(key.id, te.encode('z'))).version, 1);
  });

  test("over the rate: 429 with Retry-After, a batch's items count", async () => {
    const { token } = await d.admin.tokens.create({ apps: ['a'], ops: ['sign'] });
    const client = d.client(token);
    const results = await client.signBatch(
      key.id,
      // 300 items against 50/s with a burst of 50: a debt of about 5 s, so a loaded machine that
      // takes a second or two to answer the batch still sees the next request refused.
      Array.from({ length: 300 }, () => te.encode('x')),
    );
    assert.ok(
      results.every((r) => r.ok),
      'the batch itself runs (its items become a debt)',
    );
    const refused = await post(d.socket, `/v1/keys/${key.id}/sign`, token, JSON.stringify({ data: 'aGk=' }));
    assert.equal(refused.status, 429);
    assert.equal(refused.code, 'ERATE');
    assert.ok(Number(refused.retryAfter) >= 1);
    // Refused before the key lookup: even an unknown key id gets ERATE, not 404.
    const unknown = await post(d.socket, '/v1/keys/k_aaaaaaaaaaaaaaaaaaaaaaaaaa/sign', token, '{}');
    assert.equal(unknown.status, 429);
  });
});
