// Child process for the keystore reliability tests (src/core/reliability-*.test.ts, run as compiled
// JS; not a test file itself). It speaks the kill harness's protocol (src/testing/crash.ts): `ready`
// once the keystore is unlocked, then one `ack …` line after each step has returned, written
// synchronously so a line in the pipe is a step that really completed.
//
// The store URL comes in COFFER_TEST_STORE (not argv, where a database password would show in ps).
// Modes:
//   crash — until SIGKILLed: creates keys, rotates them, signs and seals with them. Acks:
//             create <id> <algorithm>
//             rotate <id> <version>
//             sign <id> <version> <message hex> <signature hex>
//             seal <id> <version> <plaintext hex> <aad hex> <sealed hex>
//   rotate <keyId> <count> — rotates one key <count> times, signing after each rotation, and exits.
//             Acks `rotate <id> <version> <message hex> <signature hex> <signed version>`.
//             Opens wait their turn (file gate, see below) so only the rotations race.
//   open — opens the keystore at COFFER_TEST_START_AT (all workers at once), acks `open`, exits.
//   churn <steps> — from COFFER_TEST_START_AT, creates, rotates, reads and uses keys of every process
//             (app `churn`) for <steps> steps, and exits; any error (a false rollback alarm above
//             all) fails the child. Acks `churn <steps>`.
//
// With COFFER_TEST_ANCHOR (a file path) every open uses that file as its rollback anchor (SPEC §4.2),
// so kills and races land between store writes and anchor advances too.
//
// File gate (rotate mode): COFFER_TEST_GATE_DIR, COFFER_TEST_WORKER (index) and COFFER_TEST_WORKERS
// (count). Worker i opens after `opened-0 … opened-(i-1)` exist, then writes `opened-i`, and starts
// rotating once all of them exist: every worker is unlocked before any rotation begins.
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Keystore } from '../../core/keystore.js';
import type { KeyAlgorithm } from '../../core/types.js';
import { childAck, childExitWithParent, childReady } from '../crash.js';
import { passphrase } from '../keystore.js';

/** Algorithms the crash workload creates, in turn: two signers and two sealers. */
export const CRASH_ALGORITHMS: readonly KeyAlgorithm[] = [
  'ed25519',
  'aes-256-gcm',
  'ecdsa-p256',
  'xchacha20-poly1305',
];
/** The crash workload stops creating keys past this many, so verification stays quick. */
export const CRASH_MAX_KEYS = 16;
export const CRASH_APP = 'crash';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

export const isSigner = (algorithm: string) => algorithm === 'ed25519' || algorithm === 'ecdsa-p256';

/** The anchor the tests share, when COFFER_TEST_ANCHOR names one. */
export function testAnchor(): { anchor?: { type: 'file'; path: string } } {
  const path = process.env.COFFER_TEST_ANCHOR;
  return path ? { anchor: { type: 'file', path } } : {};
}

async function open(url: string, actor: string): Promise<Keystore> {
  return Keystore.open({ store: url, protector: passphrase(), actor, ...testAnchor() });
}

async function crash(url: string): Promise<never> {
  const ks = await open(url, `crash-${process.pid}`);
  childReady();
  // Keys made by earlier (killed) rounds are part of the pool: rotations and uses reach them too.
  const pool = (await ks.listKeys({ app: CRASH_APP })).map((k) => ({ id: k.id, algorithm: k.algorithm }));
  for (let step = 0; ; step++) {
    const roll = Math.random();
    if (pool.length < 2 || (roll < 0.2 && pool.length < CRASH_MAX_KEYS)) {
      const algorithm = CRASH_ALGORITHMS[pool.length % CRASH_ALGORITHMS.length]!;
      const key = await ks.createKey({ app: CRASH_APP, purpose: `p${pool.length % 3}`, algorithm });
      pool.push({ id: key.id, algorithm });
      childAck(`create ${key.id} ${algorithm}`);
      continue;
    }
    const key = pool[randomInt(pool.length)]!;
    if (roll < 0.55) {
      const info = await ks.rotate(key.id, { reason: `step ${step}` });
      childAck(`rotate ${key.id} ${info.primaryVersion}`);
    } else if (isSigner(key.algorithm)) {
      const message = randomBytes(1 + randomInt(200));
      const { signature, version } = await ks.sign(key.id, message);
      childAck(`sign ${key.id} ${version} ${hex(message)} ${hex(signature)}`);
    } else {
      const plaintext = randomBytes(randomInt(300));
      const aad = randomBytes(randomInt(3) * 8);
      const sealed = await ks.seal(key.id, plaintext, { aad });
      // The version is the one the blob's header names (SPEC §6: bytes 19..22).
      const version = Buffer.from(sealed).readUInt32BE(19);
      childAck(`seal ${key.id} ${version} ${hex(plaintext)} ${hex(aad)} ${hex(sealed)}`);
    }
  }
}

async function waitFor(paths: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!paths.every((path) => existsSync(path))) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${paths.join(', ')}`);
    await sleep(5);
  }
}

async function rotate(url: string, keyId: string, count: number): Promise<void> {
  const gate = process.env.COFFER_TEST_GATE_DIR;
  const index = Number(process.env.COFFER_TEST_WORKER);
  const workers = Number(process.env.COFFER_TEST_WORKERS);
  if (gate === undefined || !Number.isInteger(index) || !Number.isInteger(workers))
    throw new Error('rotate mode needs COFFER_TEST_GATE_DIR, COFFER_TEST_WORKER and COFFER_TEST_WORKERS');
  const marker = (i: number) => join(gate, `opened-${i}`);
  await waitFor(Array.from({ length: index }, (_, i) => marker(i)));
  const ks = await open(url, `rotator-${index}`);
  writeFileSync(marker(index), '');
  childReady();
  await waitFor(Array.from({ length: workers }, (_, i) => marker(i)));
  for (let i = 0; i < count; i++) {
    const info = await ks.rotate(keyId);
    const message = Buffer.from(`rotator ${index} step ${i}`);
    const { signature, version } = await ks.sign(keyId, message);
    childAck(`rotate ${keyId} ${info.primaryVersion} ${hex(message)} ${hex(signature)} ${version}`);
    // A short random pause lets the other processes in: without it, whoever wins the first race
    // tends to keep winning (the losers back off) and the rotations barely interleave.
    await sleep(randomInt(8));
  }
  await ks.close();
}

async function openAtOnce(url: string): Promise<void> {
  const startAt = Number(process.env.COFFER_TEST_START_AT ?? 0);
  childReady();
  if (startAt > Date.now()) await sleep(startAt - Date.now());
  const ks = await open(url, `opener-${process.pid}`);
  // A write right after unlocking, from every process at once: none of them may be lost.
  const key = await ks.createKey({ app: 'openers', purpose: `p${process.pid}`, algorithm: 'ed25519' });
  childAck(`open ${key.id}`);
  await ks.close();
}

/** Every process works on every process's keys: reads race writes, writes race writes (SPEC §4.1). */
async function churn(url: string, steps: number): Promise<void> {
  const startAt = Number(process.env.COFFER_TEST_START_AT ?? 0);
  const ks = await open(url, `churner-${process.pid}`);
  childReady();
  if (startAt > Date.now()) await sleep(startAt - Date.now());
  for (let step = 0; step < steps; step++) {
    const keys = await ks.listKeys({ app: 'churn' });
    const roll = Math.random();
    if (keys.length < 4 || roll < 0.2) {
      await ks.createKey({ app: 'churn', purpose: `p${step % 3}`, algorithm: 'ed25519' });
      continue;
    }
    const key = keys[randomInt(keys.length)]!;
    if (roll < 0.45) await ks.rotate(key.id);
    else if (roll < 0.7) await ks.getKey(key.id);
    else {
      const { signature, version } = await ks.sign(key.id, Buffer.from(`step ${step}`));
      if (!(await ks.verify(key.id, Buffer.from(`step ${step}`), signature, { version })))
        throw new Error('a fresh signature did not verify');
    }
  }
  childAck(`churn ${steps}`);
  await ks.close();
}

const [mode, ...args] = process.argv.slice(2);
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  childExitWithParent();
  const url = process.env.COFFER_TEST_STORE;
  if (url === undefined) throw new Error('COFFER_TEST_STORE is not set');
  if (mode === 'crash') await crash(url);
  else if (mode === 'rotate') await rotate(url, args[0] ?? '', Number(args[1] ?? 10));
  else if (mode === 'open') await openAtOnce(url);
  else if (mode === 'churn') await churn(url, Number(args[0] ?? 50));
  else throw new Error(`unknown mode ${mode}`);
  process.exit(0);
}
