// The SSE helper over a real `node:http` server and client (SPEC §13.2): frames carry id/event/data,
// keep-alive comments arrive while idle, Last-Event-ID replays what a reconnecting client missed, the
// filter applies, and a closed client unsubscribes.
import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { CofferError } from '../errors.js';
import { type RotationEvent, RotationEventStream } from './events.js';
import { sseHandler } from './sse.js';

function event(n: number, app = 'a'): RotationEvent {
  return {
    id: `k_${n}.advance_warning.v1`,
    type: 'advance_warning',
    keyId: `k_${n}`,
    app,
    purpose: 'p',
    algorithm: 'ed25519',
    version: 1,
    at: n,
    dueAt: n,
    trigger: 'interval',
  };
}

/** Parses an SSE byte stream into frames (WHATWG EventSource field rules, enough for our frames). */
function frames(
  text: string,
): { id?: string; event?: string; data?: string; retry?: string; comment?: string }[] {
  return text
    .split('\n\n')
    .filter((block) => block.length > 0)
    .map((block) => {
      const out: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) out.comment = line.slice(1).trim();
        else {
          const i = line.indexOf(':');
          out[line.slice(0, i)] = line.slice(i + 1).replace(/^ /, '');
        }
      }
      return out;
    });
}

async function withServer(
  stream: RotationEventStream,
  options: Parameters<typeof sseHandler>[1],
  run: (url: string) => Promise<void>,
) {
  const handler = sseHandler(stream, options);
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await run(`http://127.0.0.1:${port}/v1/rotation/events`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Opens the stream and collects text until `until` says enough (or 3 s pass). */
function read(url: string, until: (text: string) => boolean, headers: Record<string, string> = {}) {
  return new Promise<{ text: string; res: IncomingMessage }>((resolve, reject) => {
    const req = get(url, { headers }, (res) => {
      let text = '';
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`timed out; got ${JSON.stringify(text)}`));
      }, 3000);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (until(text)) {
          clearTimeout(timer);
          req.destroy();
          resolve({ text, res });
        }
      });
    });
    req.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
    });
  });
}

test('events are streamed as id/event/data frames with the SSE content type, and keep-alives flow', async () => {
  const stream = new RotationEventStream();
  await withServer(stream, { keepAliveMs: 30 }, async (url) => {
    const pending = read(url, (t) => t.includes('k_2.') && t.includes(': keep-alive'));
    while (stream.listenerCount === 0) await new Promise((r) => setTimeout(r, 5));
    stream.subscriber(event(1));
    stream.publish(event(2));
    const { text, res } = await pending;
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    assert.equal(res.headers['cache-control'], 'no-store');
    const got = frames(text).filter((f) => f.event);
    assert.deepEqual(
      got.map((f) => [f.id, f.event]),
      [
        ['k_1.advance_warning.v1', 'advance_warning'],
        ['k_2.advance_warning.v1', 'advance_warning'],
      ],
    );
    assert.deepEqual(JSON.parse(got[0]!.data!), event(1));
    assert.ok(frames(text).some((f) => f.comment === 'keep-alive'));
    assert.ok(frames(text).some((f) => f.retry === '3000'));
  });
  // The client went away: its listener is gone.
  const deadline = Date.now() + 2000;
  while (stream.listenerCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(stream.listenerCount, 0);
});

test('Last-Event-ID replays the missed events; the filter hides other apps', async () => {
  const stream = new RotationEventStream({ keepRecent: 10 });
  for (let n = 1; n <= 4; n++) stream.publish(event(n, n === 3 ? 'other' : 'a'));
  await withServer(stream, { filter: (e) => e.app === 'a' }, async (url) => {
    const { text } = await read(url, (t) => t.includes('k_4.'), {
      'last-event-id': 'k_1.advance_warning.v1',
    });
    assert.deepEqual(
      frames(text)
        .filter((f) => f.event)
        .map((f) => f.id),
      ['k_2.advance_warning.v1', 'k_4.advance_warning.v1'],
    );
  });
});

test('sseHandler and the stream validate their arguments', () => {
  const stream = new RotationEventStream();
  const bad: (() => unknown)[] = [
    () => sseHandler(null as never),
    () => sseHandler(stream, { keepAliveMs: 0 }),
    () => sseHandler(stream, { retryMs: 1.5 }),
    () => sseHandler(stream, { filter: 'x' as never }),
    () => new RotationEventStream({ keepRecent: -1 }),
    () => stream.subscribe(null as never),
  ];
  for (const fn of bad) assert.throws(fn, (e: unknown) => e instanceof CofferError && e.code === 'EINVAL');
});
