// Unlock benchmark for `npm run bench` (protectors issue): how long `ks.unlock(protector)` takes with
// each keyslot type — passphrase at the library's default Argon2id, the OS keyring (gnome-keyring on
// a private D-Bus), TPM 2.0 (swtpm through tpm2-tools) and PKCS#11 (SoftHSM2) — all started here on
// temporary directories and free loopback ports, and stopped again whatever happens. The baseline of
// each row is the protector alone (driver open + decrypt of a 32-byte key + close): the gap is what
// the keystore adds (reading the slots, the slot MAC, the durable lastUsedAt write).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keystore } from '../core/keystore.js';
import { DEFAULT_PASSPHRASE_KDF } from '../crypto/passphrase-kdf.js';
import { driverFor, type ProtectorConfig } from '../protect/configs.js';

import { type SecretServiceFixture, startSecretService } from '../testing/secret-service.js';
import { type SoftHsm, startSoftHsm } from '../testing/softhsm.js';
import { type Swtpm, startSwtpm } from '../testing/swtpm.js';
import type { BenchRow } from './harness.js';

export interface UnlockBenchOptions {
  /** Unlocks measured per protector (default 15; the passphrase row uses a third of it, at least 3). */
  samples?: number;
}

const aad = new TextEncoder().encode('coffer:bench:unlock');

function median(sorted: number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function timeEach(count: number, run: () => Promise<void>): Promise<number[]> {
  await run(); // warm-up: module loads, first D-Bus connection, JIT
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await run();
    out.push(performance.now() - start);
  }
  return out.sort((a, b) => a - b);
}

/** The protector on its own: open from the state, unwrap a 32-byte key, close. */
async function protectorAlone(config: ProtectorConfig, count: number): Promise<number[]> {
  const driver = await driverFor(config.type);
  const slotId = `bench-${config.type}`;
  const { device, state } = await driver.create(config, { slotId });
  try {
    const cipher = await device.encrypt(randomBytes(32), aad);
    // Closed first, as after a real unlock: a PKCS#11 module is finalised with its last session.
    await device.close?.();
    return await timeEach(count, async () => {
      const opened = await driver.open(config, state, { slotId });
      try {
        (await opened.decrypt(cipher, aad)).fill(0);
      } finally {
        await opened.close?.();
      }
    });
  } finally {
    await device.close?.();
    await driver.destroy?.(config, state, { slotId });
  }
}

const ms = (value: number) => Number(value.toFixed(2));

export async function benchUnlock(options: UnlockBenchOptions = {}): Promise<BenchRow[]> {
  const samples = options.samples ?? 15;
  const dir = mkdtempSync(join(tmpdir(), 'coffer-bench-unlock-'));
  let ss: SecretServiceFixture | undefined;
  let tpm: Swtpm | undefined;
  let hsm: SoftHsm | undefined;
  let ks: Keystore | undefined;
  try {
    ss = await startSecretService();
    tpm = await startSwtpm();
    hsm = await startSoftHsm([{ label: 'coffer-bench' }]);
    const token = hsm.token('coffer-bench');
    const suffix = Buffer.from(randomBytes(4)).toString('hex');
    const kdf = DEFAULT_PASSPHRASE_KDF;
    const kdfLabel =
      kdf.alg === 'argon2id'
        ? `argon2id m=${kdf.memoryKiB / 1024} MiB t=${kdf.iterations} p=${kdf.parallelism}`
        : kdf.alg;
    const protectors: { label: string; config: ProtectorConfig; baseline: ProtectorConfig; count: number }[] =
      [
        {
          label: `passphrase (${kdfLabel}, the default)`,
          config: { type: 'passphrase', passphrase: 'bench passphrase for unlock' },
          baseline: { type: 'passphrase', passphrase: 'bench passphrase for unlock' },
          count: Math.max(3, Math.floor(samples / 3)),
        },
        {
          label: 'keyring (gnome-keyring, Secret Service)',
          config: { type: 'keyring', service: `coffer-bench-${suffix}`, account: 'slot' },
          baseline: { type: 'keyring', service: `coffer-bench-${suffix}`, account: 'baseline' },
          count: samples,
        },
        {
          label: 'tpm2 (swtpm via tpm2-tools)',
          config: { type: 'tpm2', tcti: tpm.tcti },
          baseline: { type: 'tpm2', tcti: tpm.tcti },
          count: samples,
        },
        {
          label: 'pkcs11 (SoftHSM2, AES-GCM in token)',
          config: {
            type: 'pkcs11',
            module: hsm.module,
            tokenLabel: token.label,
            pin: token.pin,
            keyLabel: 'coffer-bench-kek',
          },
          baseline: {
            type: 'pkcs11',
            module: hsm.module,
            tokenLabel: token.label,
            pin: token.pin,
            keyLabel: 'coffer-bench-baseline',
          },
          count: samples,
        },
      ];
    const [first, ...rest] = protectors;
    ks = await Keystore.open({
      store: `sqlite:${join(dir, 'store.db')}`,
      protector: first!.config,
      create: true,
    });
    for (const p of rest) await ks.addProtector(p.config);

    const rows: BenchRow[] = [];
    for (const p of protectors) {
      const open = ks;
      const times = await timeEach(p.count, async () => {
        await open.lock();
        await open.unlock(p.config);
      });
      const alone = await protectorAlone(p.baseline, p.count);
      const subject = 1000 / median(times);
      const baseline = 1000 / median(alone);
      rows.push({
        group: 'unlock',
        name: `unlock ${p.label}`,
        opsPerSec: subject,
        baseline: 'protector alone (open + decrypt + close)',
        baselineOpsPerSec: baseline,
        ratio: subject / baseline,
        extra: {
          medianMs: ms(median(times)),
          minMs: ms(times[0]!),
          maxMs: ms(times.at(-1)!),
          protectorMedianMs: ms(median(alone)),
          samples: p.count,
        },
      });
    }
    return rows;
  } finally {
    await ks?.close().catch(() => {});
    await hsm?.close().catch(() => {});
    await tpm?.stop().catch(() => {});
    await ss?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
