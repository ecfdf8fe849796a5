// Backup benchmarks for `npm run bench` (SPEC §10): createBackup and restoreBackup throughput on a
// sqlite keystore with keys of every algorithm, in keys/s and MB/s of backup file. Passphrase
// recipient at the OWASP-floor Argon2id so the KDF does not hide the payload work.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackup, restoreBackup } from '../backup/index.js';
import { Keystore } from '../core/keystore.js';
import { type CreateKeySpec, KEY_ALGORITHMS } from '../core/types.js';
import { FAST_KDF, passphrase } from '../testing/keystore.js';
import type { BenchRow } from './harness.js';

export async function benchBackup(options: { keys?: number } = {}): Promise<BenchRow[]> {
  const count = options.keys ?? 4000;
  const dir = mkdtempSync(join(tmpdir(), 'coffer-bench-backup-'));
  const source = await Keystore.open({
    store: `sqlite:${join(dir, 'src.db')}`,
    protector: passphrase(),
    create: true,
  });
  try {
    const specs: CreateKeySpec[] = Array.from({ length: count }, (_, i) => ({
      app: `app${i % 5}`,
      purpose: 'bench',
      algorithm: KEY_ALGORITHMS[i % KEY_ALGORITHMS.length]!,
    }));
    for (let i = 0; i < count; i += 1000) await source.createKeys(specs.slice(i, i + 1000));
    const out = join(dir, 'bench.cbk');
    const start = performance.now();
    const result = await createBackup(source, { out, passphrase: 'bench', kdf: FAST_KDF });
    const backupSeconds = (performance.now() - start) / 1000;
    const target = await Keystore.open({
      store: `sqlite:${join(dir, 'dst.db')}`,
      protector: passphrase(),
      create: true,
    });
    let restoreSeconds: number;
    try {
      const restoreStart = performance.now();
      const report = await restoreBackup(target, out, { passphrase: 'bench' });
      restoreSeconds = (performance.now() - restoreStart) / 1000;
      if (report.restored.length !== count) throw new Error(`restored ${report.restored.length} of ${count}`);
    } finally {
      await target.close();
    }
    const mb = result.bytes / 1e6;
    return [
      {
        group: 'backup',
        name: `createBackup ${count} keys (all algorithms, sqlite)`,
        opsPerSec: count / backupSeconds,
        extra: {
          'keys/s': Math.round(count / backupSeconds),
          'MB/s': Number((mb / backupSeconds).toFixed(2)),
          MB: Number(mb.toFixed(2)),
        },
      },
      {
        group: 'backup',
        name: `restoreBackup ${count} keys (all algorithms, sqlite)`,
        opsPerSec: count / restoreSeconds,
        extra: {
          'keys/s': Math.round(count / restoreSeconds),
          'MB/s': Number((mb / restoreSeconds).toFixed(2)),
          MB: Number(mb.toFixed(2)),
        },
      },
    ];
  } finally {
    await source.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
