// The daemon's Prometheus metrics (docs/metrics.md), scraped from real daemons after real operations:
// the text is held to the exposition format by the strict reader, every family is prefixed coffer_,
// and each counter moves exactly as the operations behind it say it must — operations by algorithm
// and outcome, storage calls by backend, unlock failures and the lockout, audit append failures (a
// damaged dir store), and who may scrape (admin, a metrics token, the tokenless loopback listener).
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createToken } from '../access/tokens.js';
import { findingsFromMetrics } from '../cli/commands/doctor-daemon.js';
import { CofferClient } from '../client/index.js';
import { Keystore } from '../core/keystore.js';
import { CofferError } from '../errors.js';
import { type DaemonFixture, PASSPHRASE, startDaemon } from '../testing/daemon.js';
import { passphrase, tempDir } from '../testing/keystore.js';
import { type RunningServer, startServer } from './index.js';
import { type MetricFamily, parseMetricsText, sampleValue } from './metrics-text.js';

async function scrape(client: CofferClient): Promise<MetricFamily[]> {
  return parseMetricsText(await client.metrics());
}

async function scrapeUrl(url: string): Promise<{ status: number; type: string; families: MetricFamily[] }> {
  const res = await fetch(url);
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    families: res.ok ? parseMetricsText(text) : [],
  };
}

const value = (families: MetricFamily[], name: string, labels: Record<string, string> = {}) =>
  sampleValue(families, name, labels) ?? 0;

describe('metrics on a daemon', () => {
  let fixture: DaemonFixture;
  before(async () => {
    fixture = await startDaemon({ server: { metricsListen: '127.0.0.1:0', workers: 1 } });
  });
  after(async () => {
    await fixture?.cleanup();
  });

  test('the scrape is well-formed exposition text, every family prefixed coffer_ with help and type', async () => {
    const text = await fixture.admin.metrics();
    const families = parseMetricsText(text);
    assert.ok(families.length >= 12, `only ${families.length} families`);
    for (const f of families) {
      assert.match(f.name, /^coffer_/, f.name);
      assert.ok(f.help.length > 10, `${f.name} has no help`);
      assert.notEqual(f.type, 'untyped', `${f.name} has no TYPE`);
    }
    for (const name of [
      'coffer_operations_total',
      'coffer_operation_duration_seconds',
      'coffer_persistence_operations_total',
      'coffer_unlock_attempts_total',
      'coffer_unlock_lockouts_total',
      'coffer_rotations_due',
      'coffer_rotations_overdue',
      'coffer_audit_append_failures_total',
      'coffer_worker_pool_queue_depth',
      'coffer_event_loop_lag_seconds',
    ])
      assert.ok(
        families.some((f) => f.name === name),
        `${name} missing`,
      );
    // The unlock of the fixture was counted, and the pool is idle.
    assert.equal(value(families, 'coffer_unlock_attempts_total', { outcome: 'ok' }), 1);
    assert.equal(value(families, 'coffer_worker_pool_queue_depth'), 0);
    assert.equal(value(families, 'coffer_locked'), 0);
  });

  test('operations are counted by operation, algorithm and outcome, with latency histograms', async () => {
    const before = await scrape(fixture.admin);
    const key = await fixture.admin.createKey({ app: 'billing', purpose: 'invoices', algorithm: 'ed25519' });
    const data = new TextEncoder().encode('invoice 7');
    for (let i = 0; i < 3; i++) await fixture.admin.sign(key.id, data);
    const { signature } = await fixture.admin.sign(key.id, data);
    assert.equal(await fixture.admin.verify(key.id, data, signature), true);
    const batch = await fixture.admin.signBatch(key.id, [data, data]);
    assert.equal(batch.length, 2);
    await fixture.admin.suspend(key.id);
    await assert.rejects(fixture.admin.sign(key.id, data), (e: CofferError) => e.code === 'ESTATE');
    await fixture.admin.resume(key.id);
    await assert.rejects(
      fixture.admin.sign('k_aaaaaaaaaaaaaaaaaaaaaaaaaa', data),
      (e: CofferError) => e.code === 'ENOENT' || e.code === 'EINVAL',
    );
    const after = await scrape(fixture.admin);
    const delta = (labels: Record<string, string>, name = 'coffer_operations_total') =>
      value(after, name, labels) - value(before, name, labels);
    // 3 + 1 single signs and 2 batch items: every item of a batch is one operation.
    assert.equal(delta({ operation: 'sign', algorithm: 'ed25519', outcome: 'ok' }), 6);
    assert.equal(delta({ operation: 'sign', algorithm: 'ed25519', outcome: 'ESTATE' }), 1);
    assert.equal(delta({ operation: 'verify', algorithm: 'ed25519', outcome: 'ok' }), 1);
    assert.equal(delta({ operation: 'create', algorithm: 'ed25519', outcome: 'ok' }), 1);
    assert.equal(delta({ operation: 'suspend', algorithm: 'ed25519', outcome: 'ok' }), 1);
    assert.equal(delta({ operation: 'resume', algorithm: 'ed25519', outcome: 'ok' }), 1);
    // The histogram saw exactly the same operations, and its +Inf bucket equals its count.
    assert.equal(
      delta(
        { operation: 'sign', algorithm: 'ed25519', outcome: 'ok' },
        'coffer_operation_duration_seconds_count',
      ),
      6,
    );
    const inf = value(after, 'coffer_operation_duration_seconds_bucket', {
      operation: 'sign',
      algorithm: 'ed25519',
      outcome: 'ok',
      le: '+Inf',
    });
    assert.equal(
      inf,
      value(after, 'coffer_operation_duration_seconds_count', {
        operation: 'sign',
        algorithm: 'ed25519',
        outcome: 'ok',
      }),
    );
    // An unknown key id never becomes a label: its algorithm is 'unknown', its id appears nowhere.
    const text = await fixture.admin.metrics();
    assert.ok(!text.includes('k_aaaaaaaaaaaaaaaaaaaaaaaaaa'));
    assert.ok(!text.includes(key.id));
    assert.ok(!text.includes('billing'));
    // Writes reached the sqlite backend and none failed.
    assert.ok(
      delta(
        { backend: 'sqlite', operation: 'write', outcome: 'ok' },
        'coffer_persistence_operations_total',
      ) >= 3,
    );
    assert.equal(
      value(after, 'coffer_persistence_operations_total', {
        backend: 'sqlite',
        operation: 'write',
        outcome: 'EUNAVAIL',
      }),
      0,
    );
    // Requests are counted by route template (never by key id).
    assert.ok(
      value(after, 'coffer_http_requests_total', { route: 'POST /v1/keys/{id}/sign', status: '200' }) >= 4,
    );
  });

  test('an admin or a metrics token may scrape; an operations token may not, nor may a metrics token sign', async () => {
    const metricsToken = await fixture.admin.tokens.create({
      name: 'prometheus',
      apps: ['*'],
      ops: ['metrics'],
    });
    const signToken = await fixture.admin.tokens.create({ apps: ['*'], ops: ['sign'] });
    const scraper = fixture.client(metricsToken.token);
    assert.ok((await scraper.metrics()).includes('coffer_operations_total'));
    const key = await fixture.admin.createKey({ app: 'web', purpose: 'jwt', algorithm: 'ed25519' });
    await assert.rejects(scraper.sign(key.id, new Uint8Array(1)), (e: CofferError) => e.code === 'EPERM');
    await assert.rejects(fixture.client(signToken.token).metrics(), (e: CofferError) => e.code === 'EPERM');
    await assert.rejects(fixture.client().metrics(), (e: CofferError) => e.code === 'EPERM');
  });

  test('the loopback metrics listener needs no token, serves only /metrics, and answers while locked', async () => {
    const url = fixture.server.metricsUrl as string;
    assert.ok(url?.startsWith('http://127.0.0.1:'), url);
    const open = await scrapeUrl(url);
    assert.equal(open.status, 200);
    assert.match(open.type, /^text\/plain; version=0\.0\.4/);
    assert.equal((await fetch(url.replace('/metrics', '/v1/status'))).status, 404);
    assert.equal((await fetch(url, { method: 'POST' })).status, 400);

    await fixture.admin.lock();
    const locked = await scrapeUrl(url);
    assert.equal(value(locked.families, 'coffer_locked'), 1);
    // While locked the rotation gauges still count, from the due times of the last key list.
    assert.equal(value(locked.families, 'coffer_rotations_due'), 0);
    const anonymous = fixture.client();
    await assert.rejects(anonymous.unlock('wrong passphrase'), (e: CofferError) => e.code === 'ELOCKED');
    await assert.rejects(anonymous.unlock('wrong again'), (e: CofferError) => e.code === 'ELOCKED');
    const failed = await scrapeUrl(url);
    assert.equal(value(failed.families, 'coffer_unlock_attempts_total', { outcome: 'wrong_passphrase' }), 2);
    assert.equal(value(failed.families, 'coffer_unlock_failures'), 2);
    assert.equal(value(failed.families, 'coffer_unlock_locked_out'), 0);
    await fixture.admin.unlock(PASSPHRASE);
    const unlocked = await scrapeUrl(url);
    assert.equal(value(unlocked.families, 'coffer_unlock_failures'), 0);
    assert.equal(value(unlocked.families, 'coffer_locked'), 0);
  });

  test('five wrong passphrases start one lockout, and a refusal during it is counted as locked_out', async () => {
    await fixture.admin.lock();
    const anonymous = fixture.client();
    for (let i = 0; i < 5; i++)
      await assert.rejects(anonymous.unlock(`wrong ${i}`), (e: CofferError) => e.code === 'ELOCKED');
    await assert.rejects(anonymous.unlock(PASSPHRASE), (e: CofferError) => e.code === 'ELOCKED');
    const url = fixture.server.metricsUrl as string;
    const { families } = await scrapeUrl(url);
    assert.equal(value(families, 'coffer_unlock_lockouts_total'), 1);
    assert.equal(value(families, 'coffer_unlock_locked_out'), 1);
    assert.equal(value(families, 'coffer_unlock_attempts_total', { outcome: 'wrong_passphrase' }), 7);
    assert.equal(value(families, 'coffer_unlock_attempts_total', { outcome: 'locked_out' }), 1);
  });
});

describe('metrics of failures on a dir store', () => {
  const dir = tempDir('coffer-metrics-');
  let server: RunningServer | undefined;
  let admin: CofferClient | undefined;
  after(async () => {
    admin?.close();
    await server?.close();
    dir.remove();
  });

  test('a failed audit append and the storage failure behind it are counted; nothing is lost', async () => {
    const root = join(dir.path, 'store');
    const store = `dir:${root}`;
    const ks = await Keystore.open({ store, protector: passphrase(PASSPHRASE), create: true });
    const { token } = await createToken(ks, { apps: ['*'], ops: ['*'], admin: true });
    await ks.close();
    server = await startServer({
      store,
      listen: '127.0.0.1:0',
      logger: false,
      handleSignals: false,
      workers: 0,
      rotation: false,
    });
    admin = new CofferClient({ url: server.url as string, token });
    await admin.unlock(PASSPHRASE);
    const key = await admin.createKey({ app: 'a', purpose: 'p', algorithm: 'aes-256-gcm' });
    const before = await scrape(admin);
    assert.equal(value(before, 'coffer_audit_append_failures_total'), 0);

    // The audit chain's head record becomes unreadable (a directory where its file was).
    const head = join(root, 'audit', 'head@');
    renameSync(head, `${head}.aside`);
    mkdirSync(head);
    const refused = await admin.rotate(key.id).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The store answers EUNAVAIL (cannot read the head): the change and its audit entry both fail.
    assert.ok(refused instanceof CofferError && refused.code === 'EUNAVAIL', String(refused));
    const failed = await scrape(admin);
    assert.equal(value(failed, 'coffer_audit_append_failures_total'), 1);
    const storageFailures = failed
      .flatMap((f) => f.samples)
      .filter(
        (s) =>
          s.name === 'coffer_persistence_operations_total' &&
          s.labels.backend === 'dir' &&
          s.labels.outcome !== 'ok',
      );
    assert.ok(
      storageFailures.some((s) => s.value > 0),
      'the failed read of the audit head is counted',
    );
    assert.equal(
      value(failed, 'coffer_operations_total', {
        operation: 'rotate',
        algorithm: 'aes-256-gcm',
        outcome: 'ok',
      }),
      0,
    );

    // `coffer doctor` reports both from this scrape.
    const findings = findingsFromMetrics(failed);
    assert.equal(findings.find((f) => f.what === 'audit log')?.ok, false);
    assert.match(findings.find((f) => f.what === 'storage dir')?.detail ?? '', /failed \(EUNAVAIL\)/);
    assert.equal(findingsFromMetrics(before).find((f) => f.what === 'storage dir')?.ok, true);

    // Repaired, the same rotation succeeds and the chain verifies: the failure changed nothing.
    rmdirSync(head);
    renameSync(`${head}.aside`, head);
    const rotated = await admin.rotate(key.id);
    assert.equal(rotated.primaryVersion, 2);
    assert.equal((await admin.verifyAudit()).ok, true);
  });
});
