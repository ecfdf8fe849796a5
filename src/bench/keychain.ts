// Keychain benchmark (SPEC §16.5 goal): `find` by service through the blind index among 100 000 items
// against the same among 1 000, side by side in one run, each query matching 10 items. The index is
// one range read plus the matches' decryption, so the larger keychain should cost at most 2× (p50).
import { join } from 'node:path';
import { Keystore } from '../core/keystore.js';
import { passphrase, tempDir } from '../testing/keystore.js';
import type { BenchRow } from './harness.js';

const PER_SERVICE = 10;

async function filled(path: string, items: number): Promise<Keystore> {
  const ks = await Keystore.open({ store: `sqlite:${path}`, protector: passphrase(), create: true });
  const services = items / PER_SERVICE;
  const batch = 1000;
  for (let start = 0; start < items; start += batch) {
    const specs = Array.from({ length: Math.min(batch, items - start) }, (_, i) => {
      const n = start + i;
      return {
        kind: 'generic-password' as const,
        attributes: { service: `svc-${n % services}`, account: `user-${n}`, label: `item ${n}` },
        secret: `password-${n}`,
      };
    });
    await ks.keychain.addMany(specs);
  }
  return ks;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

export async function benchKeychain(): Promise<BenchRow[]> {
  const dir = tempDir('coffer-bench-keychain-');
  const small = await filled(join(dir.path, 'small.db'), 1_000);
  const large = await filled(join(dir.path, 'large.db'), 100_000);
  try {
    const times: Record<'small' | 'large', number[]> = { small: [], large: [] };
    const query = async (ks: Keystore, which: 'small' | 'large', i: number) => {
      const services = which === 'small' ? 100 : 10_000;
      const started = performance.now();
      const { items } = await ks.keychain.find({ service: `svc-${(i * 7919) % services}` });
      times[which].push(performance.now() - started);
      if (items.length !== PER_SERVICE)
        throw new Error(`find returned ${items.length} items, not ${PER_SERVICE}`);
    };
    for (let i = 0; i < 50; i++) {
      await query(small, 'small', i);
      await query(large, 'large', i);
    }
    times.small.length = 0;
    times.large.length = 0;
    // Interleaved, so both sizes see the same machine load.
    for (let i = 0; i < 600; i++) {
      await query(small, 'small', i);
      await query(large, 'large', i);
    }
    const small50 = percentile(
      times.small.sort((a, b) => a - b),
      0.5,
    );
    const large50 = percentile(
      times.large.sort((a, b) => a - b),
      0.5,
    );
    return [
      {
        group: 'keychain',
        name: 'keychain.find by service, 10 of 100 000 items',
        opsPerSec: 1000 / large50,
        baseline: 'the same find among 1 000 items',
        baselineOpsPerSec: 1000 / small50,
        ratio: small50 / large50,
        goal: 0.5,
        extra: {
          'p50 ms (100 000)': Number(large50.toFixed(3)),
          'p50 ms (1 000)': Number(small50.toFixed(3)),
          'p50 ratio 100k/1k (goal ≤ 2)': Number((large50 / small50).toFixed(2)),
          'p99 ms (100 000)': Number(percentile(times.large, 0.99).toFixed(3)),
        },
      },
    ];
  } finally {
    await small.close();
    await large.close();
    dir.remove();
  }
}
