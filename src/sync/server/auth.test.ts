// Authentication of devices to the sync server (SPEC §17.8): the vector of the signed bytes, and
// the attacks the server must refuse — a response signed by one of the two keys only, a replayed
// response, an expired challenge, a response for another account or device, a device the circle
// does not list, a removed device, and requests without a live session.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { b64 } from '../../core/encoding.js';
import { keygen, sign, verify } from '../../crypto/sig.js';
import { circleOf, makeTestDevice, type TestDevice } from '../../testing/sync-transport-suite.js';
import { HttpSyncTransport } from '../http-transport.js';
import { authMessage } from './auth.js';
import { SyncServer } from './server.js';

describe('the signed bytes (SPEC §17.8 vector)', () => {
  test('authMessage, its SHA-256 and the Ed25519 signature of seed 32 × 01', () => {
    const message = authMessage({
      accountId: 'acct-1',
      deviceId: 'device-a',
      expiresAt: 1700000060000,
      nonce: b64.encode(Uint8Array.from({ length: 32 }, (_, i) => i)),
      serverId: '00112233445566778899aabbccddeeff',
    });
    assert.equal(
      Buffer.from(message.subarray(0, 20)).toString('hex'),
      '636f666665723a73796e632d617574683a763100',
    );
    assert.equal(
      Buffer.from(message.subarray(20)).toString('utf8'),
      '{"accountId":"acct-1","deviceId":"device-a","expiresAt":1700000060000,"nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","serverId":"00112233445566778899aabbccddeeff"}',
    );
    assert.equal(
      createHash('sha256').update(message).digest('hex'),
      '8e1f3291cffda9f0ca0982f5fff32524787e484055be609ceeb4af3741475c41',
    );
    const signature = sign('ed25519', new Uint8Array(32).fill(1), message);
    assert.equal(
      Buffer.from(signature).toString('hex'),
      '26b28817c3e7589880c4abfb452b31a9225e13a2ce02191b164bbe57a7eabcb3df46ee83585b3864ff592205bf8557f2d9c12f9ac40ea93cf7ee4861a8229402',
    );
    const ml = keygen('ml-dsa-65', new Uint8Array(32).fill(1));
    assert.ok(verify('ml-dsa-65', ml.publicKey, message, sign('ml-dsa-65', ml.secretKey, message)));
  });
});

interface Body {
  error: { code: string };
  token: string;
  nonce: string;
  expiresAt: number;
  serverId: string;
}

async function post(url: string, path: string, body: unknown, token?: string) {
  const res = await fetch(new URL(path, url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Body };
}

describe('authentication attacks', () => {
  let dir: string;
  let server: SyncServer;
  let clock = Date.now();
  let accountId: string;
  let devA: TestDevice;
  let devB: TestDevice;

  /** A challenge for (account, device) and the message a device would sign for it. */
  async function challenge(account: string, deviceId: string) {
    const answer = await post(server.url, '/v1/auth/challenge', { accountId: account, deviceId });
    assert.equal(answer.status, 200);
    const { nonce, expiresAt, serverId } = answer.body;
    return { nonce, message: authMessage({ accountId: account, deviceId, expiresAt, nonce, serverId }) };
  }

  async function respond(
    body: { accountId: string; deviceId: string; nonce: string },
    signatures: { ed25519: Uint8Array; mldsa65: Uint8Array },
  ) {
    return post(server.url, '/v1/auth/session', {
      ...body,
      ed25519: b64.encode(signatures.ed25519),
      mldsa65: b64.encode(signatures.mldsa65),
    });
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-sync-auth-'));
    server = await SyncServer.start({ store: `sqlite:${join(dir, 's.db')}`, now: () => clock });
    accountId = `acct-${randomBytes(4).toString('hex')}`;
    devA = makeTestDevice(accountId);
    devB = makeTestDevice(accountId);
    const t = new HttpSyncTransport({ url: server.url, signer: devA.signer });
    await t.createAccount(accountId, circleOf(1, [devA, devB]));
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('both signatures: accepted; either one alone (the other from another key, or garbage): 401', async () => {
    const intruder = makeTestDevice(accountId, devA.keys.deviceId);
    const ok = await challenge(accountId, devA.keys.deviceId);
    const good = await devA.signer.sign(ok.message);
    assert.equal(
      (await respond({ accountId, deviceId: devA.keys.deviceId, nonce: ok.nonce }, good)).status,
      200,
    );
    for (const swap of ['ed25519', 'mldsa65'] as const) {
      const c = await challenge(accountId, devA.keys.deviceId);
      const mine = await devA.signer.sign(c.message);
      const theirs = await intruder.signer.sign(c.message);
      const answer = await respond(
        { accountId, deviceId: devA.keys.deviceId, nonce: c.nonce },
        { ...mine, [swap]: theirs[swap] },
      );
      assert.equal(answer.status, 401, `a bad ${swap} signature is refused`);
      assert.equal(answer.body.error.code, 'EPERM');
    }
    const c = await challenge(accountId, devA.keys.deviceId);
    const mine = await devA.signer.sign(c.message);
    const empty = await respond(
      { accountId, deviceId: devA.keys.deviceId, nonce: c.nonce },
      { ...mine, mldsa65: new Uint8Array(0) },
    );
    assert.equal(empty.status, 401);
  });

  test('a replayed response is refused (the challenge is consumed)', async () => {
    const c = await challenge(accountId, devA.keys.deviceId);
    const signatures = await devA.signer.sign(c.message);
    const body = { accountId, deviceId: devA.keys.deviceId, nonce: c.nonce };
    assert.equal((await respond(body, signatures)).status, 200);
    assert.equal((await respond(body, signatures)).status, 401);
  });

  test('a failed attempt consumes the challenge too', async () => {
    const c = await challenge(accountId, devA.keys.deviceId);
    const signatures = await devA.signer.sign(c.message);
    const body = { accountId, deviceId: devA.keys.deviceId, nonce: c.nonce };
    assert.equal((await respond(body, { ...signatures, ed25519: new Uint8Array(64) })).status, 401);
    assert.equal((await respond(body, signatures)).status, 401);
  });

  test('an expired challenge is refused', async () => {
    const c = await challenge(accountId, devA.keys.deviceId);
    const signatures = await devA.signer.sign(c.message);
    clock += 61_000;
    try {
      assert.equal(
        (await respond({ accountId, deviceId: devA.keys.deviceId, nonce: c.nonce }, signatures)).status,
        401,
      );
    } finally {
      clock -= 61_000;
    }
  });

  test('a response for another account or another device is refused', async () => {
    // Challenge for A, answered as B (B signs): the challenge was not issued to B.
    const c = await challenge(accountId, devA.keys.deviceId);
    const asB = authMessage({
      ...JSON.parse(Buffer.from(c.message.subarray(20)).toString()),
      deviceId: devB.keys.deviceId,
    });
    assert.equal(
      (
        await respond(
          { accountId, deviceId: devB.keys.deviceId, nonce: c.nonce },
          await devB.signer.sign(asB),
        )
      ).status,
      401,
    );
    // Challenge for A in another account name.
    const other = `acct-${randomBytes(4).toString('hex')}`;
    const d = await challenge(other, devA.keys.deviceId);
    assert.equal(
      (
        await respond(
          { accountId, deviceId: devA.keys.deviceId, nonce: d.nonce },
          await devA.signer.sign(d.message),
        )
      ).status,
      401,
    );
    // A's signature over B's challenge, sent as B.
    const e = await challenge(accountId, devB.keys.deviceId);
    assert.equal(
      (
        await respond(
          { accountId, deviceId: devB.keys.deviceId, nonce: e.nonce },
          await devA.signer.sign(e.message),
        )
      ).status,
      401,
    );
  });

  test('a device the circle does not list is refused, even with valid signatures of its own', async () => {
    const stranger = makeTestDevice(accountId);
    const c = await challenge(accountId, stranger.keys.deviceId);
    const answer = await respond(
      { accountId, deviceId: stranger.keys.deviceId, nonce: c.nonce },
      await stranger.signer.sign(c.message),
    );
    assert.equal(answer.status, 401);
    // Nor can it create an account whose circle does not list it.
    const fresh = `acct-${randomBytes(4).toString('hex')}`;
    const f = await challenge(fresh, stranger.keys.deviceId);
    const signatures = await stranger.signer.sign(f.message);
    const created = await post(server.url, '/v1/accounts', {
      accountId: fresh,
      circle: circleOf(1, [devA]),
      auth: {
        deviceId: stranger.keys.deviceId,
        nonce: f.nonce,
        ed25519: b64.encode(signatures.ed25519),
        mldsa65: b64.encode(signatures.mldsa65),
      },
    });
    assert.equal(created.status, 401);
  });

  test('no session, a made-up token or an expired session: 401 with WWW-Authenticate, nothing read', async () => {
    for (const token of [undefined, 'A'.repeat(43)]) {
      const answer = await post(server.url, '/v1/records/get', { uuids: [] }, token);
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error.code, 'EPERM');
      assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    const c = await challenge(accountId, devA.keys.deviceId);
    const session = await respond(
      { accountId, deviceId: devA.keys.deviceId, nonce: c.nonce },
      await devA.signer.sign(c.message),
    );
    assert.equal((await post(server.url, '/v1/records/get', { uuids: [] }, session.body.token)).status, 200);
    clock += 16 * 60_000;
    try {
      assert.equal(
        (await post(server.url, '/v1/records/get', { uuids: [] }, session.body.token)).status,
        401,
      );
    } finally {
      clock -= 16 * 60_000;
    }
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/push`);
    const status = await new Promise<number>((resolve) =>
      ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)),
    );
    assert.equal(status, 401);
  });

  test('a removed device: its session ends at once and its socket closes with 4401', async () => {
    const gone = makeTestDevice(accountId);
    const a = new HttpSyncTransport({ url: server.url, signer: devA.signer });
    const circle = await a.getCircle();
    assert.deepEqual(await a.putCircle(circle.version, circleOf(circle.version + 1, [devA, devB, gone])), {
      ok: true,
    });
    const c = await challenge(accountId, gone.keys.deviceId);
    const session = await respond(
      { accountId, deviceId: gone.keys.deviceId, nonce: c.nonce },
      await gone.signer.sign(c.message),
    );
    assert.equal(session.status, 200);
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/push`, {
      headers: { authorization: `Bearer ${session.body.token}` },
    });
    await new Promise((resolve, reject) => ws.on('open', resolve).on('error', reject));
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    assert.deepEqual(await a.putCircle(circle.version + 1, circleOf(circle.version + 2, [devA, devB])), {
      ok: true,
    });
    assert.equal(await closed, 4401);
    assert.equal((await post(server.url, '/v1/records/get', { uuids: [] }, session.body.token)).status, 401);
    const again = await challenge(accountId, gone.keys.deviceId);
    assert.equal(
      (
        await respond(
          { accountId, deviceId: gone.keys.deviceId, nonce: again.nonce },
          await gone.signer.sign(again.message),
        )
      ).status,
      401,
    );
    await a.close();
  });
});
