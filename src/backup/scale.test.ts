// The big proof of SPEC §11: 10 000 keys of every algorithm backed up from sqlite and restored into
// a fresh keystore on PostgreSQL (a throwaway cluster started and stopped here). Every restored key
// has the same metadata and public key, and a sample per algorithm opens what the originals made.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Keystore } from '../core/keystore.js';
import { type CreateKeySpec, KEY_ALGORITHMS, type KeyAlgorithm, type KeyInfo } from '../core/types.js';
import { FAST_KDF, passphrase, tempDir, tempKeystore } from '../testing/keystore.js';
import { type PostgresCluster, startPostgres } from '../testing/postgres.js';
import { createBackup, inspectBackup, restoreBackup } from './index.js';

const TOTAL = 10_000;
const SAMPLES_PER_ALGORITHM = 8;
const SYMMETRIC = new Set<KeyAlgorithm>(['aes-256-gcm', 'xchacha20-poly1305', 'hmac-sha256']);

let cluster: PostgresCluster | undefined;
let source: Awaited<ReturnType<typeof tempKeystore>> | undefined;
let target: Keystore | undefined;
const dir = tempDir('coffer-backup-scale-');

before(async () => {
  cluster = await startPostgres();
});

after(async () => {
  await target?.close().catch(() => {});
  await source?.cleanup().catch(() => {});
  await cluster?.stop();
  dir.remove();
});

// About 330 s on a loaded 2-core machine since every write also updates the record tree (SPEC §4.1);
// the bound leaves room for CI, where the Node 20 and Node 24 runs may share the cores.
test(`${TOTAL} keys of every algorithm: sqlite → backup → PostgreSQL, same keys`, {
  timeout: 1_200_000,
}, async () => {
  const started = performance.now();
  source = await tempKeystore();
  const src = source.ks;
  const specs: CreateKeySpec[] = Array.from({ length: TOTAL }, (_, i) => ({
    app: `app${i % 7}`,
    purpose: `p${i % 3}`,
    algorithm: KEY_ALGORITHMS[i % KEY_ALGORITHMS.length]!,
  }));
  const created: KeyInfo[] = [];
  for (let i = 0; i < specs.length; i += 1000)
    created.push(...(await src.createKeys(specs.slice(i, i + 1000))));
  const createdAt = performance.now();

  // Outputs made by the originals, a sample per algorithm, from two versions where a key rotated.
  const samples: { info: KeyInfo; check: (ks: Keystore) => Promise<void> }[] = [];
  const message = new TextEncoder().encode('made before the backup');
  for (const algorithm of KEY_ALGORITHMS) {
    const keys = created.filter((k) => k.algorithm === algorithm).slice(0, SAMPLES_PER_ALGORITHM);
    for (const [index, info] of keys.entries()) {
      if (index === 0) await src.rotate(info.id);
      if (info.uses.includes('sign')) {
        const { signature, version } = await src.sign(info.id, message);
        samples.push({
          info,
          check: async (ks) => assert.equal(await ks.verify(info.id, message, signature, { version }), true),
        });
      }
      if (info.uses.includes('seal')) {
        const sealed = await src.seal(info.id, message, { aad: info.id });
        samples.push({
          info,
          check: async (ks) => assert.deepEqual(await ks.unseal(info.id, sealed, { aad: info.id }), message),
        });
      }
      if (info.uses.includes('mac')) {
        const { mac } = await src.mac(info.id, message);
        samples.push({
          info,
          check: async (ks) => assert.equal(await ks.verifyMac(info.id, message, mac), true),
        });
      }
      if (algorithm === 'x-wing') {
        const { ciphertext, sharedSecret } = await src.encapsulate(info.id);
        samples.push({
          info,
          check: async (ks) => assert.deepEqual(await ks.decapsulate(info.id, ciphertext), sharedSecret),
        });
      }
    }
  }

  const out = join(dir.path, 'all.cbk');
  const backupStart = performance.now();
  const result = await createBackup(src, { out, passphrase: 'scale test passphrase', kdf: FAST_KDF });
  const backupMs = performance.now() - backupStart;
  assert.equal(result.keyCount, TOTAL);
  assert.equal((await inspectBackup(out)).keyCount, TOTAL);

  target = await Keystore.open({ store: cluster!.url, protector: passphrase('target'), create: true });
  const restoreStart = performance.now();
  const report = await restoreBackup(target, out, { passphrase: 'scale test passphrase' });
  const restoreMs = performance.now() - restoreStart;
  assert.equal(report.restored.length, TOTAL);
  assert.deepEqual(report.failed, []);

  const byId = (a: KeyInfo, b: KeyInfo) => a.id.localeCompare(b.id);
  const [before, afterRestore] = [(await src.listKeys()).sort(byId), (await target.listKeys()).sort(byId)];
  assert.equal(afterRestore.length, TOTAL);
  assert.deepEqual(afterRestore, before);

  // Every public key of every version, compared byte for byte, 50 lookups in flight at a time.
  const asymmetric = before.filter((k) => !SYMMETRIC.has(k.algorithm));
  for (let i = 0; i < asymmetric.length; i += 50) {
    await Promise.all(
      asymmetric
        .slice(i, i + 50)
        .flatMap((k) =>
          k.versions.map(async (v) =>
            assert.deepEqual(
              await target!.publicKey(k.id, 'raw', { version: v.version }),
              await src.publicKey(k.id, 'raw', { version: v.version }),
              `${k.algorithm} ${k.id} v${v.version}`,
            ),
          ),
        ),
    );
  }
  assert.ok(samples.length >= KEY_ALGORITHMS.length * SAMPLES_PER_ALGORITHM);
  for (const sample of samples) await sample.check(target);
  const seen = new Set(samples.map((s) => s.info.algorithm));
  assert.deepEqual([...seen].sort(), [...KEY_ALGORITHMS].sort());
  console.log(
    `# ${TOTAL} keys: create ${((createdAt - started) / 1000).toFixed(1)} s, backup ${(backupMs / 1000).toFixed(1)} s ` +
      `(${(result.bytes / 1e6).toFixed(1)} MB), restore into postgres ${(restoreMs / 1000).toFixed(1)} s, ` +
      `total ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
});
