// Sync server benchmark (SPEC §17.8), as ratios measured side by side on loopback over SQLite:
//   - the digest check (one `ranges` round trip with the whole-account digest) on 100 000 records
//     against the same on 1 000 records — the per-account manifest cache should make them alike;
//   - compare-and-swap writes (one record per request) against bare `GET /health` round trips;
//   - push latency (write → event at another device) against the write's own round trip.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { canonicalJson } from '../core/encoding.js';
import { HttpSyncTransport } from '../sync/http-transport.js';
import { recordHash } from '../sync/manifest.js';
import { SyncServer } from '../sync/server/server.js';
import { fromWire } from '../sync/wire-record.js';
import { tempDir } from '../testing/keystore.js';
import { circleOf, makeTestDevice, manifestOf, testRecord } from '../testing/sync-transport-suite.js';
import type { BenchRow } from './harness.js';

const UNLIMITED = { perDevice: { rate: 0, burst: 0 }, perAccount: { rate: 0, burst: 0 } };

function p(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] as number;
}
const median = (xs: number[]) =>
  p(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

/** An account with `count` records, written straight into the store (the HTTP path is measured below). */
async function filledAccount(server: SyncServer, count: number) {
  const device = makeTestDevice(`acct-${count}-${randomUUID().slice(0, 8)}`);
  const t = new HttpSyncTransport({ url: server.url, signer: device.signer });
  await t.createAccount(device.signer.accountId, circleOf(1, [device]));
  const records = Array.from({ length: count }, () => testRecord({ gencount: 1 }));
  const who = { accountId: device.signer.accountId, deviceId: device.signer.deviceId };
  for (let i = 0; i < records.length; i += 1000) {
    const puts = records.slice(i, i + 1000).map((record) => ({
      record,
      ifGencount: 0,
      wire: canonicalJson(record),
      hash: recordHash(fromWire(record)),
    }));
    await server.store.putRecords(who, puts);
  }
  return { t, device, digest: manifestOf(records).digest() };
}

export async function benchSyncServer(): Promise<BenchRow[]> {
  const dir = tempDir('coffer-bench-sync-');
  const server = await SyncServer.start({ store: `sqlite:${join(dir.path, 'sync.db')}`, limits: UNLIMITED });
  try {
    // ── digest check: 100 000 vs 1 000 records ───────────────────────────────────────────────────
    const large = await filledAccount(server, 100_000);
    const small = await filledAccount(server, 1_000);
    const check = async (a: typeof large) => {
      const started = performance.now();
      const [answer] = await a.t.ranges([{ prefix: '', fingerprint: a.digest }]);
      if (answer?.result !== 'same') throw new Error('the digests differ');
      return performance.now() - started;
    };
    const coldLarge = await check(large);
    await check(small);
    const times = { large: [] as number[], small: [] as number[] };
    for (let i = 0; i < 300; i++) {
      times.large.push(await check(large));
      times.small.push(await check(small));
    }
    // One write to the large account: the next check applies one changed row and rebuilds the
    // sorted manifest (the cost a busy 100 000-record account pays per write, reported, not hidden).
    await large.t.putRecords([{ record: testRecord({ gencount: 1 }), ifGencount: 0 }]);
    const afterWriteStarted = performance.now();
    await large.t.ranges([{ prefix: '', fingerprint: large.digest }]);
    const afterWrite = performance.now() - afterWriteStarted;
    const digestRow: BenchRow = {
      group: 'sync',
      name: 'sync digest check round trip, 100 000 records',
      opsPerSec: 1000 / median(times.large),
      baseline: 'the same on 1 000 records',
      baselineOpsPerSec: 1000 / median(times.small),
      ratio: median(times.small) / median(times.large),
      goal: 0.5,
      extra: {
        'p50 ms (100 000)': Number(median(times.large).toFixed(3)),
        'p50 ms (1 000)': Number(median(times.small).toFixed(3)),
        'first check ms (100 000, builds the manifest)': Number(coldLarge.toFixed(1)),
        'check after one write ms (100 000)': Number(afterWrite.toFixed(1)),
      },
    };

    // ── CAS writes vs bare round trips ───────────────────────────────────────────────────────────
    const writer = small.t;
    const health = async () => {
      const started = performance.now();
      await fetch(new URL('/health', server.url)).then((r) => r.arrayBuffer());
      return performance.now() - started;
    };
    const write = async () => {
      const started = performance.now();
      const [result] = await writer.putRecords([{ record: testRecord({ gencount: 1 }), ifGencount: 0 }]);
      if (!result?.ok) throw new Error('a fresh record lost its compare-and-swap');
      return performance.now() - started;
    };
    const w = { write: [] as number[], health: [] as number[] };
    for (let i = 0; i < 300; i++) {
      w.write.push(await write());
      w.health.push(await health());
    }
    const casRow: BenchRow = {
      group: 'sync',
      name: 'sync CAS write (1 record, fsync’d) per request',
      opsPerSec: 1000 / median(w.write),
      baseline: 'GET /health round trip',
      baselineOpsPerSec: 1000 / median(w.health),
      ratio: median(w.health) / median(w.write),
      extra: {
        'write p50 ms': Number(median(w.write).toFixed(3)),
        'health p50 ms': Number(median(w.health).toFixed(3)),
      },
    };

    // ── push latency ─────────────────────────────────────────────────────────────────────────────
    const other = makeTestDevice(small.device.signer.accountId);
    await small.t.putCircle(1, circleOf(2, [small.device, other]));
    const listener = new HttpSyncTransport({ url: server.url, signer: other.signer });
    const waiting = new Map<string, () => void>();
    const stop = await listener.subscribe((event) => waiting.get(event.uuid)?.());
    const push: number[] = [];
    const roundTrip: number[] = [];
    for (let i = 0; i < 200; i++) {
      const record = testRecord({ gencount: 1 });
      const started = performance.now();
      const heard = new Promise<number>((resolve) =>
        waiting.set(record.uuid, () => resolve(performance.now())),
      );
      await writer.putRecords([{ record, ifGencount: 0 }]);
      roundTrip.push(performance.now() - started);
      push.push((await heard) - started);
      waiting.delete(record.uuid);
    }
    stop();
    await listener.close();
    const pushRow: BenchRow = {
      group: 'sync',
      name: 'sync push latency (write → event at another device)',
      opsPerSec: 1000 / median(push),
      baseline: 'the write’s own round trip',
      baselineOpsPerSec: 1000 / median(roundTrip),
      ratio: median(roundTrip) / median(push),
      extra: {
        'push p50 ms': Number(median(push).toFixed(3)),
        'write p50 ms': Number(median(roundTrip).toFixed(3)),
      },
    };
    await large.t.close();
    await small.t.close();
    return [digestRow, casRow, pushRow];
  } finally {
    await server.close();
    dir.remove();
  }
}
