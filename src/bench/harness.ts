// Benchmark harness for `npm run bench`. Timings on shared machines are noisy, so every figure that
// matters is a ratio of two things measured side by side in the same run, interleaved in rounds.

export interface BenchRow {
  /** Area, e.g. 'aead', 'sig', 'keystore'. */
  group: string;
  /** What Coffer did, e.g. 'aead.encrypt aes-256-gcm 1 KiB'. */
  name: string;
  /** Operations per second of Coffer's call. */
  opsPerSec: number;
  /** What it is compared with, e.g. 'node:crypto createCipheriv'. */
  baseline?: string;
  baselineOpsPerSec?: number;
  /** opsPerSec / baselineOpsPerSec. */
  ratio?: number;
  /** The ratio the issue asks for, when there is one. */
  goal?: number;
  /** Extra figures (MB/s, latency percentiles, …). */
  extra?: Record<string, number | string>;
}

/** Runs fn repeatedly for about `ms` milliseconds and returns operations per second. */
export function opsPerSecond(fn: () => unknown, ms = 300): number {
  // Warm-up so the JIT and any caches are settled before measuring.
  const warmEnd = performance.now() + Math.min(50, ms / 4);
  while (performance.now() < warmEnd) fn();
  let count = 0;
  const start = performance.now();
  let now = start;
  const end = start + ms;
  while (now < end) {
    fn();
    count++;
    if ((count & 7) === 0 || ms > 0) now = performance.now();
  }
  return (count * 1000) / (now - start);
}

/** Async variant of opsPerSecond (awaits each call). */
export async function asyncOpsPerSecond(fn: () => Promise<unknown>, ms = 300): Promise<number> {
  const warmEnd = performance.now() + Math.min(50, ms / 4);
  while (performance.now() < warmEnd) await fn();
  let count = 0;
  const start = performance.now();
  let now = start;
  while (now < start + ms) {
    await fn();
    count++;
    now = performance.now();
  }
  return (count * 1000) / (now - start);
}

/**
 * Measures `subject` against `baseline` in alternating rounds and keeps the best round of each,
 * which is the figure least disturbed by other load on the machine.
 */
export function compare(
  subject: () => unknown,
  baseline: () => unknown,
  { rounds = 5, ms = 200 }: { rounds?: number; ms?: number } = {},
): { subject: number; baseline: number; ratio: number } {
  let bestSubject = 0;
  let bestBaseline = 0;
  for (let i = 0; i < rounds; i++) {
    bestBaseline = Math.max(bestBaseline, opsPerSecond(baseline, ms));
    bestSubject = Math.max(bestSubject, opsPerSecond(subject, ms));
  }
  return { subject: bestSubject, baseline: bestBaseline, ratio: bestSubject / bestBaseline };
}

/** Async variant of compare. */
export async function compareAsync(
  subject: () => Promise<unknown>,
  baseline: () => Promise<unknown> | unknown,
  { rounds = 5, ms = 200 }: { rounds?: number; ms?: number } = {},
): Promise<{ subject: number; baseline: number; ratio: number }> {
  let bestSubject = 0;
  let bestBaseline = 0;
  for (let i = 0; i < rounds; i++) {
    bestBaseline = Math.max(bestBaseline, await asyncOpsPerSecond(async () => baseline(), ms));
    bestSubject = Math.max(bestSubject, await asyncOpsPerSecond(subject, ms));
  }
  return { subject: bestSubject, baseline: bestBaseline, ratio: bestSubject / bestBaseline };
}

export function row(
  group: string,
  name: string,
  result: { subject: number; baseline: number; ratio: number },
  baselineName: string,
  goal?: number,
  extra?: Record<string, number | string>,
): BenchRow {
  return {
    group,
    name,
    opsPerSec: result.subject,
    baseline: baselineName,
    baselineOpsPerSec: result.baseline,
    ratio: result.ratio,
    ...(goal === undefined ? {} : { goal }),
    ...(extra === undefined ? {} : { extra }),
  };
}
