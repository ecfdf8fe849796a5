// Child process for dir-lock.test.ts (run as compiled JS): takes the lock `iterations` times and,
// holding it, does a deliberately non-atomic read-sleep-write increment of a counter file, so any
// two processes inside the lock at once would lose an increment. Args: lockPath counterPath n.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileLock } from '../../storage/dir-lock.js';
import { childAck, childExitWithParent, childReady } from '../crash.js';

async function main(lockPath: string, counterPath: string, iterations: number): Promise<void> {
  const lock = new FileLock(lockPath);
  childReady();
  const startAt = Number(process.env.COFFER_TEST_START_AT ?? 0);
  if (startAt > Date.now()) await new Promise((r) => setTimeout(r, startAt - Date.now()));
  for (let i = 0; i < iterations; i++) {
    await lock.acquire();
    try {
      const value = Number(readFileSync(counterPath, 'utf8'));
      await new Promise((r) => setTimeout(r, Math.random() < 0.5 ? 0 : 1));
      writeFileSync(counterPath, String(value + 1));
    } finally {
      await lock.release();
    }
  }
  childAck(String(iterations));
  process.exit(0);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  childExitWithParent();
  const [lockPath, counterPath, n] = process.argv.slice(2);
  await main(lockPath!, counterPath!, Number(n));
}
