// The router against a tenant holding a valid token (SPEC §10.2): malformed percent-encoding anywhere
// is 400 EINVAL (it was a 500 from an uncaught URIError); a key of another app answers exactly like a
// key that does not exist (it was a 403 naming the app: an existence oracle); and scope is decided
// before the body is read — an out-of-scope request with a 20 MiB body is answered while the upload
// has barely started (the old router read and parsed the whole body first).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { KeyInfo } from '../core/types.js';
import { type DaemonFixture, startDaemon } from './fixture.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function raw(
  socket: string,
  method: string,
  path: string,
  headers: Record<string, string | number> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = request({ socketPath: socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', fail);
    req.end(body);
  });
}

function errorOf(answer: Answer): { code: string; message: string } {
  return (JSON.parse(answer.body.toString('utf8')) as { error: { code: string; message: string } }).error;
}

/** The headers that can tell two answers apart (the date is the clock, not the request). */
function comparable(answer: Answer): Record<string, unknown> {
  const { date: _date, ...rest } = answer.headers;
  return rest;
}

const UNKNOWN_ID = 'k_aaaaaaaaaaaaaaaaaaaaaaaaaa';

describe('router: what a tenant with a valid token can make it do', () => {
  let d: DaemonFixture;
  let keyA: KeyInfo;
  let keyB: KeyInfo;
  let tokenA: string;
  before(async () => {
    d = await startDaemon();
    keyA = await d.admin.createKey({ app: 'a', purpose: 'sig', algorithm: 'ed25519' });
    keyB = await d.admin.createKey({ app: 'b', purpose: 'sig', algorithm: 'ed25519' });
    ({ token: tokenA } = await d.admin.tokens.create({ apps: ['a'], ops: ['*'] }));
  });
  after(async () => {
    await d?.cleanup();
  });

  test('malformed percent-encoding in a path parameter is 400 EINVAL, never 500', async () => {
    const auth = { authorization: `Bearer ${d.adminToken}` };
    for (const [method, path] of [
      ['GET', '/v1/keys/%E0%A4%A'],
      ['GET', '/v1/keys/%E0%A4%A/public'],
      ['POST', '/v1/keys/%ZZ/sign'],
      ['DELETE', '/v1/tokens/%E0%A4%A'],
      ['DELETE', '/v1/tokens/tok_%'],
      ['GET', '/v1/keys/%C0%AF'], // an overlong UTF-8 encoding of '/'
      ['GET', '/v1/keys/%FF'],
      ['GET', '/v1/health/%'],
      ['GET', '/v1/%E0%A4%A'],
    ] as const) {
      const answer = await raw(d.socket, method, path, auth);
      assert.equal(answer.status, 400, `${method} ${path}`);
      assert.equal(errorOf(answer).code, 'EINVAL', `${method} ${path}`);
    }
  });

  test('malformed percent-encoding in a query is 400 EINVAL, on every route', async () => {
    const auth = { authorization: `Bearer ${d.adminToken}` };
    for (const path of [
      '/v1/keys?app=%E0%A4%A',
      '/v1/keys?%ZZ=a',
      `/v1/keys/${keyA.id}/public?format=%`,
      '/v1/audit?count=%FF',
      '/v1/health?x=%E0%A4%A', // a route without query parameters still gets a well-formed query or 400
    ]) {
      const answer = await raw(d.socket, 'GET', path, auth);
      assert.equal(answer.status, 400, path);
      assert.equal(errorOf(answer).code, 'EINVAL', path);
    }
    // Well-formed escapes decode: app=%61 is app=a.
    const listed = await raw(d.socket, 'GET', '/v1/keys?app=%61', auth);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      (JSON.parse(listed.body.toString()) as { keys: KeyInfo[] }).keys.map((k) => k.id),
      [keyA.id],
    );
  });

  test("another app's key answers exactly like a key that does not exist: 404, same body, same headers", async () => {
    const auth = { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' };
    const sign = JSON.stringify({ data: 'aGk=' });
    for (const [method, suffix, body] of [
      ['GET', '', undefined],
      ['GET', '/public', undefined],
      ['POST', '/sign', sign],
      ['POST', '/rotate', '{}'],
      ['POST', '/revoke', JSON.stringify({ reason: 'x' })],
    ] as const) {
      const other = await raw(d.socket, method, `/v1/keys/${keyB.id}${suffix}`, auth, body);
      const unknown = await raw(d.socket, method, `/v1/keys/${UNKNOWN_ID}${suffix}`, auth, body);
      const label = `${method} …${suffix}`;
      assert.equal(other.status, 404, label);
      assert.equal(unknown.status, 404, label);
      assert.deepEqual(comparable(other), comparable(unknown), label);
      assert.equal(
        other.body.toString().replace(keyB.id, '<id>'),
        unknown.body.toString().replace(UNKNOWN_ID, '<id>'),
        label,
      );
      assert.ok(!other.body.toString().includes('"b"') && !other.body.toString().includes("'b'"), label);
    }
    // The key is still there for a token that may see it.
    assert.equal((await d.admin.getKey(keyB.id)).app, 'b');
  });

  test('an operation outside the token is still 403 (it does not depend on the key)', async () => {
    const { token } = await d.admin.tokens.create({ apps: ['a'], ops: ['verify'] });
    for (const id of [keyA.id, keyB.id, UNKNOWN_ID]) {
      const answer = await raw(d.socket, 'POST', `/v1/keys/${id}/sign`, {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      });
      assert.equal(answer.status, 403);
      assert.equal(errorOf(answer).message, "this token may not perform 'sign'");
    }
  });

  test('an out-of-scope request with a 20 MiB body is refused before the body is read', async () => {
    const declared = 20 * 1024 * 1024;
    const firstChunk = 64 * 1024;
    for (const id of [keyB.id, UNKNOWN_ID]) {
      const socket = connect(d.socket);
      await new Promise<void>((done, fail) => {
        socket.once('connect', done);
        socket.once('error', fail);
      });
      let answer = '';
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString('latin1');
      });
      socket.on('error', () => {}); // the daemon closes the connection; a late write may see EPIPE
      socket.write(
        `POST /v1/keys/${id}/seal HTTP/1.1\r\nHost: coffer\r\nAuthorization: Bearer ${tokenA}\r\n` +
          `Content-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`,
      );
      socket.write(Buffer.alloc(firstChunk, 0x61));
      // Only 64 KiB of 20 MiB were sent: an answer can only come from a daemon that did not wait for the rest.
      const deadline = Date.now() + 10_000;
      while (!answer.includes('\r\n\r\n') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      socket.destroy();
      assert.match(answer, /^HTTP\/1\.1 404 /, `no answer before the upload finished (key ${id})`);
      assert.match(answer, /connection: close/i);
      assert.match(answer, /"code":"ENOENT"/);
    }
  });
});
