// The daemon as a process and a network service: graceful shutdown on SIGTERM in a child process
// (an in-flight request finishes, the store closes cleanly, the socket is removed), structured logs
// that never carry a passphrase, token or plaintext, the socket directory rule, and TCP with TLS.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { CofferClient } from '../client/index.js';
import { Keystore } from '../core/keystore.js';
import { procStat } from '../proc-stat.js';
import { makeStore, PASSPHRASE, startDaemon } from '../testing/daemon.js';
import { passphrase, tempDir } from '../testing/keystore.js';
import { startServer } from './index.js';

const te = new TextEncoder();

/** User + system CPU time of a process so far, in ms (utime, stime at 100 ticks/s). */
function cpuMsOf(pid: number): number {
  const fields = procStat(pid)!;
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

describe('daemon process and service', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test('SIGTERM: the in-flight unlock finishes, then the daemon closes the store and exits 0', async () => {
    const dir = tempDir('coffer-sigterm-');
    cleanups.push(() => dir.remove());
    chmodSync(dir.path, 0o700);
    const { store } = await makeStore(dir);
    const socket = join(dir.path, 'd.sock');
    const child = spawn(
      process.execPath,
      [new URL('../testing/workers/serve.js', import.meta.url).pathname, JSON.stringify({ store, socket })],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        detached: true,
      },
    );
    cleanups.push(() => {
      if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
    });
    let out = '';
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    await new Promise<void>((ready, fail) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('coffer daemon listening')) ready();
      });
      child.once('exit', () => fail(new Error(`daemon exited early: ${out}`)));
    });
    // SIGTERM only once the daemon is working on the unlock: a fixed 60 ms sleep let a loaded machine
    // signal before the request arrived, and the daemon rightly closed the idle connection (EPIPE).
    // The daemon's CPU time tells: first let it settle after start (its worker pool loads after
    // "listening"), then wait for the climb the unlock's KDF makes.
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    let settled = cpuMsOf(child.pid!);
    for (let round = 0; round < 100; round++) {
      await sleep(100);
      const now = cpuMsOf(child.pid!);
      if (now === settled) break;
      settled = now;
    }
    const client = new CofferClient({ socket });
    let answered = false;
    const unlocking = client.unlock(PASSPHRASE).finally(() => {
      answered = true;
    });
    for (let waited = 0; cpuMsOf(child.pid!) - settled < 20 && waited < 10_000; waited += 2) await sleep(2);
    assert.equal(answered, false, 'the unlock was answered before SIGTERM: nothing was in flight');
    child.kill('SIGTERM');
    const status = await unlocking;
    assert.equal(status.locked, false, 'the request in flight at SIGTERM was answered');
    assert.equal(await exited, 0);
    client.close();
    assert.equal(existsSync(socket), false, 'socket removed');
    assert.match(out, /"msg":"stopped"/);
    await assert.rejects(new CofferClient({ socket }).health(), { code: 'EUNAVAIL' });
    const ks = await Keystore.open({ store, protector: passphrase(PASSPHRASE) });
    try {
      const tail = await ks.auditTail(5);
      assert.ok(tail.some((e) => e.event === 'keystore.unlock' && e.actor === 'daemon'));
      assert.equal((await ks.verifyAudit()).ok, true);
    } finally {
      await ks.close();
    }
  });

  test('at debug, logs are JSON lines per request and contain no passphrase, token or plaintext', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const d = await startDaemon({ logger: pino({ level: 'debug' }, sink) });
    cleanups.push(() => d.cleanup());
    const plaintext = 'TOP-SECRET-PLAINTEXT-4711';
    const key = await d.admin.createKey({ app: 'log', purpose: 'p', algorithm: 'aes-256-gcm' });
    const sealed = await d.admin.seal(key.id, te.encode(plaintext), { aad: 'aad-marker-xyz' });
    await d.admin.unseal(key.id, sealed, { aad: 'aad-marker-xyz' });
    const made = await d.admin.tokens.create({ apps: ['log'], ops: ['seal'] });
    await d.client(made.token).seal(key.id, te.encode(plaintext));
    await d.admin.lock();
    await assert.rejects(d.admin.unlock('wrong-passphrase-marker'), { code: 'ELOCKED' });
    await d.admin.unlock(PASSPHRASE);
    await assert.rejects(d.client(`coffer_${'B'.repeat(43)}`).listKeys(), { code: 'EPERM' });
    const log = lines.join('');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(records.filter((r) => r.msg === 'request').length >= 9);
    assert.ok(records.some((r) => r.route === 'POST /v1/keys/{id}/seal' && r.status === 200 && r.tokenId));
    assert.ok(records.some((r) => r.route === 'POST /v1/unlock' && r.code === 'ELOCKED'));
    for (const secret of [
      PASSPHRASE,
      'wrong-passphrase-marker',
      d.adminToken,
      made.token,
      'B'.repeat(43),
      plaintext,
      Buffer.from(plaintext).toString('base64'),
      'aad-marker-xyz',
      Buffer.from(sealed).toString('base64').slice(0, 24),
    ]) {
      assert.ok(!log.includes(secret), `the log must not contain ${secret.slice(0, 12)}…`);
    }
  });

  test('at info (the default), successes are not logged per request; refusals and their codes are', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const d = await startDaemon({ logger: pino({ level: 'info' }, sink) });
    cleanups.push(() => d.cleanup());
    const key = await d.admin.createKey({ app: 'log', purpose: 'p', algorithm: 'aes-256-gcm' });
    for (let i = 0; i < 5; i++) await d.admin.seal(key.id, te.encode('x'));
    await d.admin.lock();
    await assert.rejects(d.admin.unlock('wrong-passphrase-marker'), { code: 'ELOCKED' });
    await d.admin.unlock(PASSPHRASE);
    await assert.rejects(d.client(`coffer_${'B'.repeat(43)}`).listKeys(), { code: 'EPERM' });
    const made = await d.admin.tokens.create({ apps: ['other'], ops: ['seal'] });
    await assert.rejects(d.client(made.token).seal(key.id, te.encode('x')), { code: 'ENOENT' });
    const requests = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.msg === 'request');
    assert.deepEqual(
      requests.filter((r) => typeof r.status === 'number' && r.status < 400),
      [],
      'no line for a successful request at info',
    );
    assert.ok(requests.some((r) => r.route === 'POST /v1/unlock' && r.code === 'ELOCKED'));
    assert.ok(requests.some((r) => r.route === 'GET /v1/keys' && r.status === 401));
    assert.ok(
      requests.some(
        (r) => r.route === 'POST /v1/keys/{id}/seal' && r.status === 404 && r.tokenId === made.id,
      ),
    );
    // Every request, logged or not, is counted in the metrics.
    const metrics = await d.admin.metrics();
    assert.match(
      metrics,
      /coffer_http_requests_total\{route="POST \/v1\/keys\/\{id\}\/seal",status="200"\} 5/,
    );
  });

  test('socket directory writable by group or others is refused (EPERM); a live socket is EALREADY', async () => {
    const dir = tempDir('coffer-sockdir-');
    cleanups.push(() => dir.remove());
    const { store } = await makeStore(dir);
    for (const mode of [0o777, 0o770, 0o722]) {
      chmodSync(dir.path, mode);
      await assert.rejects(
        startServer({ store, socket: join(dir.path, 's.sock'), logger: false }),
        (e: Error & { code: string }) => {
          assert.equal(e.code, 'EPERM');
          assert.match(e.message, /writable by group or others.*chmod 700/);
          return true;
        },
      );
    }
    chmodSync(dir.path, 0o700);
    // A stale socket file (its daemon died) is replaced; a live one is refused.
    const stale = createServer();
    const socket = join(dir.path, 's.sock');
    await new Promise<void>((r) => stale.listen(socket, r));
    await assert.rejects(startServer({ store, socket, logger: false, handleSignals: false }), {
      code: 'EALREADY',
    });
    await new Promise<void>((r) => stale.close(() => r()));
    writeFileSync(join(dir.path, 'plain'), 'x');
    await assert.rejects(startServer({ store, socket: join(dir.path, 'plain'), logger: false }), {
      code: 'EALREADY',
    });
    const server = await startServer({ store, socket, logger: false, handleSignals: false });
    await server.close();
    await assert.rejects(startServer({ store, listen: '0.0.0.0:0', logger: false }), { code: 'EPERM' });
    await assert.rejects(startServer({ store, logger: false }), { code: 'EINVAL' });
    await assert.rejects(startServer({ store, listen: 'localhost', logger: false }), { code: 'EINVAL' });
    await assert.rejects(
      startServer({ store: `sqlite:${join(dir.path, 'absent.db')}`, socket, logger: false }),
      { code: 'ENOENT' },
    );
  });

  test('TCP with TLS: the client trusts the given CA; without it the connection is refused', async () => {
    const dir = tempDir('coffer-tls-');
    cleanups.push(() => dir.remove());
    const { store, adminToken } = await makeStore(dir);
    const cert = join(dir.path, 'cert.pem');
    const key = join(dir.path, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const server = await startServer({
      store,
      listen: '127.0.0.1:0',
      tls: { cert, key },
      logger: false,
      handleSignals: false,
    });
    cleanups.push(() => server.close());
    assert.match(server.url ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
    const { readFileSync } = await import('node:fs');
    const client = new CofferClient({
      url: server.url as string,
      token: adminToken,
      ca: readFileSync(cert, 'utf8'),
    });
    cleanups.push(() => client.close());
    assert.equal((await client.unlock(PASSPHRASE)).locked, false);
    const k = await client.createKey({ app: 'tls', purpose: 'p', algorithm: 'ed25519' });
    assert.equal(
      await client.verify(k.id, te.encode('m'), (await client.sign(k.id, te.encode('m'))).signature),
      true,
    );
    const untrusting = new CofferClient({ url: server.url as string });
    await assert.rejects(untrusting.health(), { code: 'EUNAVAIL' });
    untrusting.close();
    // Plain HTTP on loopback works too.
    const plain = await startServer({
      store: `sqlite:${join(dir.path, 'store.db')}`,
      listen: '127.0.0.1:0',
      logger: false,
      handleSignals: false,
    }).catch((e: Error) => e);
    // The store is already served by the TLS daemon in this process: sqlite allows a second handle.
    assert.ok(!(plain instanceof Error), String(plain));
    if (!(plain instanceof Error)) {
      assert.match(plain.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
      const c = new CofferClient({ url: plain.url as string });
      assert.deepEqual(await c.health(), { ok: true });
      c.close();
      await plain.close();
    }
  });
});
