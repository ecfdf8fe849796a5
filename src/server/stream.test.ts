// Sealed streams through a real daemon (SPEC §6.2, §10.1 "Streams"): round trips at chunk boundaries
// through coffer/client; every tamper case reported as EBADMSG (trailer) after the authentic prefix;
// without `TE: trailers` a failure cuts the connection instead of ending the reply cleanly; token scope,
// lock and key state are checked before the first byte; the OpenAPI document declares both routes.
import assert from 'node:assert/strict';
import { type IncomingMessage, request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { ClientByteStream } from '../client/index.js';
import { concatBytes } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import { type DaemonFixture, PASSPHRASE, startDaemon } from './fixture.js';

const CHUNK = 64 * 1024;
const SEALED_CHUNK = CHUNK + 16;
const AAD = 'invoice=42';

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Everything the stream released, and the error it ended with. */
async function drain(stream: ClientByteStream): Promise<{ pieces: Uint8Array[]; error?: CofferError }> {
  const pieces: Uint8Array[] = [];
  try {
    for await (const piece of stream) pieces.push(Uint8Array.from(piece));
  } catch (error) {
    assert.ok(error instanceof CofferError, String(error));
    return { pieces, error };
  }
  return { pieces };
}

/** A raw streaming exchange: status, headers, body, trailers, and whether the reply ended cleanly. */
function rawStream(
  socket: string,
  path: string,
  body: Uint8Array,
  headers: Record<string, string>,
): Promise<{
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
  trailers: Record<string, string>;
  complete: boolean;
}> {
  return new Promise((done, fail) => {
    const req = request({ socketPath: socket, method: 'POST', path, headers }, (res) => {
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = (complete: boolean) => {
        if (settled) return;
        settled = true;
        done({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          trailers: res.trailers as Record<string, string>,
          complete,
        });
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish(true));
      res.on('aborted', () => finish(false));
      res.on('error', () => finish(false));
      res.on('close', () => finish(res.complete));
    });
    req.on('error', (error) => (error.message.includes('socket hang up') ? undefined : fail(error)));
    req.end(body);
  });
}

describe('sealed streams through the daemon', () => {
  let d: DaemonFixture;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.cleanup();
  });

  test('round trips at 0, 1, chunk−1, chunk, chunk+1 and many chunks, for the three algorithms', async () => {
    for (const algorithm of ['aes-256-gcm', 'xchacha20-poly1305', 'x-wing'] as const) {
      const key = await d.admin.createKey({ app: 'streams', purpose: `rt-${algorithm}`, algorithm });
      const sizes =
        algorithm === 'aes-256-gcm' ? [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 9 * CHUNK + 77] : [0, CHUNK + 1];
      for (const size of sizes) {
        const data = pattern(size, size + 1);
        const pieces = [data.subarray(0, size >> 2), data.subarray(size >> 2)];
        const sealing = await d.admin.sealStream(key.id, pieces, { aad: AAD });
        assert.equal(sealing.version, 1);
        const sealed = await drain(sealing);
        assert.equal(sealed.error, undefined);
        const blob = concatBytes(...sealed.pieces);
        const header = { 'aes-256-gcm': 84, 'xchacha20-poly1305': 96, 'x-wing': 1204 }[algorithm];
        assert.equal(blob.length, header + size + 16 * Math.max(1, Math.ceil(size / CHUNK)));
        const opened = await drain(await d.admin.unsealStream(key.id, [blob], { aad: AAD }));
        assert.equal(opened.error, undefined);
        assert.deepEqual(concatBytes(...opened.pieces), data, `${algorithm} ${size}`);
        if (size < 1024 * 1024) {
          // The one-shot routes read the same format (SPEC §6.2.4).
          assert.deepEqual(await d.admin.unseal(key.id, blob, { aad: AAD, transport: 'raw' }), data);
        }
      }
    }
    // A one-shot blob opens through unseal-stream too.
    const key = await d.admin.createKey({ app: 'streams', purpose: 'blob', algorithm: 'aes-256-gcm' });
    const blob = await d.admin.seal(key.id, pattern(500, 3), { aad: AAD });
    assert.deepEqual(
      concatBytes(...(await drain(await d.admin.unsealStream(key.id, blob, { aad: AAD }))).pieces),
      pattern(500, 3),
    );
  });

  test('every tamper case ends in EBADMSG after the authentic prefix', async () => {
    const key = await d.admin.createKey({ app: 'streams', purpose: 'tamper', algorithm: 'aes-256-gcm' });
    const data = pattern(4 * CHUNK + 100, 9);
    const seal = async () =>
      concatBytes(...(await drain(await d.admin.sealStream(key.id, data, { aad: AAD }))).pieces);
    const sealed = await seal();
    const other = await seal();
    const H = 84;
    const chunks = (bytes: Uint8Array) =>
      Array.from({ length: 5 }, (_, i) => bytes.subarray(H + i * SEALED_CHUNK, H + (i + 1) * SEALED_CHUNK));
    const mine = chunks(sealed);
    const rebuild = (list: Uint8Array[]) => concatBytes(sealed.subarray(0, H), ...list);
    const flipped = Uint8Array.from(sealed);
    flipped[H + 2 * SEALED_CHUNK + 10]! ^= 4;
    const cases: [string, Uint8Array, number][] = [
      ['flip in chunk 2', flipped, 2],
      ['truncate at a chunk boundary', sealed.subarray(0, H + 3 * SEALED_CHUNK), 2],
      ['truncate between boundaries', sealed.subarray(0, H + 3 * SEALED_CHUNK + 100), 3],
      ['drop chunk 1', rebuild([mine[0]!, ...mine.slice(2)]), 1],
      ['reorder chunks 1 and 2', rebuild([mine[0]!, mine[2]!, mine[1]!, ...mine.slice(3)]), 1],
      ['duplicate chunk 0', rebuild([mine[0]!, ...mine]), 1],
      ['append a byte', concatBytes(sealed, Uint8Array.of(0)), 4],
      ['append another stream', concatBytes(sealed, other), 4],
      [
        'splice chunk 3 from another stream of the key',
        rebuild(mine.map((c, i) => (i === 3 ? chunks(other)[3]! : c))),
        3,
      ],
    ];
    for (const [what, bytes, released] of cases) {
      const result = await drain(await d.admin.unsealStream(key.id, [bytes], { aad: AAD }));
      assert.equal(result.error?.code, 'EBADMSG', `${what}: ${result.error?.message}`);
      // Pieces arrive as the socket delivers them; what counts is the bytes: whole verified chunks.
      assert.deepEqual(
        concatBytes(...result.pieces),
        data.subarray(0, released * CHUNK),
        `${what}: authentic prefix`,
      );
    }
    // A bad chunk while the upload is still going on: the trailer still reports EBADMSG (the daemon
    // must not drop the connection, and the reply with it, when it stops reading).
    const long = await seal();
    const early = Uint8Array.from(long);
    early[H + 10]! ^= 1;
    const slow = (async function* () {
      for (let at = 0; at < early.length; at += 16 * 1024) {
        yield early.subarray(at, at + 16 * 1024);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    const stopped = await drain(await d.admin.unsealStream(key.id, slow, { aad: AAD }));
    assert.equal(stopped.error?.code, 'EBADMSG', stopped.error?.message);
    assert.equal(stopped.pieces.length, 0);
    // Failures found in the header come before the stream, as ordinary error replies.
    await assert.rejects(d.admin.unsealStream(key.id, sealed, { aad: 'invoice=43' }), { code: 'EBADMSG' });
    await assert.rejects(d.admin.unsealStream(key.id, sealed.subarray(0, 50)), { code: 'EBADMSG' });
    await assert.rejects(d.admin.unsealStream(key.id, Uint8Array.of(9, 9, 9)), { code: 'EINVAL' });
    await d.admin.rotate(key.id);
    const v2 = await seal();
    const relabelled = Uint8Array.from(v2);
    new DataView(relabelled.buffer).setUint32(19, 1);
    await assert.rejects(d.admin.unsealStream(key.id, relabelled, { aad: AAD }), { code: 'EBADMSG' });
    const otherKey = await d.admin.createKey({
      app: 'streams',
      purpose: 'tamper-2',
      algorithm: 'aes-256-gcm',
    });
    await assert.rejects(d.admin.unsealStream(otherKey.id, sealed, { aad: AAD }), { code: 'EBADMSG' });
  });

  test('over raw HTTP: trailers say ok or the error; without TE: trailers a failure cuts the reply', async () => {
    const key = await d.admin.createKey({ app: 'streams', purpose: 'raw', algorithm: 'xchacha20-poly1305' });
    const data = pattern(3 * CHUNK, 4);
    const sealed = concatBytes(...(await drain(await d.admin.sealStream(key.id, data))).pieces);
    const path = `/v1/keys/${key.id}/unseal-stream`;
    const base = { authorization: `Bearer ${d.adminToken}`, 'content-type': 'application/octet-stream' };
    const good = await rawStream(d.socket, path, sealed, { ...base, te: 'trailers' });
    assert.equal(good.status, 200);
    assert.equal(good.headers['coffer-key-version'], '1');
    assert.equal(good.headers['transfer-encoding'], 'chunked');
    assert.deepEqual(good.trailers, { 'coffer-status': 'ok' });
    assert.equal(good.complete, true);
    assert.deepEqual(new Uint8Array(good.body), data);

    const cut = sealed.subarray(0, sealed.length - SEALED_CHUNK); // truncated at a chunk boundary
    const withTrailers = await rawStream(d.socket, path, cut, { ...base, te: 'trailers' });
    assert.equal(withTrailers.status, 200);
    assert.equal(withTrailers.trailers['coffer-status'], 'EBADMSG');
    assert.match(decodeURIComponent(withTrailers.trailers['coffer-error'] ?? ''), /truncated/);
    assert.equal(withTrailers.body.length, CHUNK, 'the authentic first chunk, then the error');

    const naive = await rawStream(d.socket, path, cut, base);
    assert.equal(naive.status, 200);
    assert.equal(naive.complete, false, 'no clean end: curl and fetch report an error');
    assert.deepEqual(naive.trailers, {});
    const naiveGood = await rawStream(d.socket, path, sealed, base);
    assert.equal(naiveGood.complete, true);
    assert.deepEqual(new Uint8Array(naiveGood.body), data);
  });

  test('scope, content type, AAD header, lock and key state are checked before the first byte', async () => {
    const key = await d.admin.createKey({ app: 'streams', purpose: 'scope', algorithm: 'aes-256-gcm' });
    const data = pattern(1000, 2);
    const sealed = concatBytes(...(await drain(await d.admin.sealStream(key.id, data))).pieces);
    const sealOnly = d.client((await d.admin.tokens.create({ apps: ['streams'], ops: ['seal'] })).token);
    const otherApp = d.client((await d.admin.tokens.create({ apps: ['elsewhere'], ops: ['*'] })).token);
    await assert.rejects(sealOnly.unsealStream(key.id, sealed), { code: 'EPERM' });
    assert.equal((await drain(await sealOnly.sealStream(key.id, data))).error, undefined);
    // Another app's key answers exactly like an unknown id (SPEC §10.2: no existence oracle).
    await assert.rejects(otherApp.sealStream(key.id, data), { code: 'ENOENT' });
    await assert.rejects(d.client().sealStream(key.id, data), { code: 'EPERM' });
    await assert.rejects(d.admin.sealStream('k_aaaaaaaaaaaaaaaaaaaaaaaaaa', data), { code: 'ENOENT' });
    const path = `/v1/keys/${key.id}/seal-stream`;
    const json = await rawStream(d.socket, path, data, {
      authorization: `Bearer ${d.adminToken}`,
      'content-type': 'application/json',
    });
    assert.equal(json.status, 400);
    assert.equal(JSON.parse(json.body.toString()).error.code, 'EINVAL');
    const badAad = await rawStream(d.socket, path, data, {
      authorization: `Bearer ${d.adminToken}`,
      'content-type': 'application/octet-stream',
      'coffer-aad': '***',
    });
    assert.equal(badAad.status, 400);
    const bigAad = await rawStream(d.socket, path, data, {
      authorization: `Bearer ${d.adminToken}`,
      'content-type': 'application/octet-stream',
      'coffer-aad': Buffer.alloc(12 * 1024 + 3).toString('base64'),
    });
    assert.equal(bigAad.status, 431, 'over the 16 KiB header block: larger AAD does not fit a header');
    await d.admin.suspend(key.id);
    await assert.rejects(d.admin.sealStream(key.id, data), { code: 'ESTATE' });
    assert.equal((await drain(await d.admin.unsealStream(key.id, sealed))).error, undefined);
    await d.admin.resume(key.id);

    // Locking the daemon stops a running stream at its next chunk (ELOCKED in the trailer).
    const running = await d.admin.sealStream(
      key.id,
      (async function* () {
        for (let i = 0; i < 64; i++) {
          yield new Uint8Array(CHUNK);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })(),
    );
    const first = await running.next();
    assert.equal(first.done, false);
    await d.admin.lock();
    const rest = await drain(running);
    assert.equal(rest.error?.code, 'ELOCKED', rest.error?.message);
    await assert.rejects(d.admin.sealStream(key.id, data), { code: 'ELOCKED' });
    await d.admin.unlock(PASSPHRASE);
  });

  test('a consumer that stops early stops the upload; the daemon goes on serving', async () => {
    const key = await d.admin.createKey({ app: 'streams', purpose: 'early', algorithm: 'aes-256-gcm' });
    let produced = 0;
    const endless = (async function* () {
      for (;;) {
        produced++;
        yield new Uint8Array(CHUNK);
      }
    })();
    let seen = 0;
    for await (const _ of await d.admin.sealStream(key.id, endless)) if (++seen === 5) break;
    const atStop = produced;
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(produced - atStop < 64, `the upload stopped (${produced - atStop} pieces after the break)`);
    const data = pattern(10, 1);
    const again = concatBytes(...(await drain(await d.admin.sealStream(key.id, data))).pieces);
    assert.deepEqual(concatBytes(...(await drain(await d.admin.unsealStream(key.id, again))).pieces), data);
  });

  test('a stream never rides a pooled connection the daemon is closing (keep-alive timeout race)', async () => {
    const key = await d.admin.createKey({ app: 'streams', purpose: 'keep-alive', algorithm: 'aes-256-gcm' });
    await d.admin.getKey(key.id); // leaves a pooled keep-alive connection
    // Block this thread (daemon and client both) past the daemon's keep-alive timeout (5 s, closed after about 6 s) without
    // spinning: when it resumes, the pooled socket is due to be closed by the daemon in this very tick.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 6500);
    const data = pattern(100, 5);
    const sealed = await drain(await d.admin.sealStream(key.id, data));
    assert.equal(sealed.error, undefined);
    assert.deepEqual(
      concatBytes(...(await drain(await d.admin.unsealStream(key.id, sealed.pieces))).pieces),
      data,
    );
  });

  test('the one-shot raw routes refuse more than 16 MiB saying so in MiB and naming the stream routes', async () => {
    const key = await d.admin.createKey({ app: 'streams', purpose: 'bound', algorithm: 'aes-256-gcm' });
    const big = new Uint8Array(16 * 1024 * 1024 + 1);
    await assert.rejects(d.admin.seal(key.id, big, { transport: 'raw' }), (error: CofferError) => {
      assert.equal(error.code, 'E2BIG');
      assert.match(
        error.message,
        /16 MiB: stream it \(POST \/v1\/keys\/\{id\}\/seal-stream; client\.sealStream\)/,
      );
      return true;
    });
    const huge = new Uint8Array(16 * 1024 * 1024 + 8193);
    await assert.rejects(d.admin.unseal(key.id, huge, { transport: 'raw' }), (error: CofferError) => {
      assert.equal(error.code, 'E2BIG');
      assert.match(
        error.message,
        /16 MiB \+ 8 KiB: open it as a stream \(POST \/v1\/keys\/\{id\}\/unseal-stream/,
      );
      return true;
    });
    // The same input streams without a bound.
    let total = 0;
    for await (const piece of await d.admin.sealStream(key.id, big)) total += piece.length;
    assert.equal(total, 84 + big.length + 16 * 257);
  });

  test('OpenAPI declares both routes: octet-stream in and out, token ops, the Coffer-AAD header', async () => {
    const doc = (await d.client().openapi()) as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    for (const [name, op] of [
      ['seal-stream', 'seal'],
      ['unseal-stream', 'unseal'],
    ] as const) {
      const post = doc.paths[`/v1/keys/{id}/${name}`]?.post;
      assert.ok(post, name);
      assert.equal(post['x-coffer-token-op'], op);
      const body = post.requestBody as { content: Record<string, unknown> };
      assert.deepEqual(Object.keys(body.content), ['application/octet-stream']);
      const ok = (post.responses as Record<string, { content?: Record<string, unknown> }>)['200'];
      assert.deepEqual(Object.keys(ok?.content ?? {}), ['application/octet-stream']);
      assert.ok((post.parameters as { name: string }[]).some((p) => p.name === 'Coffer-AAD'));
    }
  });
});
