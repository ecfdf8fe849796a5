// Keystore-level reliability tests (SPEC §2, §9), registered by each backend's test file with
// `exerciseKeystoreReliability(name, newStore)`; `newStore()` returns the URL of a fresh, empty store
// location (the suite creates the keystore in it). All of them drive real child processes
// (keystore-worker.ts) through the kill harness (src/testing/crash.ts):
//   1. kill -9 at random moments while a child creates, rotates, signs and seals: after every kill
//      the keystore reopens cleanly, every acknowledged key is there with at least its acknowledged
//      version, versions are contiguous with one record each, acknowledged signatures verify and
//      sealed blobs unseal, every acknowledged change is in the audit log, and the log verifies;
//   2. four processes rotating one key at once leave versions 1..N+1 with none lost or doubled;
//   3. four processes opening one keystore at the same moment all unlock it;
//   4. four processes creating, rotating, reading and using each other's keys at once never raise a
//      false rollback alarm (SPEC §4.1: a concurrent writer is told from a replay).
// Tests 1, 2 and 4 run with a file rollback anchor (SPEC §4.2) shared by every process, so kills land
// between store writes and anchor advances and seals race; every reopen must pass the anchor check.
// The passphrase protector runs at the OWASP floor (FAST_KDF) so each child unlocks quickly.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Keystore } from '../../core/keystore.js';
import type { KeyInfo } from '../../core/types.js';
import { openStorage } from '../../storage/open.js';
import type { Storage } from '../../storage/types.js';
import { type ChildRun, crashLoop, runToEnd, siblingScript } from '../crash.js';
import { passphrase } from '../keystore.js';
import { CRASH_APP, isSigner } from './keystore-worker.js';

/** A fresh file anchor next to nothing else (SPEC §4.2), for the children and the verifier alike. */
function anchorFile(): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-anchor-'));
  return { path: join(dir, 'anchor.json'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const WORKER = siblingScript(import.meta.url, 'keystore-worker.js');
const fromHex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));

export interface KeystoreReliabilityOptions {
  /** Kill rounds (the issue asks for at least 20 per backend). */
  rounds?: number;
  /** Processes in the concurrent tests. */
  workers?: number;
  /** Rotations per process in the concurrent rotation test. */
  rotations?: number;
  /** Steps per process in the concurrent churn test. */
  churnSteps?: number;
}

/** What the children acknowledged so far, over all kill rounds. */
interface Acknowledged {
  keys: Map<string, { algorithm: string; version: number }>;
  rotations: Array<{ id: string; version: number }>;
  signatures: Array<{ id: string; version: number; message: Uint8Array; signature: Uint8Array }>;
  sealed: Array<{ id: string; version: number; plaintext: Uint8Array; aad: Uint8Array; sealed: Uint8Array }>;
}

function record(acked: Acknowledged, line: string): void {
  const [kind, id, ...rest] = line.split(' ');
  assert.ok(id !== undefined, `malformed ack ${line}`);
  if (kind === 'create') {
    assert.ok(!acked.keys.has(id), `key ${id} was acknowledged as created twice`);
    acked.keys.set(id, { algorithm: rest[0]!, version: 1 });
  } else if (kind === 'rotate') {
    const key = acked.keys.get(id);
    const version = Number(rest[0]);
    // A key made by a round whose create ack was cut off by the kill: first seen rotating.
    if (key === undefined) acked.keys.set(id, { algorithm: '?', version });
    else key.version = Math.max(key.version, version);
    acked.rotations.push({ id, version });
  } else if (kind === 'sign') {
    acked.signatures.push({
      id,
      version: Number(rest[0]),
      message: fromHex(rest[1]!),
      signature: fromHex(rest[2]!),
    });
  } else if (kind === 'seal') {
    acked.sealed.push({
      id,
      version: Number(rest[0]),
      plaintext: fromHex(rest[1]!),
      aad: fromHex(rest[2]!),
      sealed: fromHex(rest[3]!),
    });
  } else {
    assert.fail(`unknown ack ${line}`);
  }
}

/** Opens the keystore over a storage handle the caller can also read raw records from. */
async function openBoth(
  url: string,
  actor: string,
  anchorPath?: string,
): Promise<{ ks: Keystore; storage: Storage }> {
  const storage = await openStorage(url);
  try {
    const anchor = anchorPath ? { anchor: { type: 'file' as const, path: anchorPath } } : {};
    return {
      ks: await Keystore.open({ store: storage, protector: passphrase(), actor, ...anchor }),
      storage,
    };
  } catch (error) {
    await storage.close();
    throw error;
  }
}

/** Version numbers stored under each key's folder, from the raw records (`…/<id>/v/<n>`). */
async function storedVersions(storage: Storage, app: string): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const { key } of await storage.list(`keystore/${app}/`)) {
    const parts = key.split('/');
    const id = parts[3]!;
    const list = out.get(id) ?? [];
    if (parts[4] === 'v') list.push(Number(parts[5]));
    else assert.equal(parts[4], 'meta', `unexpected record ${key}`);
    out.set(id, list);
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A key's versions are exactly 1..primary, each stored once; the primary active, the rest deactivated. */
function assertContiguous(info: KeyInfo, stored: number[] | undefined): void {
  const expected = range(1, info.primaryVersion);
  assert.deepEqual(
    info.versions.map((v) => v.version),
    expected,
    `key ${info.id}: versions are not contiguous`,
  );
  assert.deepEqual(stored, expected, `key ${info.id}: stored version records do not match its metadata`);
  for (const v of info.versions) {
    assert.equal(
      v.state,
      v.version === info.primaryVersion ? 'active' : 'deactivated',
      `key ${info.id} version ${v.version}`,
    );
  }
}

async function verifyAfterKill(url: string, acked: Acknowledged, anchorPath: string): Promise<void> {
  // Opening (and unlocking, which writes) is part of the promise: no repair step, no help — and no
  // rollback alarm, wherever the kill fell between a store write and its anchor advance.
  const { ks, storage } = await openBoth(url, 'verifier', anchorPath);
  try {
    const listed = new Map((await ks.listKeys({ app: CRASH_APP })).map((k) => [k.id, k]));
    for (const [id, expected] of acked.keys) {
      const info = await ks.getKey(id);
      if (expected.algorithm !== '?') assert.equal(info.algorithm, expected.algorithm, `key ${id}`);
      assert.ok(
        info.primaryVersion >= expected.version,
        `key ${id} is at version ${info.primaryVersion} but version ${expected.version} was acknowledged`,
      );
      assert.ok(listed.has(id), `key ${id} is missing from listKeys`);
    }
    // Every key in the store — also one whose creation was cut off before its ack — is whole.
    const stored = await storedVersions(storage, CRASH_APP);
    assert.deepEqual([...stored.keys()].sort(), [...listed.keys()].sort(), 'records without metadata');
    for (const info of listed.values()) {
      assertContiguous(info, stored.get(info.id));
      if (isSigner(info.algorithm)) {
        // Reads every version record through the barrier: each one authenticates and is distinct.
        const publicKeys = new Set<string>();
        for (const v of info.versions) {
          const pk = (await ks.publicKey(info.id, 'raw', { version: v.version })) as Uint8Array;
          publicKeys.add(Buffer.from(pk).toString('hex'));
        }
        assert.equal(publicKeys.size, info.versions.length, `key ${info.id}: two versions share material`);
      }
    }
    for (const s of acked.signatures) {
      assert.equal(
        await ks.verify(s.id, s.message, s.signature, { version: s.version }),
        true,
        `acknowledged signature by ${s.id} v${s.version} no longer verifies`,
      );
    }
    for (const s of acked.sealed) {
      const plain = await ks.unseal(s.id, s.sealed, { aad: s.aad });
      assert.deepEqual(plain, s.plaintext, `acknowledged blob of ${s.id} v${s.version} unsealed wrong`);
    }
    const report = await ks.verifyAudit();
    assert.ok(report.ok, `audit log: ${report.problems.join('; ')}`);
    assert.ok(report.entries <= 10_000, 'too many audit entries for this check; use fewer rounds');
    const logged = new Set<string>();
    for (const entry of await ks.auditTail(report.entries)) {
      if (entry.event === 'key.create') logged.add(`create ${entry.keyId}`);
      if (entry.event === 'key.rotate') logged.add(`rotate ${entry.keyId} ${entry.details?.version}`);
    }
    // Fail-closed audit (SPEC §8): every change in the store — acknowledged or cut off before its
    // ack — was written together with its entry, so each key and each version has one.
    for (const info of listed.values()) {
      assert.ok(logged.has(`create ${info.id}`), `no audit entry for creating ${info.id}`);
      for (const v of info.versions.slice(1)) {
        assert.ok(
          logged.has(`rotate ${info.id} ${v.version}`),
          `no audit entry for ${info.id} v${v.version}`,
        );
      }
    }
  } finally {
    await ks.close();
  }
}

export function exerciseKeystoreReliability(
  name: string,
  newStore: () => Promise<string>,
  { rounds = 25, workers = 4, rotations = 12, churnSteps = 40 }: KeystoreReliabilityOptions = {},
): void {
  test(`${name}: kill -9 amid create/rotate/sign/seal never loses an acknowledged step (${rounds} rounds)`, async (t) => {
    const url = await newStore();
    const anchor = anchorFile();
    t.after(anchor.remove);
    const setup = await Keystore.open({
      store: url,
      protector: passphrase(),
      create: true,
      anchor: { type: 'file', path: anchor.path },
    });
    await setup.close();
    const acked: Acknowledged = { keys: new Map(), rotations: [], signatures: [], sealed: [] };
    const summary = await crashLoop({
      script: WORKER,
      args: ['crash'],
      env: { COFFER_TEST_STORE: url, COFFER_TEST_ANCHOR: anchor.path },
      rounds,
      // Timed from the first acknowledgement so kills land amid the work however slow the machine;
      // every sixth round is killed during start-up instead (Argon2id, unlock's own write).
      timeFrom: 'ack',
      killWindowMs: [0, 150],
      startupKillEvery: 6,
      verify: async (run: ChildRun) => {
        for (const line of run.acks) record(acked, line);
        await verifyAfterKill(url, acked, anchor.path);
      },
    });
    t.diagnostic(
      `${summary.rounds} kills (${summary.killedMidWork} after at least one ack), ${summary.acks} acks: ` +
        `${acked.keys.size} keys, ${acked.rotations.length} rotations, ${acked.signatures.length} signatures, ` +
        `${acked.sealed.length} sealed blobs`,
    );
    assert.ok(summary.killedMidWork >= rounds / 2, 'too few kills landed while the child was working');
    assert.ok(acked.rotations.length > 0 && acked.sealed.length > 0 && acked.signatures.length > 0);
  });

  test(`${name}: ${workers} processes rotating one key at once lose no version`, async (t) => {
    const url = await newStore();
    const anchor = anchorFile();
    t.after(anchor.remove);
    const setup = await Keystore.open({
      store: url,
      protector: passphrase(),
      create: true,
      anchor: { type: 'file', path: anchor.path },
    });
    const { id } = await setup.createKey({ app: 'race', purpose: 'rotate', algorithm: 'ed25519' });
    await setup.close();
    const gate = mkdtempSync(join(tmpdir(), 'coffer-rotate-gate-'));
    let runs: ChildRun[];
    try {
      runs = await Promise.all(
        range(0, workers - 1).map((index) =>
          runToEnd({
            script: WORKER,
            args: ['rotate', id, String(rotations)],
            env: {
              COFFER_TEST_STORE: url,
              COFFER_TEST_ANCHOR: anchor.path,
              COFFER_TEST_GATE_DIR: gate,
              COFFER_TEST_WORKER: String(index),
              COFFER_TEST_WORKERS: String(workers),
            },
          }),
        ),
      );
    } finally {
      rmSync(gate, { recursive: true, force: true });
    }
    const acks = runs.flatMap((run, worker) =>
      run.acks.map((line) => {
        const [, keyId, version, message, signature, signedVersion] = line.split(' ');
        assert.equal(keyId, id);
        return {
          worker,
          version: Number(version),
          message: fromHex(message!),
          signature: fromHex(signature!),
          signedVersion: Number(signedVersion),
        };
      }),
    );
    for (const run of runs) assert.equal(run.acks.length, rotations, 'a worker did not finish its rotations');
    // Every rotation was sealed (SPEC §4.2): the anchor is at least one step per rotation past enrolment.
    assert.ok(
      JSON.parse(readFileSync(anchor.path, 'utf8')).value > acks.length,
      'the anchor did not advance with the rotations',
    );
    const total = acks.length;
    // Every acknowledged rotation made its own version: none shared, none skipped.
    assert.deepEqual(
      acks.map((a) => a.version).sort((a, b) => a - b),
      range(2, total + 1),
    );
    const { ks, storage } = await openBoth(url, 'verifier', anchor.path);
    try {
      const info = await ks.getKey(id);
      assert.equal(info.primaryVersion, total + 1);
      assertContiguous(info, (await storedVersions(storage, 'race')).get(id));
      assert.equal(info.history.length, total, 'one history transition per rotation');
      const publicKeys = new Set<string>();
      for (const v of info.versions) {
        const pk = (await ks.publicKey(id, 'raw', { version: v.version })) as Uint8Array;
        publicKeys.add(Buffer.from(pk).toString('hex'));
      }
      assert.equal(publicKeys.size, total + 1, 'two versions share key material');
      for (const a of acks) {
        assert.equal(await ks.verify(id, a.message, a.signature, { version: a.signedVersion }), true);
      }
      const report = await ks.verifyAudit();
      assert.ok(report.ok, `audit log: ${report.problems.join('; ')}`);
      const rotated = (await ks.auditTail(report.entries)).filter((e) => e.event === 'key.rotate');
      assert.deepEqual(
        rotated.map((e) => e.details?.version),
        range(2, total + 1),
        'the audit log records each rotation once, in version order',
      );
      for (let worker = 0; worker < workers; worker++) {
        assert.equal(rotated.filter((e) => e.actor === `rotator-${worker}`).length, rotations);
      }
      const interleaved = rotated.filter((e, i) => i > 0 && e.actor !== rotated[i - 1]!.actor).length;
      t.diagnostic(`${total} rotations by ${workers} processes; the writer changed ${interleaved} times`);
      // Rotations one process after another would prove nothing about races.
      assert.ok(interleaved >= workers, 'the processes did not really rotate at the same time');
    } finally {
      await ks.close();
    }
  });

  test(`${name}: ${workers} processes opening the keystore at the same moment all unlock it`, async () => {
    const url = await newStore();
    await (await Keystore.open({ store: url, protector: passphrase(), create: true })).close();
    // Far enough ahead for every child to have started and loaded the library.
    const env = { COFFER_TEST_STORE: url, COFFER_TEST_START_AT: String(Date.now() + 2500) };
    const results = await Promise.allSettled(
      range(1, workers).map(() => runToEnd({ script: WORKER, args: ['open'], env })),
    );
    // The child's own error line (e.g. `CofferError: … ECONFLICT …`) says why it could not unlock.
    const failures = results.flatMap((r) =>
      r.status === 'rejected'
        ? [
            String(r.reason)
              .match(/\w*Error: .*/g)
              ?.at(-1) ?? String(r.reason),
          ]
        : [],
    );
    assert.deepEqual(failures, [], 'every process must unlock');
    const created = results.flatMap((r) =>
      r.status === 'fulfilled' ? r.value.acks.map((line) => line.split(' ')[1]!) : [],
    );
    assert.equal(created.length, workers);
    const { ks } = await openBoth(url, 'verifier');
    try {
      const report = await ks.verifyAudit();
      assert.ok(report.ok, `audit log: ${report.problems.join('; ')}`);
      const entries = await ks.auditTail(report.entries);
      // A slot's use is recorded at most hourly (SPEC §5, lastUsedAt): an opener that reads the slot after
      // another one recorded it writes no unlock event, so 1..workers of them are in the log, each
      // from a different process.
      const unlockers = entries
        .filter((e) => e.event === 'keystore.unlock' && e.actor.startsWith('opener-'))
        .map((e) => e.actor);
      assert.ok(unlockers.length >= 1 && unlockers.length <= workers, `${unlockers.length} unlock events`);
      assert.equal(new Set(unlockers).size, unlockers.length, 'one process recorded its unlock twice');
      // The write each process made right after unlocking: all of them stored and audited.
      assert.deepEqual((await ks.listKeys({ app: 'openers' })).map((k) => k.id).sort(), [...created].sort());
      const creations = entries.filter((e) => e.event === 'key.create' && e.actor.startsWith('opener-'));
      assert.equal(creations.length, workers, 'a key creation is missing from the audit log');
    } finally {
      await ks.close();
    }
  });

  test(`${name}: ${workers} processes creating, rotating and reading each other's keys raise no false alarm`, async (t) => {
    const url = await newStore();
    const anchor = anchorFile();
    t.after(anchor.remove);
    const setup = await Keystore.open({
      store: url,
      protector: passphrase(),
      create: true,
      anchor: { type: 'file', path: anchor.path },
    });
    await setup.close();
    const env = {
      COFFER_TEST_STORE: url,
      COFFER_TEST_ANCHOR: anchor.path,
      COFFER_TEST_START_AT: String(Date.now() + 2500),
    };
    const results = await Promise.allSettled(
      range(1, workers).map(() => runToEnd({ script: WORKER, args: ['churn', String(churnSteps)], env })),
    );
    const failures = results.flatMap((r) =>
      r.status === 'rejected'
        ? [
            String(r.reason)
              .match(/\w*Error: .*/g)
              ?.at(-1) ?? String(r.reason),
          ]
        : [],
    );
    assert.deepEqual(failures, [], 'no process may see a rollback that did not happen');
    const { ks } = await openBoth(url, 'verifier', anchor.path);
    try {
      const report = await ks.verifyAudit();
      assert.ok(report.ok, `audit log: ${report.problems.join('; ')}`);
      const keys = await ks.listKeys({ app: 'churn' });
      for (const key of keys) await ks.getKey(key.id);
      t.diagnostic(`${keys.length} keys, ${report.entries} audit entries from ${workers} processes`);
    } finally {
      await ks.close();
    }
  });
}
