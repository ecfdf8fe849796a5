// Daemon throughput (brief J): requests over the Unix socket with keep-alive through coffer/client,
// single and in batches of 100, for Ed25519 sign and 1 KiB seal, each as a ratio to the in-process
// `ks.sign` / `ks.seal` measured in the same run, with p50/p99 latency per request. Goal: batched
// daemon signing at ≥ 0.5× in-process throughput.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CofferClient } from '../client/index.js';
import { Keystore } from '../core/keystore.js';
import { startServer } from '../server/index.js';
import { createToken } from '../server/tokens.js';
import { passphrase, tempDir } from '../testing/keystore.js';
import type { BenchRow } from './harness.js';

const BATCH = 100;

interface Measured {
  /** Items per second. */
  rate: number;
  p50: number;
  p99: number;
}

/** Runs `call` (which handles `items` items) back to back for about `ms`, best of `rounds`. */
async function measure(call: () => Promise<unknown>, items: number, ms: number): Promise<Measured> {
  const warm = performance.now() + 100;
  while (performance.now() < warm) await call();
  const latencies: number[] = [];
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    const t = performance.now();
    await call();
    now = performance.now();
    latencies.push(now - t);
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 1000) /
    1000;
  return { rate: (latencies.length * items * 1000) / (now - start), p50: at(0.5), p99: at(0.99) };
}

async function best(
  call: () => Promise<unknown>,
  items: number,
  rounds: number,
  ms: number,
): Promise<Measured> {
  let top: Measured = { rate: 0, p50: 0, p99: 0 };
  for (let i = 0; i < rounds; i++) {
    const m = await measure(call, items, ms);
    if (m.rate > top.rate) top = m;
  }
  return top;
}

export async function benchDaemon(options: { rounds?: number; ms?: number } = {}): Promise<BenchRow[]> {
  const rounds = options.rounds ?? 3;
  const ms = options.ms ?? 400;
  const dir = tempDir('coffer-bench-daemon-');
  chmodSync(dir.path, 0o700);
  const store = `sqlite:${join(dir.path, 'store.db')}`;
  const socket = join(dir.path, 'd.sock');
  let ks = await Keystore.open({ store, protector: passphrase(), create: true });
  const { token } = await createToken(ks, { apps: ['*'], ops: ['*'], admin: true });
  const sigKey = await ks.createKey({ app: 'bench', purpose: 'sig', algorithm: 'ed25519' });
  const aesKey = await ks.createKey({ app: 'bench', purpose: 'aes', algorithm: 'aes-256-gcm' });
  await ks.close();
  const server = await startServer({ store, socket, logger: false, handleSignals: false });
  const client = new CofferClient({ socket, token });
  ks = await Keystore.open({ store, protector: passphrase() });
  try {
    await client.unlock(passphrase().passphrase);
    const message = new TextEncoder().encode('a message of a typical JWT-ish size for signing'.repeat(2));
    const plaintext = new Uint8Array(1024).fill(7);
    const messages = Array.from({ length: BATCH }, () => message);
    const plaintexts = Array.from({ length: BATCH }, () => ({ plaintext }));
    const rows: BenchRow[] = [];
    const add = (name: string, daemon: Measured, base: Measured, baseline: string, goal?: number) =>
      rows.push({
        group: 'daemon',
        name,
        opsPerSec: Math.round(daemon.rate),
        baseline,
        baselineOpsPerSec: Math.round(base.rate),
        ratio: daemon.rate / base.rate,
        ...(goal !== undefined ? { goal } : {}),
        extra: { p50ms: daemon.p50, p99ms: daemon.p99 },
      });
    const inSign = await best(() => ks.sign(sigKey.id, message), 1, rounds, ms);
    add(
      'sign ed25519, one per request',
      await best(() => client.sign(sigKey.id, message), 1, rounds, ms),
      inSign,
      'in-process ks.sign',
    );
    add(
      `sign ed25519, batches of ${BATCH}`,
      await best(() => client.signBatch(sigKey.id, messages), BATCH, rounds, ms),
      inSign,
      'in-process ks.sign',
      0.5,
    );
    const inSeal = await best(() => ks.seal(aesKey.id, plaintext), 1, rounds, ms);
    add(
      'seal aes-256-gcm 1 KiB, one per request',
      await best(() => client.seal(aesKey.id, plaintext), 1, rounds, ms),
      inSeal,
      'in-process ks.seal',
    );
    add(
      `seal aes-256-gcm 1 KiB, batches of ${BATCH}`,
      await best(() => client.sealBatch(aesKey.id, plaintexts), BATCH, rounds, ms),
      inSeal,
      'in-process ks.seal',
    );
    return rows;
  } finally {
    client.close();
    await ks.close();
    await server.close();
    dir.remove();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const row of await benchDaemon()) console.log(JSON.stringify(row));
}
