// The rotation scheduler inside the daemon: events reach server-sent-event subscribers and signed
// webhooks (real HTTP server on loopback), emergency rotation raises an alert, confirmation rotates,
// and shutdown ends open event streams instead of waiting for them.
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { verifyWebhookSignature } from '../rotation/webhook.js';
import { PASSPHRASE, startDaemon } from './fixture.js';
import { ROTATION_EVENT } from './routes-keys.js';

/** The reply carries every field the OpenAPI document requires, and only fields it documents. */
function assertDocumentedEvent(event: object): void {
  const documented = Object.keys(ROTATION_EVENT.properties as object);
  for (const field of ROTATION_EVENT.required as string[]) assert.ok(field in event, `has ${field}`);
  for (const field of Object.keys(event)) assert.ok(documented.includes(field), `documents ${field}`);
}

function openEvents(
  socket: string,
  token: string,
): Promise<{
  events: { event: string; data: string }[];
  close(): void;
  next(type: string): Promise<string>;
}> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: socket, path: '/v1/rotation/events', headers: { authorization: `Bearer ${token}` } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
        const events: { event: string; data: string }[] = [];
        const waiters: { type: string; done: (data: string) => void }[] = [];
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
            const event = /^event: (.*)$/m.exec(frame)?.[1];
            const data = /^data: (.*)$/m.exec(frame)?.[1];
            if (event && data) {
              events.push({ event, data });
              for (const w of waiters.filter((w) => w.type === event)) w.done(data);
            }
          }
        });
        resolve({
          events,
          close: () => req.destroy(),
          next: (type) =>
            new Promise((done) => {
              const seen = events.find((e) => e.event === type);
              if (seen) done(seen.data);
              else waiters.push({ type, done });
            }),
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('daemon: emergency rotation → alert over SSE and a signed webhook; confirmation flow; clean shutdown', async () => {
  const received: { body: string; signature: string }[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req
      .on('data', (c) => (body += c))
      .on('end', () => {
        received.push({ body, signature: String(req.headers['coffer-signature']) });
        res.end('ok');
      });
  });
  await new Promise<void>((done) => hook.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const secret = 'a webhook secret of enough length';
  // The hook server is closed even when the daemon fails to start (a leaked listener hangs the run).
  const fixture = await startDaemon({ unlock: false }).catch((error: unknown) => {
    hook.close();
    throw error;
  });
  try {
    await fixture.restart({ rotation: { webhooks: [{ url, secret }], tickIntervalMs: 100 } });
    await fixture.admin.unlock(PASSPHRASE);
    const stream = await openEvents(fixture.socket, fixture.adminToken);
    const key = await fixture.admin.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519' });
    const alert = await fixture.admin.rotation.emergency(key.id, {
      id: 'INC-1',
      description: 'laptop stolen',
    });
    assert.equal(alert.type, 'alert');
    assertDocumentedEvent(alert);
    const viaSse = JSON.parse(await stream.next('alert')) as { keyId: string; type: string };
    assert.equal(viaSse.keyId, key.id);
    const info = await fixture.admin.getKey(key.id);
    assert.equal(info.primaryVersion, 2);
    assert.equal(info.versions[0]!.state, 'compromised');
    for (let i = 0; i < 100 && !received.some((r) => r.body.includes('"alert"')); i++)
      await new Promise((r) => setTimeout(r, 50));
    const delivered = received.find((r) => r.body.includes('"alert"'));
    assert.ok(delivered, 'the webhook got the alert');
    assert.equal(verifyWebhookSignature(secret, delivered.signature, delivered.body), true);

    // A key whose policy needs confirmation: due at once (1 ms interval), rotated only on confirm.
    const held = await fixture.admin.createKey({
      app: 'a',
      purpose: 'p',
      algorithm: 'aes-256-gcm',
      rotation: { intervalMs: 1, requireConfirmation: true },
    });
    await stream.next('awaiting_confirmation');
    assert.equal((await fixture.admin.getKey(held.id)).primaryVersion, 1);
    const rotated = await fixture.admin.rotation.confirm(held.id);
    assert.equal(rotated.type, 'rotated');
    assertDocumentedEvent(rotated);
    assert.equal((await fixture.admin.getKey(held.id)).primaryVersion, 2);
    // Nothing awaits confirmation on a key without such a policy: refused, not rotated.
    await assert.rejects(fixture.admin.rotation.confirm(key.id), { code: 'ESTATE' });
    await assert.rejects(fixture.client('coffer_bogus').rotation.emergency(key.id, { description: 'x' }), {
      code: 'EPERM',
    });
    // Both routes need the token's 'rotate' operation, not just any token of the key's app.
    const reader = await fixture.admin.tokens.create({ apps: ['a'], ops: ['read'] });
    await assert.rejects(fixture.client(reader.token).rotation.confirm(held.id), { code: 'EPERM' });
    await assert.rejects(fixture.client(reader.token).rotation.emergency(key.id, { description: 'x' }), {
      code: 'EPERM',
    });
    assert.equal((await fixture.admin.getKey(key.id)).primaryVersion, 2);

    const started = Date.now();
    await fixture.server.close(); // ends the open event stream instead of waiting 10 s for it
    assert.ok(Date.now() - started < 5000);
    stream.close();
  } finally {
    await fixture.cleanup();
    hook.close();
  }
});

test('daemon without a scheduler: rotation routes answer EUNAVAIL instead of acting', async () => {
  const fixture = await startDaemon({ unlock: false });
  try {
    await fixture.restart({ rotation: false });
    await fixture.admin.unlock(PASSPHRASE);
    const key = await fixture.admin.createKey({ app: 'a', purpose: 'p', algorithm: 'ed25519' });
    await assert.rejects(fixture.admin.rotation.emergency(key.id, { description: 'x' }), {
      code: 'EUNAVAIL',
    });
    await assert.rejects(fixture.admin.rotation.confirm(key.id), { code: 'EUNAVAIL' });
    await assert.rejects(openEvents(fixture.socket, fixture.adminToken), /status 503/);
    assert.equal((await fixture.admin.getKey(key.id)).primaryVersion, 1);
  } finally {
    await fixture.cleanup();
  }
});
