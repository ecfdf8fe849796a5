// Paging benchmark (SPEC §4.6, §8.1): one page must cost what it reads, not what the store holds.
// Side by side in one run, interleaved so both sizes see the same machine load:
// - an audit page (100 entries, each checked against the chain) of a log of 100 000 entries against
//   the same of a log of 1 000: the first page going up, the first going down, and a page in the middle
//   reached by a cursor;
// - a key page (100 keys) among 100 000 keys against the same among 1 000: the first page, and a page
//   after a cursor in the middle of the listing.
// Goal for every row: the large store at most 2× slower (p50), i.e. ratio ≥ 0.5.
import { join } from 'node:path';
import { Keystore } from '../core/keystore.js';
import type { AuditPageRequest, KeyPageRequest } from '../core/surface.js';
import { passphrase, tempDir } from '../testing/keystore.js';
import type { BenchRow } from './harness.js';

const LARGE = 100_000;
const SMALL = 1_000;
const PAGE = 100;

async function open(path: string): Promise<Keystore> {
  return Keystore.open({ store: `sqlite:${path}`, protector: passphrase(), create: true });
}

async function fillAudit(ks: Keystore, entries: number): Promise<void> {
  for (let done = 0; done < entries; done += 5000) {
    const n = Math.min(5000, entries - done);
    await ks.appendAudit(
      Array.from({ length: n }, (_, i) => ({ event: 'bench.entry', details: { n: done + i } })),
    );
  }
}

async function fillKeys(ks: Keystore, keys: number): Promise<void> {
  for (let done = 0; done < keys; done += 1000) {
    const n = Math.min(1000, keys - done);
    await ks.createKeys(
      Array.from({ length: n }, (_, i) => ({
        app: `app${(done + i) % 10}`,
        purpose: 'bench',
        algorithm: 'hmac-sha256' as const,
      })),
    );
  }
}

/** The cursor after half of a listing of `total`, found by walking it once with big pages. */
async function middleCursor<P extends { cursor?: string }>(
  fetch: (limit: number, cursor?: string) => Promise<P>,
  total: number,
): Promise<string> {
  const limit = Math.min(1000, total / 2);
  let cursor: string | undefined;
  for (let i = 0; i < total / 2 / limit; i++) cursor = (await fetch(limit, cursor)).cursor;
  if (cursor === undefined) throw new Error('the listing ended before its middle');
  return cursor;
}

function p50(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function sideBySide(
  name: string,
  baseline: string,
  small: () => Promise<unknown>,
  large: () => Promise<unknown>,
  runs = 200,
): Promise<BenchRow> {
  const times = { small: [] as number[], large: [] as number[] };
  for (let i = 0; i < runs + 20; i++) {
    for (const [which, fn] of [
      ['small', small],
      ['large', large],
    ] as const) {
      const started = performance.now();
      await fn();
      if (i >= 20) times[which].push(performance.now() - started);
    }
  }
  const s = p50(times.small);
  const l = p50(times.large);
  return {
    group: 'paging',
    name,
    opsPerSec: 1000 / l,
    baseline,
    baselineOpsPerSec: 1000 / s,
    ratio: s / l,
    goal: 0.5,
    extra: {
      'p50 ms (100 000)': Number(l.toFixed(3)),
      'p50 ms (1 000)': Number(s.toFixed(3)),
      'p50 ratio 100k/1k (goal ≤ 2)': Number((l / s).toFixed(2)),
    },
  };
}

export async function benchPaging(): Promise<BenchRow[]> {
  const dir = tempDir('coffer-bench-paging-');
  const small = await open(join(dir.path, 'small.db'));
  const large = await open(join(dir.path, 'large.db'));
  try {
    await fillAudit(small, SMALL);
    await fillAudit(large, LARGE);
    await fillKeys(small, SMALL);
    await fillKeys(large, LARGE);
    const rows: BenchRow[] = [];
    const audit = (ks: Keystore, request: AuditPageRequest) => () =>
      ks.auditPage({ limit: PAGE, ...request });
    rows.push(
      await sideBySide(
        'auditPage: first page, oldest first, log of 100 000 entries',
        'the same, log of 1 000',
        audit(small, {}),
        audit(large, {}),
      ),
      await sideBySide(
        'auditPage: first page, newest first, log of 100 000 entries',
        'the same, log of 1 000',
        audit(small, { order: 'desc' }),
        audit(large, { order: 'desc' }),
      ),
    );
    const auditMiddle = async (ks: Keystore, entries: number) =>
      middleCursor((limit, cursor) => ks.auditPage({ limit, ...(cursor ? { cursor } : {}) }), entries);
    const smallAudit = await auditMiddle(small, SMALL);
    const largeAudit = await auditMiddle(large, LARGE);
    rows.push(
      await sideBySide(
        'auditPage: the page after a cursor in the middle, log of 100 000 entries',
        'the same, log of 1 000',
        audit(small, { cursor: smallAudit }),
        audit(large, { cursor: largeAudit }),
      ),
    );
    const keys = (ks: Keystore, request: KeyPageRequest) => () =>
      ks.listKeysPage({ limit: PAGE, ...request });
    const keyMiddle = async (ks: Keystore, count: number) =>
      middleCursor((limit, cursor) => ks.listKeysPage({ limit, ...(cursor ? { cursor } : {}) }), count);
    const smallKeys = await keyMiddle(small, SMALL);
    const largeKeys = await keyMiddle(large, LARGE);
    rows.push(
      await sideBySide(
        'listKeysPage: first page among 100 000 keys',
        'the same among 1 000',
        keys(small, {}),
        keys(large, {}),
      ),
      await sideBySide(
        'listKeysPage: the page after a cursor in the middle, 100 000 keys',
        'the same among 1 000',
        keys(small, { cursor: smallKeys }),
        keys(large, { cursor: largeKeys }),
      ),
    );
    return rows;
  } finally {
    await small.close();
    await large.close();
    dir.remove();
  }
}
