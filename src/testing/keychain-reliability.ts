// Keychain reliability, registered per storage backend (`exerciseKeychainReliability(name, newStore)`,
// like the keystore's own suite): real child processes (workers/keychain-reliability.ts) through the kill harness
// (src/testing/crash.ts).
//   1. kill -9 at random moments while a child adds and updates items: after each kill the keystore
//      reopens, every acknowledged item is there, and every acknowledged version's secret is the
//      current one or in its history (SPEC §16.4: no write is destructive);
//   2. four processes updating one item at once, without expectedVersion: every write lands — the
//      version count is exact, every secret is current or in history, and the per-field changes of
//      all four are in the final item (the overtaken writes were re-applied, not dropped).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Keystore } from '../core/keystore.js';
import { crashLoop, runToEnd, siblingScript } from './crash.js';
import { passphrase } from './keystore.js';

const CHILD = siblingScript(import.meta.url, 'workers/keychain-reliability.js');
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

async function open(url: string, create = false): Promise<Keystore> {
  return Keystore.open({ store: url, protector: passphrase(), create, actor: 'verifier' });
}

export function exerciseKeychainReliability(
  name: string,
  newStore: () => Promise<string>,
  options: { rounds?: number; workers?: number; updates?: number } = {},
): void {
  test(`${name}: kill -9 during keychain writes loses no acknowledged item or version`, async () => {
    const url = await newStore();
    const ks = await open(url, true);
    await ks.keychain.setHistoryBound({ count: 10_000, bytes: 256 << 20 });
    await ks.close();
    const acked = new Map<string, Map<number, string>>();
    const summary = await crashLoop({
      script: CHILD,
      args: [url, 'churn'],
      rounds: options.rounds ?? 10,
      killWindowMs: [0, 150],
      timeFrom: 'ack',
      startupKillEvery: 5,
      verify: async (run) => {
        for (const line of run.acks) {
          const [, id, version, secret] = line.split(' ') as [string, string, string, string];
          const versions = acked.get(id) ?? new Map<number, string>();
          versions.set(Number(version), Buffer.from(secret, 'hex').toString());
          acked.set(id, versions);
        }
        const check = await open(url);
        try {
          for (const [id, versions] of acked) {
            const current = await check.keychain.get(id);
            const seen = new Map<number, string>([[current.version, text(current.secret)]]);
            for (const old of await check.keychain.history(id)) seen.set(old.version, text(old.secret));
            for (const [version, secret] of versions) {
              assert.ok(
                current.version >= version,
                `item ${id}: version ${version} acknowledged, ${current.version} stored`,
              );
              assert.equal(seen.get(version), secret, `item ${id} version ${version} lost`);
            }
          }
          assert.equal((await check.verifyAudit()).ok, true);
        } finally {
          await check.close();
        }
      },
    });
    assert.ok(summary.killedMidWork > 0, 'no kill landed while items were being written');
  });

  test(`${name}: concurrent processes updating one item never lose a write`, async () => {
    const url = await newStore();
    const workers = options.workers ?? 4;
    const updates = options.updates ?? 10;
    const ks = await open(url, true);
    await ks.keychain.setHistoryBound({ count: 10_000, bytes: 256 << 20 });
    const { id } = await ks.keychain.add({ kind: 'note', attributes: { label: 'race' }, secret: 'start' });
    await ks.close();
    const runs = await Promise.all(
      Array.from({ length: workers }, (_, w) =>
        runToEnd({ script: CHILD, args: [url, 'race', id, String(w), String(updates)], timeoutMs: 120_000 }),
      ),
    );
    for (const run of runs) assert.equal(run.exitCode, 0, run.stderr);
    const check = await open(url);
    try {
      const item = await check.keychain.get(id);
      assert.equal(item.version, 1 + workers * updates);
      const secrets = new Set([
        text(item.secret),
        ...(await check.keychain.history(id)).map((h) => text(h.secret)),
      ]);
      for (let w = 0; w < workers; w++) {
        for (let n = 1; n <= updates; n++) assert.ok(secrets.has(`w${w}-${n}`), `write w${w}-${n} lost`);
        assert.equal(item.attributes.custom?.[`worker${w}`], String(updates), `worker ${w}'s field`);
      }
    } finally {
      await check.close();
    }
  });
}
