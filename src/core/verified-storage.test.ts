// The verified view of storage (SPEC §4.1) on a real sqlite store: a read that overlaps this process's
// own write may return the root from before it (no false alarm), while a root older than one seen
// before the read began is a rollback; another writer between the root read and the record read is
// told from a replay; reserved keys are refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStorage } from '../storage/open.js';
import type { Storage, StoredRecord } from '../storage/types.js';
import { tempDir } from '../testing/keystore.js';
import { RollbackError } from './rollback.js';
import { ROOT_KEY } from './tree.js';
import { VerifiedStorage } from './verified-storage.js';

const treeKey = randomBytes(32);
const bytes = (text: string) => new TextEncoder().encode(text);

/** The real backend, with the next root read held until released (to order concurrent calls). */
function holdingRootReads(raw: Storage): { storage: Storage; hold: () => () => void } {
  let gate: Promise<void> | undefined;
  const storage: Storage = {
    kind: raw.kind,
    get: async (key: string): Promise<StoredRecord | undefined> => {
      const held = key === ROOT_KEY ? gate : undefined;
      if (held) gate = undefined;
      const record = await raw.get(key);
      await held;
      return record;
    },
    list: (prefix, options) => raw.list(prefix, options),
    write: (ops) => raw.write(ops),
    generation: () => raw.generation(),
    changedSince: (g) => raw.changedSince(g),
    close: () => raw.close(),
  };
  return {
    storage,
    hold: () => {
      let release!: () => void;
      gate = new Promise((resolve) => {
        release = resolve;
      });
      return release;
    },
  };
}

async function fixture() {
  const dir = tempDir('coffer-verified-');
  const raw = await openStorage(`sqlite:${join(dir.path, 'store.db')}`, { create: true });
  const { storage, hold } = holdingRootReads(raw);
  const vs = new VerifiedStorage(storage, () => treeKey);
  vs.allowMissingRoot(true);
  await vs.write([{ op: 'put', key: 'a/1', value: bytes('one') }]);
  vs.allowMissingRoot(false);
  return { dir, raw, vs, hold };
}

test('a read overlapping this process’s own write may see the older root: no false alarm', async () => {
  const { dir, raw, vs, hold } = await fixture();
  try {
    const release = hold();
    const reading = vs.get('a/1'); // its root read returns the root from before the write below
    await vs.write([{ op: 'put', key: 'a/2', value: bytes('two') }]);
    release();
    assert.deepEqual((await reading)?.value, bytes('one'));
    assert.deepEqual((await vs.get('a/2'))?.value, bytes('two'));
  } finally {
    await raw.close();
    dir.remove();
  }
});

test('a root older than one seen before the read began is a rollback of the whole store', async () => {
  const { dir, raw, vs } = await fixture();
  try {
    const old = await raw.list('');
    await vs.write([{ op: 'put', key: 'a/1', value: bytes('newer') }]);
    await raw.write(old.map((r) => ({ op: 'put' as const, key: r.key, value: r.value })));
    await assert.rejects(
      vs.get('a/1'),
      (e: unknown) => e instanceof RollbackError && e.rollback.kind === 'store',
    );
  } finally {
    await raw.close();
    dir.remove();
  }
});

test('another writer between the root read and the record read is not a replay; a replay is', async () => {
  const { dir, raw, vs } = await fixture();
  try {
    const other = new VerifiedStorage(raw, () => treeKey);
    const before = (await raw.get('a/1'))!.value;
    for (let i = 0; i < 20; i++) {
      await Promise.all([other.write([{ op: 'put', key: 'a/1', value: bytes(`v${i}`) }]), vs.get('a/1')]);
    }
    await raw.write([{ op: 'put', key: 'a/1', value: before }]);
    await assert.rejects(
      vs.get('a/1'),
      (e: unknown) => e instanceof RollbackError && e.rollback.record === 'a/1',
    );
    await assert.rejects(vs.write([{ op: 'put', key: 'coffer/tree/n/x', value: bytes('x') }]), {
      code: 'EINVAL',
    });
  } finally {
    await raw.close();
    dir.remove();
  }
});

test('listEnding: the backend filter and the fallback give the same verified records; a changed one is EBADMSG', async () => {
  const dir = tempDir('coffer-verified-ending-');
  const raw = await openStorage(`sqlite:${join(dir.path, 'store.db')}`, { create: true });
  try {
    assert.equal(typeof raw.listEnding, 'function');
    // The same store seen through a backend without listEnding: the core pages and filters itself.
    const { storage: plain } = holdingRootReads(raw);
    const filtered = new VerifiedStorage(raw, () => treeKey);
    const fallback = new VerifiedStorage(plain, () => treeKey);
    filtered.allowMissingRoot(true);
    const ops = [];
    for (let k = 0; k < 150; k++) {
      ops.push({ op: 'put' as const, key: `keystore/app/p/k${k}/meta`, value: bytes(`meta ${k}`) });
      ops.push({ op: 'put' as const, key: `keystore/app/p/k${k}/v1`, value: bytes(`v1 ${k}`) });
      if (k % 3 === 0)
        ops.push({ op: 'put' as const, key: `keystore/app/p/k${k}/v2`, value: bytes(`v2 ${k}`) });
    }
    await filtered.write(ops);
    filtered.allowMissingRoot(false);
    const metas = ops
      .filter((op) => op.key.endsWith('/meta'))
      .map((op) => op.key)
      .sort();
    for (const vs of [filtered, fallback]) {
      assert.deepEqual(
        (await vs.listEnding('keystore/app/', '/meta')).map((r) => r.key),
        metas,
      );
      const page = await vs.listEnding('keystore/', '/meta', { after: metas[9]!, limit: 7 });
      assert.deepEqual(
        page.map((r) => r.key),
        metas.slice(10, 17),
      );
      assert.equal((await vs.listEnding('keystore/app/', '/meta', { limit: 1000 })).length, 150);
    }
    // A version record changed behind the tree's back is not read by a meta listing; a meta record is.
    const v1 = await raw.get('keystore/app/p/k5/v1');
    await raw.write([
      { op: 'put', key: 'keystore/app/p/k5/v1', value: bytes('forged'), expectRevision: v1!.revision },
    ]);
    assert.equal((await filtered.listEnding('keystore/app/', '/meta')).length, 150);
    const meta = await raw.get('keystore/app/p/k7/meta');
    await raw.write([
      { op: 'put', key: 'keystore/app/p/k7/meta', value: bytes('forged'), expectRevision: meta!.revision },
    ]);
    for (const vs of [filtered, fallback]) {
      await assert.rejects(vs.listEnding('keystore/app/', '/meta'), (error: unknown) => {
        assert.ok(error instanceof RollbackError, String(error));
        assert.equal((error as RollbackError).code, 'EBADMSG');
        return true;
      });
    }
  } finally {
    await raw.close();
    dir.remove();
  }
});

test('the node cache stays in its byte budget, and a flood of buckets never pushes out the inner nodes', async () => {
  const dir = tempDir();
  const raw = await openStorage(`sqlite:${join(dir.path, 'cache.db')}`, { create: true });
  const nodeReads: string[] = [];
  const counting: Storage = {
    kind: raw.kind,
    get: (key) => {
      if (key.startsWith('coffer/tree/n/')) nodeReads.push(key);
      return raw.get(key);
    },
    list: (prefix, options) => raw.list(prefix, options),
    write: (ops) => raw.write(ops),
    generation: () => raw.generation(),
    changedSince: (g) => raw.changedSince(g),
    close: () => raw.close(),
  };
  const budget = 512 * 1024;
  const verified = new VerifiedStorage(counting, () => treeKey, { cacheBytes: budget });
  verified.allowMissingRoot(true);
  try {
    // 20 000 records: a tree of 1 + 16 + 256 inner nodes (227 KiB with their overhead: the inner half
    // of the budget holds them all) and some 4 000 buckets (10 MiB: the other half holds a hundred).
    for (let round = 0; round < 2; round++) {
      await verified.write(
        Array.from({ length: 10_000 }, (_, i) => ({
          op: 'put' as const,
          key: `c/${round}/${i}`,
          value: bytes('v'),
        })),
      );
      assert.ok(verified.cacheUse.bytes <= budget, `${verified.cacheUse.bytes} bytes cached`);
    }
    // Every inner node is still cached: a cold read of any record loads its bucket and nothing else.
    for (let i = 0; i < 50; i++) {
      nodeReads.length = 0;
      assert.ok(await verified.get(`c/0/${i * 199}`));
      assert.ok(nodeReads.length <= 1, `read ${nodeReads.join(', ')}`);
    }
  } finally {
    await raw.close();
    dir.remove();
  }
});
