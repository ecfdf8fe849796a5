// Operation of the sync server (SPEC §17.8 "Limits and operation"): rate limits answer 429 ERATE
// with Retry-After, bodies over the bound are E2BIG, a shutdown lets a request in flight finish and
// closes push sockets with 1001, and HTTPS/WSS work with a private CA.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { circleOf, makeTestDevice, testRecord } from '../../testing/sync-transport-suite.js';
import { HttpSyncTransport } from '../http-transport.js';
import { SyncServer } from './server.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'coffer-sync-ops-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function account(url: string, options: { ca?: string } = {}) {
  const device = makeTestDevice(`acct-${Math.random().toString(16).slice(2, 10)}`);
  const t = new HttpSyncTransport({ url, signer: device.signer, ...options });
  await t.createAccount(device.signer.accountId, circleOf(1, [device]));
  return { device, t };
}

describe('limits', () => {
  test('a device over its rate gets 429 ERATE with Retry-After; another device is not affected', async () => {
    const server = await SyncServer.start({
      store: `sqlite:${join(dir, 'rate.db')}`,
      limits: { perDevice: { rate: 1, burst: 3 }, perAccount: { rate: 1000, burst: 1000 } },
    });
    try {
      const { t } = await account(server.url);
      const other = await account(server.url);
      let refused: { code?: string; retryAfterSeconds?: number } | undefined;
      for (let i = 0; i < 6 && refused === undefined; i++)
        await t.getRecords([testRecord({ gencount: 1 }).uuid]).catch((error) => {
          refused = error;
        });
      assert.equal(refused?.code, 'ERATE');
      assert.ok((refused?.retryAfterSeconds ?? 0) >= 1);
      await other.t.getCircle();
    } finally {
      await server.close();
    }
  });

  test('the unauthenticated routes are limited per client address', async () => {
    const server = await SyncServer.start({
      store: `sqlite:${join(dir, 'addr.db')}`,
      limits: { perAddress: { rate: 1, burst: 2 } },
    });
    try {
      const joiner = new HttpSyncTransport({ url: server.url });
      const codes: string[] = [];
      for (let i = 0; i < 4; i++)
        await joiner.takeJoinReply('0'.repeat(64)).catch((error: { code: string }) => codes.push(error.code));
      assert.deepEqual(codes, ['ENOENT', 'ENOENT', 'ERATE', 'ERATE']);
    } finally {
      await server.close();
    }
  });

  test('a body over the bound is 413 E2BIG and nothing is stored', async () => {
    const server = await SyncServer.start({
      store: `sqlite:${join(dir, 'big.db')}`,
      limits: { maxBodyBytes: 8192 },
    });
    try {
      const { t } = await account(server.url);
      const records = Array.from({ length: 60 }, () => testRecord({ gencount: 1 }));
      await assert.rejects(
        t.putRecords(records.map((record) => ({ record, ifGencount: 0 }))),
        (error: { code?: string }) => error.code === 'E2BIG',
      );
      assert.deepEqual((await t.changes(0)).records, []);
    } finally {
      await server.close();
    }
  });
});

describe('graceful shutdown', () => {
  test('a request in flight finishes; push sockets close with 1001; new connections are refused', async () => {
    const server = await SyncServer.start({ store: `sqlite:${join(dir, 'stop.db')}` });
    const { device, t } = await account(server.url);
    const record = testRecord({ gencount: 1 });
    const body = Buffer.from(JSON.stringify({ puts: [{ record, ifGencount: 0 }] }));
    // The raw request needs a token: sign in as the device through the public API of the server.
    const rawToken = await signIn(server.url, device);
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/push`, {
      headers: { authorization: `Bearer ${rawToken}` },
    });
    await new Promise((resolve, reject) => ws.on('open', resolve).on('error', reject));
    const wsClosed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        new URL('/v1/records/put', server.url),
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': body.length,
            authorization: `Bearer ${rawToken}`,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, 10));
      setTimeout(() => req.end(body.subarray(10)), 300);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = server.close();
    const done = await answer;
    assert.equal(done.status, 200, done.body);
    await closing;
    assert.equal(await wsClosed, 1001);
    await assert.rejects(fetch(new URL('/health', server.url)));
    await t.close();
    // The write that was in flight is stored: a server on the same file has it.
    const again = await SyncServer.start({ store: `sqlite:${join(dir, 'stop.db')}` });
    try {
      const reader = new HttpSyncTransport({ url: again.url, signer: device.signer });
      assert.deepEqual(await reader.getRecords([record.uuid]), [record]);
    } finally {
      await again.close();
    }
  });
});

/** Challenge → both signatures → session token, over plain fetch. */
async function signIn(url: string, device: ReturnType<typeof makeTestDevice>): Promise<string> {
  const { authMessage } = await import('./auth.js');
  const { b64 } = await import('../../core/encoding.js');
  const { accountId, deviceId } = device.signer;
  const c = (await (
    await fetch(new URL('/v1/auth/challenge', url), {
      method: 'POST',
      body: JSON.stringify({ accountId, deviceId }),
    })
  ).json()) as { nonce: string; expiresAt: number; serverId: string };
  const signatures = await device.signer.sign(authMessage({ accountId, deviceId, ...c }));
  const s = (await (
    await fetch(new URL('/v1/auth/session', url), {
      method: 'POST',
      body: JSON.stringify({
        accountId,
        deviceId,
        nonce: c.nonce,
        ed25519: b64.encode(signatures.ed25519),
        mldsa65: b64.encode(signatures.mldsa65),
      }),
    })
  ).json()) as { token: string };
  return s.token;
}

describe('TLS', () => {
  test('HTTPS and WSS with a certificate the client trusts through `ca`', async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const made = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    assert.equal(made.status, 0, String(made.stderr));
    const server = await SyncServer.start({
      store: `sqlite:${join(dir, 'tls.db')}`,
      tls: { cert: readFileSync(cert), key: readFileSync(key) },
    });
    try {
      assert.match(server.url, /^https:/);
      const ca = readFileSync(cert, 'utf8');
      const { t } = await account(server.url, { ca });
      const events: string[] = [];
      const stop = await t.subscribe((e) => events.push(e.uuid));
      const record = testRecord({ gencount: 1 });
      await t.putRecords([{ record, ifGencount: 0 }]);
      for (let i = 0; i < 200 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(events, [record.uuid]);
      stop();
      // Without the CA the certificate is refused.
      const untrusting = new HttpSyncTransport({ url: server.url });
      await assert.rejects(
        untrusting.takeJoinReply('0'.repeat(64)),
        (e: { code?: string }) => e.code === 'EUNAVAIL',
      );
    } finally {
      await server.close();
    }
  });
});
