// kill -9 of a sync server process during a stream of writes (SPEC §17.8: writes are durable
// before the answer): a client writes batches through a server child process until the process is
// SIGKILLed at a varying moment; a server restarted on the same store has every acknowledged write,
// at the acknowledged gencount or later, and answers a digest consistent with its records.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runAndKill, siblingScript } from '../../testing/crash.js';
import { postgresForThisFile } from '../../testing/postgres.js';
import { circleOf, makeTestDevice, manifestOf, testRecord } from '../../testing/sync-transport-suite.js';
import { freePort } from '../../testing/testscript.js';
import { HttpSyncTransport } from '../http-transport.js';
import type { WireRecord } from '../wire-record.js';
import { SyncServer } from './server.js';

const worker = siblingScript(import.meta.url, '../../testing/workers/sync-server.js');
const database = postgresForThisFile('sync_crash');
const ROUNDS = 3;

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(new URL('/health', url))).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the server child never answered /health');
}

async function crashRounds(store: string): Promise<void> {
  const device = makeTestDevice('acct-crash');
  const acked = new Map<string, WireRecord>();
  // The account is created up front, so every round's kill lands among record writes.
  const setup = await SyncServer.start({ store });
  const creator = new HttpSyncTransport({ url: setup.url, signer: device.signer });
  await creator.createAccount('acct-crash', circleOf(1, [device]));
  await creator.close();
  await setup.close();
  for (let round = 0; round < ROUNDS; round++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = runAndKill({
      script: worker,
      env: { COFFER_TEST_STORE: store, COFFER_TEST_PORT: String(port) },
      afterReadyMs: 1500 + round * 400,
      timeoutMs: 60_000,
    });
    await waitHealthy(url);
    const t = new HttpSyncTransport({ url, signer: device.signer });
    // Writes until the process dies: new records and rewrites of acknowledged ones, in batches.
    let i = 0;
    for (;;) {
      const previous = [...acked.values()][i % Math.max(1, acked.size)];
      const batch = [
        { record: testRecord({ gencount: 1 }), ifGencount: 0 },
        { record: testRecord({ gencount: 1 }), ifGencount: 0 },
        ...(previous
          ? [
              {
                record: testRecord({ uuid: previous.uuid, gencount: previous.gencount + 1 }),
                ifGencount: previous.gencount,
              },
            ]
          : []),
      ];
      i += 1;
      let results: Awaited<ReturnType<typeof t.putRecords>>;
      try {
        results = await t.putRecords(batch);
      } catch {
        break; // the kill landed
      }
      for (const [k, result] of results.entries()) if (result.ok) acked.set(result.uuid, batch[k]!.record);
    }
    const run = await child;
    assert.ok(run.killed, `the server child exited on its own: ${run.stderr}`);
    await t.close();
  }
  assert.ok(acked.size > 10, `only ${acked.size} writes were acknowledged before the kills`);
  const server = await SyncServer.start({ store });
  try {
    const t = new HttpSyncTransport({ url: server.url, signer: device.signer });
    // getRecords takes at most 1000 uuids per request (SPEC §17.8).
    const uuids = [...acked.keys()];
    const stored: WireRecord[] = [];
    for (let at = 0; at < uuids.length; at += 1000)
      stored.push(...(await t.getRecords(uuids.slice(at, at + 1000))));
    assert.equal(stored.length, acked.size, 'every acknowledged record is there');
    for (const record of stored) assert.ok(record.gencount >= acked.get(record.uuid)!.gencount);
    const all: WireRecord[] = [];
    let since = 0;
    for (;;) {
      const page = await t.changes(since, 1000);
      all.push(...page.records.map((r) => r.record));
      since = page.nextSeq;
      if (!page.more) {
        assert.equal(page.digest, manifestOf(all).digest());
        break;
      }
    }
    await t.close();
  } finally {
    await server.close();
  }
}

describe('kill -9 of the server during acknowledged writes', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-sync-crash-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('SQLite: every acknowledged write survives', async () => {
    await crashRounds(`sqlite:${join(dir, 'crash.db')}`);
  });

  test('PostgreSQL: every acknowledged write survives', async () => {
    await crashRounds(await database());
  });
});
