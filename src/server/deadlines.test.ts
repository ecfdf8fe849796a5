// Request time bounds (deadlines.ts, docs/daemon.md "Timeouts"), with small configured bounds: an
// ordinary request whose body stalls is answered 408 and closed (slow-body slowloris), a sealed stream
// that lasts many times the request bound passes as long as bytes keep moving, and a stream that goes
// idle is cut; and the sweep behind them, on stand-in requests. Nothing here asserts how fast anything
// is: each case waits for what must happen, and a stall that the daemon failed to cut would end in the
// test's own timeout.
import assert from 'node:assert/strict';
import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { concatBytes } from '../crypto/bytes.js';
import { type DaemonFixture, startDaemon } from '../testing/daemon.js';
import { DEFAULT_TIMEOUTS, Deadlines } from './deadlines.js';

const REQUEST_MS = 200;
const IDLE_MS = 3_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends headers and `first`, then nothing more; resolves with how the daemon ended the exchange. */
function stall(
  d: DaemonFixture,
  path: string,
  headers: Record<string, string | number>,
  first: Uint8Array,
): Promise<{ status: number | undefined; body: string; completeReply: boolean }> {
  return new Promise((done) => {
    let status: number | undefined;
    let body = '';
    let settled = false;
    const finish = (completeReply: boolean) => {
      if (settled) return;
      settled = true;
      done({ status, body, completeReply });
    };
    const req = request(
      {
        socketPath: d.socket,
        method: 'POST',
        path,
        headers: { authorization: `Bearer ${d.adminToken}`, ...headers },
      },
      (res) => {
        status = res.statusCode;
        res.on('data', (c: Buffer) => {
          body += c.toString('latin1');
        });
        res.on('end', () => finish(true));
        res.on('error', () => finish(false));
        res.on('close', () => finish(res.complete));
      },
    );
    req.on('error', () => finish(false));
    req.on('close', () => finish(false));
    req.write(first);
  });
}

describe('request time bounds', { timeout: 60_000 }, () => {
  let d: DaemonFixture;
  let key: string;
  before(async () => {
    d = await startDaemon({ server: { timeouts: { requestMs: REQUEST_MS, streamIdleMs: IDLE_MS } } });
    key = (await d.admin.createKey({ app: 'time', purpose: 'bounds', algorithm: 'aes-256-gcm' })).id;
  });
  after(() => d.cleanup());

  test('an ordinary request whose body stalls is answered 408 and closed', async () => {
    const result = await stall(
      d,
      `/v1/keys/${key}/seal`,
      { 'content-type': 'application/json', 'content-length': 1000 },
      Buffer.from('{"plaintext":"'),
    );
    assert.equal(result.status, 408);
    assert.match(result.body, /did not arrive whole within 200 ms/);
  });

  test('a stream lasting many times the request bound passes while bytes keep moving', async () => {
    const pieces: Uint8Array[] = [];
    const started = performance.now();
    const source = async function* () {
      for (let i = 0; i < 25; i++) {
        const piece = new Uint8Array(1000).fill(i);
        pieces.push(piece);
        yield piece;
        await sleep(50); // 25 × 50 ms: at least 1.25 s, over six times the 200 ms request bound
      }
    };
    const sealed: Uint8Array[] = [];
    for await (const piece of await d.admin.sealStream(key, source(), { aad: 'slow' })) sealed.push(piece);
    assert.ok(performance.now() - started > 5 * REQUEST_MS, 'the upload did outlast the request bound');
    const opened: Uint8Array[] = [];
    for await (const piece of await d.admin.unsealStream(key, sealed, { aad: 'slow' })) opened.push(piece);
    assert.deepEqual(concatBytes(...opened), concatBytes(...pieces));
    // The daemon still answers ordinary requests after it.
    assert.equal((await d.admin.getKey(key)).id, key);
  });

  test('a stream that goes idle is cut: the reply never completes', async () => {
    const result = await stall(
      d,
      `/v1/keys/${key}/seal-stream`,
      { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
      new Uint8Array(100),
    );
    assert.equal(result.status, 200, 'the stream had started');
    assert.equal(result.completeReply, false);
  });
});

describe('Deadlines: one sweep for every request', () => {
  /** A request and response with only what the sweep reads; `cut` records how it ended one. */
  function exchange(complete: boolean) {
    const cut: string[] = [];
    const req = { complete, socket: { destroy: () => cut.push('socket') } } as unknown as IncomingMessage;
    const res = {
      writableEnded: false,
      destroyed: false,
      headersSent: false,
      writeHead: (status: number) => cut.push(String(status)),
      end: () => cut.push('end'),
      destroy: () => cut.push('destroy'),
    } as unknown as ServerResponse;
    return { req, res, cut };
  }

  test('the sweep runs every quarter of the smaller bound, at most once a second and at least every 5 ms', () => {
    assert.equal(new Deadlines(DEFAULT_TIMEOUTS).tickMs, 1000);
    assert.equal(new Deadlines({ requestMs: 200, streamIdleMs: 3000 }).tickMs, 50);
    assert.equal(new Deadlines({ requestMs: 20, streamIdleMs: 1000 }).tickMs, 5);
    assert.equal(new Deadlines({ requestMs: 1, streamIdleMs: 1 }).tickMs, 5);
  });

  test('a stalled body is cut after its bound; a whole one is not, however long the daemon works', async () => {
    const deadlines = new Deadlines({ requestMs: 20, streamIdleMs: 1000 });
    const stalled = exchange(false);
    const whole = exchange(true);
    deadlines.watch(stalled.req, stalled.res);
    deadlines.watch(whole.req, whole.res);
    await sleep(150);
    assert.deepEqual(stalled.cut, ['408', 'end']);
    assert.deepEqual(whole.cut, []);
    deadlines.stop();
  });

  test('a stream is cut only once no byte has moved for its idle bound, and a released one never', async () => {
    const deadlines = new Deadlines({ requestMs: 20, streamIdleMs: 60 });
    const stream = exchange(false);
    const released = exchange(false);
    const progress = deadlines.watch(stream.req, stream.res).startStreaming();
    const { watch } = deadlines.watch(released.req, released.res);
    deadlines.release(watch);
    for (let i = 0; i < 8; i++) {
      await sleep(15);
      progress();
    }
    assert.deepEqual(stream.cut, [], 'bytes kept moving for twice the idle bound');
    await sleep(200);
    assert.deepEqual(stream.cut, ['408', 'end']);
    assert.deepEqual(released.cut, []);
    deadlines.stop();
  });
});
