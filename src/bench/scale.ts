// Scale benchmarks for `npm run bench --only scale [--keys N]` (issue 14), each a ratio measured in
// the same run:
//   - creation: ks.createKeys in durable batches of 1 000 (one commit each) against raw
//     generateKeyPairSync of the same algorithm, Ed25519 and P-256, interleaved (goal ≥ 0.7);
//   - a keystore of N keys (default 20 000; `--keys 1000000` for the full-size run) created, opened
//     and listed page by page, with the process RSS sampled throughout: the peak of each phase
//     (create, open, list), the RSS at every 10 000 keys created and the growth per 10 000 keys over
//     the second half of the run (least squares), so a 10⁶ figure can be checked from a shorter run;
//   - opening it against opening an empty keystore, KDF excluded: the keyslot's unlock inside each
//     open (Argon2id and the master key's unwrap, traced on `coffer:protector.unlock`) is timed in
//     that open and taken off it, so the figure is what the store's size adds, not the KDF's jitter;
//   - ks.sign with a different Ed25519 key each call (cold: up to 100 000 keys in turn) against one key
//     (hot), goal ≥ 0.5;
//   - listKeys of one app among N keys against the same app's keys in a 1 000-key keystore, p50 of
//     each (goal: among N ≤ 1.5× among 1 000, shown as the ratio small / large ≥ 0.67).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { protectorUnlockChannel } from '../core/keyslots.js';
import { Keystore } from '../core/keystore.js';
import type { CreateKeySpec, KeyAlgorithm } from '../core/types.js';
import { passphrase } from '../testing/keystore.js';
import { type BenchRow, compareAsync, row } from './harness.js';

export interface ScaleBenchOptions {
  /** Keys in the large keystore (default 20 000). */
  keys?: number;
}

export const DEFAULT_SCALE_KEYS = 20_000;
/** Apps the large keystore spreads its keys over: one app holds keys / APPS of them. */
const APPS = 1000;
const BATCH = 1000;
/**
 * createKeys batch of the large store's fill. Each key's four records and its audit entry land in
 * different buckets of the record tree (SPEC §4.1), so on a large store a batch rewrites about five
 * buckets (≤ 4 KiB each) per key, read and written in one go: some 40 KiB of short-lived memory per key
 * in the batch. Batches of 250 keep that under 10 MiB (peak RSS at 10⁵ keys on Node 24: 247 MiB,
 * against 278–288 MiB with batches of 1 000); the creation-speed rows keep batches of 1 000.
 */
const FILL_BATCH = 250;
/** Opens of each store for the open figure (medians). */
const OPEN_SAMPLES = 15;
const MiB = 1024 * 1024;

const round3 = (value: number) => Number(value.toFixed(3));

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Samples RSS every 20 ms on the event loop (and at each mark) and keeps the peak, overall and per
 * phase (create, open, list), so a phase that holds memory shows apart from the one before it.
 */
class RssSampler {
  peak = process.memoryUsage.rss();
  readonly phases = new Map<string, number>();
  #phase: string | undefined;
  readonly #timer = setInterval(() => this.mark(), 20);
  mark(): number {
    const rss = process.memoryUsage.rss();
    this.peak = Math.max(this.peak, rss);
    if (this.#phase !== undefined)
      this.phases.set(this.#phase, Math.max(this.phases.get(this.#phase) ?? 0, rss));
    return rss;
  }
  /** Starts a phase: its peak counts from now on. */
  phase(name: string): void {
    this.#phase = name;
    this.phases.set(name, 0);
    this.mark();
  }
  phasePeakMiB(name: string): number {
    return Math.round((this.phases.get(name) ?? 0) / MiB);
  }
  stop(): number {
    clearInterval(this.#timer);
    this.mark();
    return this.peak;
  }
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((sum, p) => sum + p.x, 0) / n;
  const my = points.reduce((sum, p) => sum + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** RSS after every CHECKPOINT keys created, for the growth per 10 000 keys. */
const CHECKPOINT = 10_000;

function rawKeygen(alg: KeyAlgorithm): () => void {
  if (alg === 'ed25519') return () => generateKeyPairSync('ed25519');
  return () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** createKeys batches against raw keygen, alternating rounds, best round of each (harness.ts). */
async function benchCreation(root: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const algorithm of ['ed25519', 'ecdsa-p256'] as const) {
    const ks = await Keystore.open({
      store: `sqlite:${join(root, `create-${algorithm}.db`)}`,
      protector: passphrase(),
      create: true,
    });
    try {
      const raw = rawKeygen(algorithm);
      let made = 0;
      const spec = (i: number): CreateKeySpec => ({ app: `app${i % 10}`, purpose: 'create', algorithm });
      let subject = 0;
      let baseline = 0;
      await ks.createKeys(Array.from({ length: BATCH }, (_, i) => spec(i))); // warm-up
      for (let round = 0; round < 4; round++) {
        let start = performance.now();
        for (let i = 0; i < BATCH; i++) raw();
        baseline = Math.max(baseline, (BATCH * 1000) / (performance.now() - start));
        start = performance.now();
        await ks.createKeys(Array.from({ length: BATCH }, (_, i) => spec(made + i)));
        made += BATCH;
        subject = Math.max(subject, (BATCH * 1000) / (performance.now() - start));
      }
      rows.push({
        group: 'scale',
        name: `ks.createKeys ${algorithm} on sqlite, batches of ${BATCH} (one durable commit each)`,
        opsPerSec: subject,
        baseline: `generateKeyPairSync ${algorithm}`,
        baselineOpsPerSec: baseline,
        ratio: subject / baseline,
        goal: 0.7,
      });
    } finally {
      await ks.close();
    }
  }
  return rows;
}

/** Key i of the large keystore: spread over APPS apps and 4 purposes, signing and sealing keys. */
function scaleSpec(i: number): CreateKeySpec {
  return {
    app: `app${i % APPS}`,
    purpose: `p${Math.floor(i / APPS) % 4}`,
    algorithm: i % 2 === 0 ? 'ed25519' : 'aes-256-gcm',
  };
}

async function fill(
  ks: Keystore,
  indexes: number[],
  rss?: RssSampler,
  checkpoints?: { x: number; y: number }[],
): Promise<void> {
  for (let from = 0; from < indexes.length; from += FILL_BATCH) {
    await ks.createKeys(indexes.slice(from, from + FILL_BATCH).map(scaleSpec));
    const now = rss?.mark();
    const made = Math.min(from + FILL_BATCH, indexes.length);
    if (checkpoints !== undefined && now !== undefined && made % CHECKPOINT === 0) {
      checkpoints.push({ x: made, y: now });
      if (made % (10 * CHECKPOINT) === 0)
        process.stderr.write(`scale: ${made} keys created, RSS ${Math.round(now / MiB)} MiB\n`);
    }
  }
}

/** Time spent unlocking keyslots (the protector's KDF and unwrap) since the bench began. */
let protectorMs = 0;
const unlockStarts = new WeakMap<object, number>();
protectorUnlockChannel.subscribe({
  start: (context) => {
    unlockStarts.set(context, performance.now());
  },
  end: () => {},
  asyncStart: () => {},
  error: () => {},
  asyncEnd: (context) => {
    protectorMs += performance.now() - (unlockStarts.get(context) ?? performance.now());
  },
});

/** One open of `url`: its wall time with the protector's own time inside it taken off, and that time. */
async function openMs(url: string): Promise<{ ms: number; kdfMs: number }> {
  const before = protectorMs;
  const start = performance.now();
  const ks = await Keystore.open({ store: url, protector: passphrase() });
  const total = performance.now() - start;
  await ks.close();
  const kdfMs = protectorMs - before;
  return { ms: total - kdfMs, kdfMs };
}

async function listP50(ks: Keystore, app: string, count: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await ks.listKeys({ app });
    samples.push(performance.now() - start);
  }
  return median(samples);
}

/** Keys signed in turn for the cold-key row: the issue's working set, or the Ed25519 keys there are. */
const COLD_WORKING_SET = 100_000;

/**
 * Cold keys at the keystore level (after the RSS figures, which its caches would disturb): ks.sign with
 * each call the next of up to 100 000 Ed25519 keys, never the same key twice in the run — the whole miss
 * path: metadata and version records read and checked against the record tree, the secret unwrapped,
 * the KeyObject built — against ks.sign with one key (hot), in alternating rounds. Goal ≥ 0.5.
 */
async function coldSign(ks: Keystore, keys: number): Promise<BenchRow> {
  const signers: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await ks.listKeysPage({ limit: 1000, ...(cursor !== undefined ? { cursor } : {}) });
    for (const key of page.keys) if (key.algorithm === 'ed25519') signers.push(key.id);
    cursor = page.cursor;
  } while (cursor !== undefined && signers.length < COLD_WORKING_SET);
  signers.length = Math.min(signers.length, COLD_WORKING_SET);
  const message = randomBytes(64);
  const hot = signers[0]!;
  let turn = 1;
  const result = await compareAsync(
    () => ks.sign(signers[turn++ % signers.length]!, message),
    () => ks.sign(hot, message),
    { rounds: 5, ms: 300 },
  );
  return row(
    'scale',
    `ks.sign ed25519, each call the next of ${signers.length} keys (cold) among ${keys}`,
    result,
    'ks.sign with one key (hot)',
    0.5,
    { keysSigned: Math.min(turn - 1, signers.length), repeated: turn - 1 > signers.length ? 'yes' : 'no' },
  );
}

async function benchLarge(root: string, keys: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const url = `sqlite:${join(root, 'large.db')}`;
  const rss = new RssSampler();
  const checkpoints: { x: number; y: number }[] = [];
  try {
    rss.phase('create');
    let ks = await Keystore.open({ store: url, protector: passphrase(), create: true });
    const createStart = performance.now();
    try {
      await fill(
        ks,
        Array.from({ length: keys }, (_, i) => i),
        rss,
        checkpoints,
      );
    } finally {
      await ks.close();
    }
    const createMs = performance.now() - createStart;
    const memory = process.memoryUsage();
    // Growth over the second half of the run, once the bounded caches have filled.
    const growth = slope(checkpoints.slice(Math.floor(checkpoints.length / 2))) * CHECKPOINT;

    rss.phase('open');
    // Open: the large store against an empty one, interleaved, each without the KDF inside it.
    const emptyUrl = `sqlite:${join(root, 'empty.db')}`;
    await (await Keystore.open({ store: emptyUrl, protector: passphrase(), create: true })).close();
    const kdf: number[] = [];
    const large: number[] = [];
    const empty: number[] = [];
    for (let i = 0; i < OPEN_SAMPLES; i++) {
      const e = await openMs(emptyUrl);
      const l = await openMs(url);
      empty.push(e.ms);
      large.push(l.ms);
      kdf.push(e.kdfMs, l.kdfMs);
      rss.mark();
    }
    const kdfMs = median(kdf);
    const emptyMs = median(empty);
    const largeMs = median(large);
    rows.push({
      group: 'scale',
      name: `open a ${keys}-key keystore (KDF excluded)`,
      opsPerSec: 1000 / largeMs,
      baseline: 'open an empty keystore (KDF excluded)',
      baselineOpsPerSec: 1000 / emptyMs,
      ratio: emptyMs / largeMs,
      goal: 0.5,
      extra: { ms: round3(largeMs), emptyMs: round3(emptyMs), kdfMs: round3(kdfMs) },
    });

    // Listing one app: the same keys in a 1 000-key keystore are the baseline.
    const inApp = Array.from({ length: keys }, (_, i) => i).filter((i) => i % APPS === 42);
    const others: number[] = [];
    for (let i = 0; others.length < Math.max(0, 1000 - inApp.length); i++)
      if (i % APPS !== 42) others.push(i);
    const small = await Keystore.open({
      store: `sqlite:${join(root, 'small.db')}`,
      protector: passphrase(),
      create: true,
    });
    rss.phase('list');
    ks = await Keystore.open({ store: url, protector: passphrase() });
    try {
      await fill(small, [...inApp, ...others], rss);
      const listed = (await ks.listKeys({ app: 'app42' })).length;
      let smallP50 = Number.POSITIVE_INFINITY;
      let largeP50 = Number.POSITIVE_INFINITY;
      for (let round = 0; round < 3; round++) {
        smallP50 = Math.min(smallP50, await listP50(small, 'app42', 15));
        largeP50 = Math.min(largeP50, await listP50(ks, 'app42', 15));
        rss.mark();
      }
      rows.push({
        group: 'scale',
        name: `listKeys one app (${listed} keys) among ${keys} keys, p50`,
        opsPerSec: 1000 / largeP50,
        baseline: `the same app in a ${inApp.length + others.length}-key keystore, p50`,
        baselineOpsPerSec: 1000 / smallP50,
        ratio: smallP50 / largeP50,
        goal: round3(1 / 1.5),
        extra: { p50ms: round3(largeP50), smallP50ms: round3(smallP50) },
      });

      // Every key, page by page (SPEC §4.6), so memory stays bounded whatever the count.
      const listStart = performance.now();
      let seen = 0;
      let cursor: string | undefined;
      do {
        const page = await ks.listKeysPage({ limit: 1000, ...(cursor !== undefined ? { cursor } : {}) });
        seen += page.keys.length;
        cursor = page.cursor;
        rss.mark();
      } while (cursor !== undefined);
      const listMs = performance.now() - listStart;
      if (seen !== keys) throw new Error(`listed ${seen} keys of ${keys}`);
      const peak = rss.stop();
      const last = checkpoints[checkpoints.length - 1];
      rows.push({
        group: 'scale',
        name: `create (batches of ${FILL_BATCH}), open and list (pages of 1000) ${keys} keys: peak RSS per phase`,
        opsPerSec: (keys * 1000) / createMs,
        extra: {
          createSeconds: round3(createMs / 1000),
          listSeconds: round3(listMs / 1000),
          createPeakMiB: rss.phasePeakMiB('create'),
          openPeakMiB: rss.phasePeakMiB('open'),
          listPeakMiB: rss.phasePeakMiB('list'),
          peakRssMiB: Math.round(peak / MiB),
          // RSS growth per 10 000 keys created (least squares over the second half of the checkpoints)
          // and where it would take a 10⁶-key run from the last checkpoint.
          growthMiBPer10k: round3(growth / MiB),
          projected1MMiB: last
            ? Math.round((last.y + (growth * (1_000_000 - last.x)) / CHECKPOINT) / MiB)
            : 0,
          createdHeapUsedMiB: Math.round(memory.heapUsed / MiB),
          createdArrayBuffersMiB: Math.round(memory.arrayBuffers / MiB),
          node: process.version,
        },
      });
      rows.push(await coldSign(ks, keys));
    } finally {
      await small.close();
      await ks.close();
    }
  } finally {
    rss.stop();
  }
  return rows;
}

/** Runs the scale benchmarks: a minute or two at the default size, hours for a million keys. */
export async function benchScale(options: ScaleBenchOptions = {}): Promise<BenchRow[]> {
  const keys = options.keys ?? DEFAULT_SCALE_KEYS;
  if (!Number.isSafeInteger(keys) || keys < 2 * APPS)
    throw new Error(`--keys must be an integer ≥ ${2 * APPS}`);
  const root = mkdtempSync(join(tmpdir(), 'coffer-bench-scale-'));
  try {
    // The large keystore first, so its RSS is its own and not what the creation rounds left behind.
    const large = await benchLarge(root, keys);
    return [...(await benchCreation(root)), ...large];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
