// Fresh Ed25519 pairs in bulk (createKeys makes thousands at once) must never hang the process. Exporting
// a just-generated Ed25519 KeyObject as JWK deadlocks Node 20 now and then (a KeyGenJob freed by GC
// inside the export waits on a mutex the export holds): this ran into it within 150 000 pairs in most
// runs. The pairs are made in a child, so a hang is a failed test instead of a stuck suite.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';

const PAIRS = 150_000;
/** Far above the seconds the pairs take on a loaded machine; only a hang gets near it. */
const DEADLINE_MS = 180_000;

test(`${PAIRS} fresh Ed25519 pairs in one process finish (no keygen deadlock)`, async () => {
  const sig = new URL('./sig.js', import.meta.url).href;
  const script = `
    const { keygen } = await import(${JSON.stringify(sig)});
    for (let i = 0; i < ${PAIRS}; i++) {
      const pair = keygen('ed25519');
      if (pair.secretKey.length !== 32 || pair.publicKey.length !== 32) throw new Error('bad pair');
      // Progress on stdout as the pairs go (output in flight made the hang far more likely).
      if (i % 10000 === 0) console.log(i);
    }
    console.log('done');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  assert.match(
    out,
    /\ndone\n$/,
    `keygen did not finish within ${DEADLINE_MS / 1000} s (exit ${code}): ${err}`,
  );
  assert.equal(code, 0);
});
