// Sync engine benchmark (SPEC §17.10): two real devices (keystores with keychains) on the in-process
// server model. Figures are round trips and bytes, which do not depend on machine load, set side by
// side with a full-download baseline in the same run (the client fetches the whole account at every
// sync, as Bitwarden's clients do): initial sync of 10 000 items; one change among N items (100 000
// by default, SYNC_BENCH_ITEMS to change) — the writer's push, the reader's pull; the same change
// found through range reconciliation when the change log lost it; and the no-change check.

import { SyncEngine } from '../sync/engine/engine.js';
import type { SyncTransport } from '../sync/transport.js';
import { memoryEngineService } from '../testing/engine-suite.js';
import { makeDevices, type TestDevice, wrapTransport } from '../testing/sync-devices.js';
import type { BenchRow } from './harness.js';

async function fill(device: TestDevice, count: number, prefix: string): Promise<void> {
  for (let start = 0; start < count; start += 1000) {
    const specs = Array.from({ length: Math.min(1000, count - start) }, (_, i) => ({
      kind: 'generic-password' as const,
      attributes: { service: `${prefix}-svc-${(start + i) % 997}`, account: `user-${start + i}` },
      secret: `password-${prefix}-${start + i}`,
    }));
    await device.ks.keychain.addMany(specs);
  }
}

/** Round trips and bytes of fetching every record of the account, page by page. */
async function fullDownload(
  transport: SyncTransport,
): Promise<{ roundTrips: number; bytes: number; ms: number }> {
  const before = { ...transport.stats };
  const started = performance.now();
  let seq = 0;
  for (;;) {
    const page = await transport.changes(seq, 1000);
    seq = page.nextSeq;
    if (!page.more) break;
  }
  const after = transport.stats;
  return {
    roundTrips: after.roundTrips - before.roundTrips,
    bytes: after.bytesDown - before.bytesDown + after.bytesUp - before.bytesUp,
    ms: performance.now() - started,
  };
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

export async function benchSync(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const large = Number(process.env.SYNC_BENCH_ITEMS ?? 100_000);
  const service = memoryEngineService();
  const set = await makeDevices(service, 2, { auditIntervalMs: 24 * 3600_000 });
  const [a, b] = set.devices as [TestDevice, TestDevice];
  try {
    // ── initial sync of 10 000 items ───────────────────────────────────────────────────────────
    await a.engine.now();
    await b.engine.now();
    await fill(a, 10_000, 'init');
    const push = await timed(() => a.engine.now());
    const pull = await timed(() => b.engine.now());
    const baseline = await fullDownload(b.transport);
    rows.push({
      group: 'sync',
      name: 'sync.now initial sync, 10 000 items (reader pull)',
      opsPerSec: (10_000 * 1000) / pull.ms,
      baseline: 'downloading the whole account once (records only)',
      baselineOpsPerSec: (10_000 * 1000) / baseline.ms,
      ratio: baseline.bytes / (pull.value.bytesDown + pull.value.bytesUp),
      extra: {
        'writer push round trips': push.value.roundTrips,
        'writer push MB up': Number((push.value.bytesUp / 1e6).toFixed(2)),
        'writer push s': Number((push.ms / 1000).toFixed(1)),
        'reader round trips': pull.value.roundTrips,
        'reader MB down': Number((pull.value.bytesDown / 1e6).toFixed(2)),
        'reader s': Number((pull.ms / 1000).toFixed(1)),
        'full download round trips': baseline.roundTrips,
        'full download MB': Number((baseline.bytes / 1e6).toFixed(2)),
      },
    });

    // ── one change among `large` items ────────────────────────────────────────────────────────
    await fill(a, large - 10_000, 'large');
    await a.engine.now();
    await b.engine.now();
    const { items } = await a.ks.keychain.find({ service: 'large-svc-5', limit: 1 });
    const target = items[0]!.id;
    await a.ks.keychain.update(target, { secret: 'changed-once' });
    const writer = await a.engine.now();
    const record = (await b.transport.getRecords([target]))[0]!;
    const itemBytes = Buffer.byteLength(JSON.stringify(record));
    b.transport.stats.roundTrips -= 1; // that look-up was for the figure, not the sync
    const reader = await timed(() => b.engine.now());
    const full = await fullDownload(b.transport);
    const readerBytes = reader.value.bytesDown + reader.value.bytesUp;
    rows.push({
      group: 'sync',
      name: `sync.now one change among ${large} items (reader)`,
      opsPerSec: 1000 / reader.ms,
      baseline: 'full download of the account (Bitwarden-style sync)',
      baselineOpsPerSec: 1000 / full.ms,
      ratio: full.bytes / readerBytes,
      extra: {
        'reader round trips (goal ≤ 2)': reader.value.roundTrips,
        'reader bytes beyond the item (goal ≤ 4096)': readerBytes - itemBytes,
        'item record bytes': itemBytes,
        'full download round trips': full.roundTrips,
        'full download MB': Number((full.bytes / 1e6).toFixed(2)),
        'writer round trips (push + signed manifest)': writer.roundTrips,
        'writer bytes up': writer.bytesUp,
      },
    });

    // ── the same change found by range reconciliation when the change log lost it ─────────────
    await a.ks.keychain.update(target, { secret: 'changed-twice' });
    await a.engine.now();
    const lossy = wrapTransport(b.transport, {
      changes: async (since, limit) => {
        const page = await b.transport.changes(since, limit);
        return { ...page, records: page.records.filter((r) => r.record.uuid !== target) };
      },
    });
    const repairEngine = new SyncEngine({
      keychain: b.ks.keychain,
      transport: lossy,
      membership: b.membership,
      auditIntervalMs: 24 * 3600_000,
    });
    const repair = await timed(() => repairEngine.now());
    const repairBytes = repair.value.bytesDown + repair.value.bytesUp;
    rows.push({
      group: 'sync',
      name: `sync.now one change among ${large} items, lost by the change log (range repair)`,
      opsPerSec: 1000 / repair.ms,
      baseline: 'full download of the account',
      baselineOpsPerSec: 1000 / full.ms,
      ratio: full.bytes / repairBytes,
      extra: {
        'round trips (log + reconciliation + fetch)': repair.value.roundTrips,
        'bytes beyond the item': repairBytes - itemBytes,
        'items pulled': repair.value.pulled,
      },
    });

    // ── no-change check ───────────────────────────────────────────────────────────────────────
    const idle = await timed(() => b.engine.now());
    rows.push({
      group: 'sync',
      name: `sync.now with nothing new, ${large} items`,
      opsPerSec: 1000 / idle.ms,
      baseline: 'full download of the account',
      baselineOpsPerSec: 1000 / full.ms,
      ratio: full.bytes / Math.max(1, idle.value.bytesDown + idle.value.bytesUp),
      extra: {
        'round trips (goal ≤ 1)': idle.value.roundTrips,
        bytes: idle.value.bytesDown + idle.value.bytesUp,
      },
    });
    return rows;
  } finally {
    await set.close();
  }
}
