// Child process for sqlite-driver.test.ts (compiled JS, run by this Node or by the other one, so one
// SQLite driver writes and the other reads). Prints one JSON line. Modes (store path in argv):
//   write <path> <round>  — creates the store if needed and writes round <round> of a fixed workload
//                           (puts of 0 B … 200 KiB, a compare-and-swap, a delete), then closes.
//   hold <path> <round>   — the same writes without closing, then prints and waits to be SIGKILLed,
//                           leaving committed transactions in the WAL (never checkpointed).
//   dump <path>           — opens the store and prints driver, generation and every record's digest.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStorage } from './open.js';
import { sqliteSettings } from './sqlite.js';
import type { Storage, WriteOp } from './types.js';

/** Deterministic bytes of record `name`, `length` long (length 0 included). */
export function crossPayload(name: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let block = createHash('sha256').update(name).digest();
  for (let at = 0; at < length; at += 32) {
    out.set(block.subarray(0, Math.min(32, length - at)), at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

async function writeRound(store: Storage, round: number): Promise<number> {
  const ops: WriteOp[] = [0, 1, 4096, 200_000].map((length, i) => ({
    op: 'put',
    key: `cross/r${round}/v${i}`,
    value: crossPayload(`r${round}/v${i}`, length),
    expectRevision: 0,
  }));
  await store.write(ops);
  const head = await store.get('cross/head');
  const generation = await store.write([
    {
      op: 'put',
      key: 'cross/head',
      value: new TextEncoder().encode(`round ${round}`),
      expectRevision: head?.revision ?? 0,
    },
    { op: 'delete', key: `cross/r${round}/v1` },
  ]);
  return generation;
}

async function dump(store: Storage) {
  const records = await store.list('');
  return {
    driver: sqliteSettings(store).driver,
    generation: await store.generation(),
    records: records.map((r) => ({
      key: r.key,
      revision: r.revision,
      length: r.value.length,
      sha256: createHash('sha256').update(r.value).digest('hex'),
    })),
  };
}

const [mode, path, round] = process.argv.slice(2);
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  if (path === undefined) throw new Error('usage: write|hold|dump PATH [ROUND]');
  const store = await openStorage(`sqlite:${path}`, { create: mode !== 'dump' });
  if (mode === 'write' || mode === 'hold') {
    const generation = await writeRound(store, Number(round));
    process.stdout.write(`${JSON.stringify({ driver: sqliteSettings(store).driver, generation })}\n`);
    if (mode === 'hold') {
      // Keep the connection (and its WAL) open until the parent kills this process; never outlive
      // a parent that died first by more than a minute.
      setTimeout(() => process.exit(4), 60_000);
    } else {
      await store.close();
    }
  } else if (mode === 'dump') {
    process.stdout.write(`${JSON.stringify(await dump(store))}\n`);
    await store.close();
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}
