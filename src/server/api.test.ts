// The daemon's API end to end over its Unix socket, through the real client: every key route,
// operation and batch, raw octet-stream seal/unseal up to the 16 MiB bound, request bounds, the error
// shape and statuses, and that what the daemon returns is what the library would (signatures verify
// with node:crypto, sealed blobs unseal in-process after the daemon closes).
import assert from 'node:assert/strict';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Keystore } from '../core/keystore.js';
import { passphrase } from '../testing/keystore.js';
import { type DaemonFixture, PASSPHRASE, startDaemon } from './fixture.js';

const te = new TextEncoder();

/** A raw HTTP exchange over the socket, to check exact statuses, headers and error bodies. */
function raw(
  socket: string,
  method: string,
  path: string,
  options: { body?: Buffer | string; headers?: Record<string, string | number> } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((done, fail) => {
    const req = request({ socketPath: socket, method, path, headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', fail);
    req.end(options.body);
  });
}

describe('daemon API over the Unix socket', () => {
  let d: DaemonFixture;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.cleanup();
  });

  test('health, status, openapi need no token; status says unlocked with the keystore id', async () => {
    const anonymous = d.client();
    assert.deepEqual(await anonymous.health(), { ok: true });
    const status = await anonymous.status();
    assert.equal(status.locked, false);
    assert.match(status.keystoreId, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(typeof status.version, 'string');
    const doc = await anonymous.openapi();
    assert.equal(doc.openapi, '3.1.0');
  });

  test('creating a key or a token answers 201 Created', async () => {
    const headers = { authorization: `Bearer ${d.adminToken}`, 'content-type': 'application/json' };
    const key = await raw(d.socket, 'POST', '/v1/keys', {
      headers,
      body: JSON.stringify({ app: 'created', purpose: 'p', algorithm: 'ed25519' }),
    });
    assert.equal(key.status, 201);
    assert.equal((JSON.parse(key.body.toString()) as { app: string }).app, 'created');
    const token = await raw(d.socket, 'POST', '/v1/tokens', {
      headers,
      body: JSON.stringify({ apps: ['created'], ops: ['read'] }),
    });
    assert.equal(token.status, 201);
    assert.match((JSON.parse(token.body.toString()) as { token: string }).token, /^coffer_/);
    const list = await raw(d.socket, 'GET', '/v1/keys?app=created', { headers });
    assert.equal(list.status, 200);
  });

  test('the socket is mode 0600', async () => {
    const { statSync } = await import('node:fs');
    assert.equal(statSync(d.socket).mode & 0o777, 0o600);
  });

  test('key lifecycle: create, get, list, rotate, suspend, resume, revoke, destroy', async () => {
    const key = await d.admin.createKey({ app: 'billing', purpose: 'invoices', algorithm: 'ed25519' });
    assert.match(key.id, /^k_/);
    assert.equal(key.state, 'active');
    assert.equal((await d.admin.getKey(key.id)).id, key.id);
    const listed = await d.admin.listKeys({ app: 'billing' });
    assert.ok(listed.some((k) => k.id === key.id));
    assert.equal((await d.admin.rotate(key.id, { reason: 'scheduled' })).primaryVersion, 2);
    assert.equal((await d.admin.suspend(key.id, { reason: 'audit' })).state, 'suspended');
    await assert.rejects(d.admin.sign(key.id, te.encode('x')), { code: 'ESTATE' });
    assert.equal((await d.admin.resume(key.id)).state, 'active');
    await assert.rejects(d.admin.resume(key.id), (e: { code: string }) =>
      ['EALREADY', 'ESTATE'].includes(e.code),
    );
    assert.equal((await d.admin.revoke(key.id, 'leaked')).state, 'compromised');
    await assert.rejects(d.admin.sign(key.id, te.encode('x')), { code: 'EKEYREVOKED' });
    assert.equal((await d.admin.destroy(key.id, { reason: 'gone' })).state, 'destroyed');
    await assert.rejects(d.admin.getKey('k_aaaaaaaaaaaaaaaaaaaaaaaaaa'), { code: 'ENOENT' });
    await assert.rejects(d.admin.getKey('not-a-key'), { code: 'EINVAL' });
  });

  test('sign/verify: signatures verify with node:crypto against the exported public key', async () => {
    const key = await d.admin.createKey({ app: 'web', purpose: 'jwt', algorithm: 'ed25519' });
    const data = te.encode('hello daemon');
    const { signature, version } = await d.admin.sign(key.id, data);
    assert.equal(version, 1);
    const pem = (await d.admin.publicKey(key.id, 'pem')) as string;
    assert.ok(cryptoVerify(null, data, createPublicKey(pem), signature));
    assert.equal(await d.admin.verify(key.id, data, signature), true);
    assert.equal(await d.admin.verify(key.id, te.encode('other'), signature), false);
    assert.equal(await d.admin.verify(key.id, data, signature, { version: 1 }), true);
    const rawKey = await d.admin.publicKey(key.id, 'raw');
    assert.ok(rawKey instanceof Uint8Array && rawKey.length === 32);
    const jwk = (await d.admin.publicKey(key.id, 'jwk')) as { kty: string; crv: string };
    assert.equal(jwk.kty, 'OKP');
    assert.match((await d.admin.publicKey(key.id, 'ssh')) as string, /^ssh-ed25519 /);
    const p256 = await d.admin.createKey({ app: 'web', purpose: 'tls', algorithm: 'ecdsa-p256' });
    const der = await d.admin.sign(p256.id, data, { encoding: 'der' });
    const p256Pem = (await d.admin.publicKey(p256.id, 'pem')) as string;
    assert.ok(cryptoVerify('sha256', data, createPublicKey(p256Pem), der.signature));
  });

  test('seal/unseal with AAD (JSON), rewrap, data keys; wrong AAD is EBADMSG', async () => {
    const key = await d.admin.createKey({ app: 'vault', purpose: 'docs', algorithm: 'aes-256-gcm' });
    const sealed = await d.admin.seal(key.id, te.encode('secret doc'), { aad: 'doc-1' });
    assert.deepEqual(await d.admin.unseal(key.id, sealed, { aad: 'doc-1' }), te.encode('secret doc'));
    await assert.rejects(d.admin.unseal(key.id, sealed, { aad: 'doc-2' }), { code: 'EBADMSG' });
    await d.admin.rotate(key.id);
    const rewrapped = await d.admin.rewrap(key.id, sealed, { aad: 'doc-1' });
    assert.deepEqual(await d.admin.unseal(key.id, rewrapped, { aad: 'doc-1' }), te.encode('secret doc'));
    const dk = await d.admin.generateDataKey(key.id, { includePlaintext: true });
    assert.equal(dk.plaintext?.length, 32);
    assert.deepEqual(await d.admin.unseal(key.id, dk.wrapped), dk.plaintext);
    assert.equal((await d.admin.generateDataKey(key.id)).plaintext, undefined);
  });

  test('raw octet-stream seal/unseal: 16 MiB passes, one byte more is E2BIG (413)', async () => {
    const key = await d.admin.createKey({ app: 'vault', purpose: 'big', algorithm: 'aes-256-gcm' });
    const big = new Uint8Array(16 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    const sealed = await d.admin.seal(key.id, big, { aad: 'blob', transport: 'raw' });
    const opened = await d.admin.unseal(key.id, sealed, { aad: 'blob', transport: 'raw' });
    assert.ok(Buffer.from(opened).equals(Buffer.from(big)));
    await assert.rejects(d.admin.seal(key.id, new Uint8Array(16 * 1024 * 1024 + 1), { transport: 'raw' }), {
      code: 'E2BIG',
    });
    // The raw reply is the same format as the JSON one: the daemon's JSON unseal opens a raw seal.
    const small = await d.admin.seal(key.id, te.encode('abc'), { transport: 'raw' });
    assert.deepEqual(await d.admin.unseal(key.id, small, { transport: 'json' }), te.encode('abc'));
    const r = await raw(d.socket, 'POST', `/v1/keys/${key.id}/seal`, {
      body: Buffer.from('xyz'),
      headers: {
        authorization: `Bearer ${d.adminToken}`,
        'content-type': 'application/octet-stream',
        'coffer-aad': 'not base64!',
      },
    });
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body.toString()).error.code, 'EINVAL');
  });

  test('KEM and MAC operations', async () => {
    const kem = await d.admin.createKey({ app: 'pq', purpose: 'kex', algorithm: 'x-wing' });
    const enc = await d.admin.encapsulate(kem.id);
    assert.equal(enc.ciphertext.length, 1120);
    assert.deepEqual(await d.admin.decapsulate(kem.id, enc.ciphertext), enc.sharedSecret);
    const sealedToKem = await d.admin.seal(kem.id, te.encode('pq'));
    assert.deepEqual(await d.admin.unseal(kem.id, sealedToKem), te.encode('pq'));
    const mk = await d.admin.createKey({ app: 'pq', purpose: 'mac', algorithm: 'hmac-sha256' });
    const { mac, version } = await d.admin.mac(mk.id, te.encode('m'));
    assert.equal(version, 1);
    assert.equal(await d.admin.verifyMac(mk.id, te.encode('m'), mac), true);
    assert.equal(await d.admin.verifyMac(mk.id, te.encode('n'), mac), false);
    await assert.rejects(d.admin.encapsulate(mk.id), { code: 'EPERM' });
  });

  test('batches keep order and report per-item errors; over 1000 items is E2BIG', async () => {
    const key = await d.admin.createKey({ app: 'batch', purpose: 'sig', algorithm: 'ed25519' });
    const items = Array.from({ length: 100 }, (_, i) => te.encode(`message ${i}`));
    const signed = await d.admin.signBatch(key.id, items);
    assert.equal(signed.length, 100);
    const verifyItems = signed.map((r, i) => {
      assert.ok(r.ok);
      return { data: items[i] as Uint8Array, signature: r.signature };
    });
    // Swap two signatures: exactly those two items are invalid, the others stay valid, in order.
    const swapped = [...verifyItems];
    [swapped[3], swapped[4]] = [
      { ...(swapped[3] as (typeof swapped)[0]), signature: verifyItems[4]?.signature as Uint8Array },
      { ...(swapped[4] as (typeof swapped)[0]), signature: verifyItems[3]?.signature as Uint8Array },
    ];
    const verified = await d.admin.verifyBatch(key.id, swapped);
    assert.deepEqual(
      verified.map((r) => r.ok && r.valid),
      verifyItems.map((_, i) => i !== 3 && i !== 4),
    );
    const aes = await d.admin.createKey({ app: 'batch', purpose: 'enc', algorithm: 'aes-256-gcm' });
    const sealed = await d.admin.sealBatch(aes.id, [
      { plaintext: te.encode('a'), aad: 'x' },
      { plaintext: te.encode('b') },
    ]);
    const blobs = sealed.map((r) => (r.ok ? r.sealed : new Uint8Array()));
    const opened = await d.admin.unsealBatch(aes.id, [
      { sealed: blobs[0] as Uint8Array, aad: 'x' },
      { sealed: blobs[1] as Uint8Array, aad: 'wrong' },
      { sealed: blobs[1] as Uint8Array },
    ]);
    assert.ok(opened[0]?.ok && Buffer.from(opened[0].plaintext).toString() === 'a');
    assert.ok(opened[1] && !opened[1].ok && opened[1].error.code === 'EBADMSG');
    assert.ok(opened[2]?.ok && Buffer.from(opened[2].plaintext).toString() === 'b');
    // A malformed item is that item's EINVAL, not the request's.
    const r = await raw(d.socket, 'POST', `/v1/keys/${key.id}/sign-batch`, {
      body: JSON.stringify({ items: [{ data: 'aGk=' }, { data: 42 }, { nope: 1 }] }),
      headers: { authorization: `Bearer ${d.adminToken}`, 'content-type': 'application/json' },
    });
    const results = JSON.parse(r.body.toString()).results as { ok: boolean; error?: { code: string } }[];
    assert.deepEqual(
      results.map((x) => (x.ok ? 'ok' : x.error?.code)),
      ['ok', 'EINVAL', 'EINVAL'],
    );
    await assert.rejects(
      d.admin.signBatch(
        key.id,
        Array.from({ length: 1001 }, () => te.encode('x')),
      ),
      { code: 'E2BIG' },
    );
  });

  test('error shape and statuses: 401 without/with an unknown token, 404, 400, 413, 405-style EINVAL', async () => {
    const none = await raw(d.socket, 'GET', '/v1/keys');
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="coffer"');
    assert.deepEqual(Object.keys(JSON.parse(none.body.toString()).error).sort(), ['code', 'message']);
    assert.equal(JSON.parse(none.body.toString()).error.code, 'EPERM');
    const fake = `coffer_${'A'.repeat(43)}`;
    const unknown = await raw(d.socket, 'GET', '/v1/keys', { headers: { authorization: `Bearer ${fake}` } });
    assert.equal(unknown.status, 401);
    assert.ok(!unknown.body.toString().includes(fake), 'the presented token is never echoed');
    await assert.rejects(d.client(fake).listKeys(), { code: 'EPERM' });
    const auth = { authorization: `Bearer ${d.adminToken}`, 'content-type': 'application/json' };
    assert.equal((await raw(d.socket, 'GET', '/v1/nothing', { headers: auth })).status, 404);
    const badJson = await raw(d.socket, 'POST', '/v1/keys', { body: '{nope', headers: auth });
    assert.equal(badJson.status, 400);
    const unknownField = await raw(d.socket, 'POST', '/v1/keys', {
      body: JSON.stringify({ app: 'a', purpose: 'b', algorithm: 'ed25519', colour: 'red' }),
      headers: auth,
    });
    assert.equal(unknownField.status, 400);
    assert.match(JSON.parse(unknownField.body.toString()).error.message, /unknown field 'colour'/);
    const badAlg = await raw(d.socket, 'POST', '/v1/keys', {
      body: JSON.stringify({ app: 'a', purpose: 'b', algorithm: 'rsa' }),
      headers: auth,
    });
    assert.equal(JSON.parse(badAlg.body.toString()).error.code, 'EINVAL');
    const wrongMethod = await raw(d.socket, 'DELETE', '/v1/keys', { headers: auth });
    assert.equal(wrongMethod.status, 400);
    const tooBig = await raw(d.socket, 'POST', '/v1/unlock', {
      body: Buffer.alloc(70 * 1024, 0x20),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(tooBig.status, 413);
    assert.equal(JSON.parse(tooBig.body.toString()).error.code, 'E2BIG');
    const hugeHeader = await raw(d.socket, 'GET', '/v1/health', {
      headers: { 'x-big': 'a'.repeat(20 * 1024) },
    });
    assert.equal(hugeHeader.status, 431);
    const bigSign = await d.admin.createKey({ app: 'web', purpose: 'big', algorithm: 'ed25519' });
    await assert.rejects(d.admin.sign(bigSign.id, new Uint8Array(1024 * 1024 + 1)), { code: 'E2BIG' });
  });

  test('tokens, audit and protectors through the admin API', async () => {
    const made = await d.admin.tokens.create({ name: 'ci', apps: ['web'], ops: ['sign', 'verify'] });
    assert.match(made.token, /^coffer_[A-Za-z0-9_-]{43}$/);
    const listed = await d.admin.tokens.list();
    const entry = listed.find((t) => t.id === made.id);
    assert.deepEqual(entry && { apps: entry.apps, ops: entry.ops, admin: entry.admin }, {
      apps: ['web'],
      ops: ['sign', 'verify'],
      admin: false,
    });
    assert.ok(!JSON.stringify(listed).includes(made.token));
    await d.admin.tokens.revoke(made.id);
    await assert.rejects(d.client(made.token).listKeys(), { code: 'EPERM' });
    await assert.rejects(d.admin.tokens.revoke(made.id), { code: 'ENOENT' });
    const tail = await d.admin.auditTail(50);
    assert.ok(tail.some((e) => e.event === 'token.revoke'));
    assert.ok(tail.some((e) => e.event === 'key.create'));
    const report = await d.admin.verifyAudit();
    assert.equal(report.ok, true, report.problems.join('; '));
    const protectors = await d.admin.listProtectors();
    assert.equal(protectors[0]?.type, 'passphrase');
  });

  test('lock wipes access (ELOCKED, 423); unlock again; results match the library after close', async () => {
    const key = await d.admin.createKey({ app: 'lock', purpose: 'p', algorithm: 'aes-256-gcm' });
    const sealed = await d.admin.seal(key.id, te.encode('kept'));
    assert.equal((await d.admin.lock()).locked, true);
    await assert.rejects(d.admin.getKey(key.id), { code: 'ELOCKED' });
    const r = await raw(d.socket, 'GET', '/v1/keys', {
      headers: { authorization: `Bearer ${d.adminToken}` },
    });
    assert.equal(r.status, 423);
    assert.equal((await d.admin.lock()).locked, true, 'lock is a no-op when locked');
    await assert.rejects(d.admin.unlock('wrong passphrase'), { code: 'ELOCKED' });
    assert.equal((await d.admin.unlock(PASSPHRASE)).locked, false);
    await assert.rejects(d.admin.unlock(PASSPHRASE), { code: 'EALREADY' });
    await d.server.close();
    const ks = await Keystore.open({ store: d.store, protector: passphrase(PASSPHRASE) });
    try {
      assert.deepEqual(await ks.unseal(key.id, sealed), te.encode('kept'));
      assert.equal((await ks.verifyAudit()).ok, true);
    } finally {
      await ks.close();
    }
  });
});
