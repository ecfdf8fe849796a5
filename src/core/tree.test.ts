// The record tree's bytes (SPEC §4.4 vectors) and algorithm: incremental updates give exactly the tree
// built from scratch over the same records (fast-check), nothing unreachable is left behind, lookups
// find every entry and no other, and damaged nodes and roots are refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  buildTree,
  type Change,
  checkNode,
  decodeRoot,
  type Entry,
  encodeBucket,
  encodeRoot,
  groupOf,
  lookup,
  type NodeLoader,
  NodeMismatch,
  nodeHash,
  nodeKey,
  position,
  ROOT_KEY,
  type TreeRoot,
  updateTree,
  valueHash,
} from './tree.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const K = 'k_aaaaaaaaaaaaaaaaaaaaaaaaaa';
const TREE_KEY = Uint8Array.from({ length: 32 }, (_, i) => i);

test('SPEC §4.4 vectors: groups, positions, value hashes, a bucket, a root MAC, an inner node', () => {
  const records: [string, string, string, string, string][] = [
    [
      'audit/head',
      'head-bytes',
      'audit/head',
      '9261245caa5a7463f399ad0158e6073c4f71462c43f6063bdb5d98f406a8fcfd',
      'c2e125366667cbae522e8a82e557a481c9436d7ceb0ab98ce8a2842e47f7fb05',
    ],
    [
      `ids/${K}`,
      'ids-bytes',
      K,
      'dc0da63e30dd616ac3d70829e3bca525e4c42648c6f02cda631cdf6718043ae5',
      '83c107f933f3cc9d317020bfbb94920cdeb79c2c91620ba9eb03f043a0c26359',
    ],
    [
      `keystore/billing/invoices/${K}/meta`,
      'meta-bytes',
      K,
      'dc0da63e6b90a705b85ca4ae9f4b46126dae1c279bc90a157b6007da18f52f5f',
      '9cd10a73f41bbdbb6dd36b745bc2c38b8ff49936ec875e6bfe895c8edf3e6445',
    ],
  ];
  const entries: Entry[] = [];
  for (const [key, value, group, pos, vh] of records) {
    assert.equal(groupOf(key), group);
    assert.equal(hex(position(key)), pos);
    assert.equal(hex(valueHash(Buffer.from(value))), vh);
    entries.push({ pos: position(key), vh: valueHash(Buffer.from(value)) });
  }
  const bucket = encodeBucket(entries);
  assert.equal(bucket.length, 194);
  assert.equal(hex(bucket.subarray(0, 2)), '0103');
  const built = buildTree(entries);
  assert.equal(hex(built.top!), '69c674dd615c40563ce9b4deeda9193961df41d6efeb675fbb9da71e3c86cd01');
  assert.equal(hex(nodeHash(bucket)), hex(built.top!));
  const root: TreeRoot = { v: 1, seq: 1, count: 3, top: hex(built.top!), anchors: {} };
  const encoded = JSON.parse(Buffer.from(encodeRoot(TREE_KEY, root).bytes).toString()) as { mac: string };
  assert.equal(encoded.mac, '2b78ce11ba69ef136cbe3706d861ae5402a4d09fed0797ae3bf501d67274e8a2');

  const big = Array.from({ length: 65 }, (_, i) => `v/${i}`).map((key) => ({
    pos: position(key),
    vh: valueHash(Buffer.from(key)),
  }));
  const tree = buildTree(big);
  assert.equal(hex(tree.top!), 'e713de1fdb7923ddf957539cdf5f10cf486b96c1fae166e9372d06870739f8e9');
  const top = tree.writes.get(nodeKey(''))!;
  assert.equal(top.length, 577);
  const counts = Array.from({ length: 16 }, (_, x) => top.readUInt32BE(1 + x * 36));
  assert.deepEqual(counts, [3, 6, 2, 6, 8, 4, 1, 2, 5, 3, 4, 3, 8, 5, 2, 3]);
});

/** A storage of node records (node key → bytes), with the loader the tree code needs. */
class NodeStore {
  readonly records = new Map<string, Buffer>();
  loads = 0;
  readonly load: NodeLoader = async (prefix, hash) => {
    this.loads++;
    const bytes = this.records.get(nodeKey(prefix));
    if (!bytes || !nodeHash(bytes).equals(hash)) throw new NodeMismatch(prefix);
    return { bytes, total: checkNode(bytes, prefix) };
  };
  apply(writes: Map<string, Buffer | null>): void {
    for (const [key, bytes] of writes) {
      if (bytes === null) this.records.delete(key);
      else this.records.set(key, bytes);
    }
  }
}

/** Every node reachable from the top, by key. */
async function reachable(store: NodeStore, top: Buffer | undefined, count: number): Promise<Set<string>> {
  const seen = new Set<string>();
  const walk = async (prefix: string, hash: Buffer | undefined, expected: number) => {
    if (!hash) return;
    const { bytes, total } = await store.load(prefix, hash);
    assert.equal(total, expected);
    seen.add(nodeKey(prefix));
    if (bytes[0] === 2) {
      for (let x = 0; x < 16; x++) {
        const at = 1 + x * 36;
        const c = bytes.readUInt32BE(at);
        if (c > 0) await walk(prefix + x.toString(16), bytes.subarray(at + 4, at + 36), c);
      }
    }
  };
  await walk('', top, count);
  return seen;
}

test('incremental updates build exactly the canonical tree, leave no garbage, and lookups are exact', async () => {
  // Keys from a small alphabet (so batches re-touch, delete and re-create them) and some key-id groups
  // (so splits happen deep inside one group's positions too).
  const keyArb = fc.oneof(
    fc.integer({ min: 0, max: 400 }).map((i) => `r/${i}`),
    fc.integer({ min: 0, max: 150 }).map((i) => `keystore/a/p/${K}/v/${i}`),
  );
  const batchArb = fc.array(fc.tuple(keyArb, fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined })), {
    minLength: 1,
    maxLength: 120,
  });
  await fc.assert(
    fc.asyncProperty(fc.array(batchArb, { minLength: 1, maxLength: 8 }), async (batches) => {
      const store = new NodeStore();
      const model = new Map<string, number>();
      let top: Buffer | undefined;
      let count = 0;
      for (const batch of batches) {
        const changes = new Map<string, Change>();
        for (const [key, value] of batch) {
          changes.set(key, {
            pos: position(key),
            vh: value === undefined ? undefined : valueHash(Buffer.from(`${key}=${value}`)),
          });
          if (value === undefined) model.delete(key);
          else model.set(key, value);
        }
        const update = await updateTree(top, count, [...changes.values()], store.load);
        store.apply(update.writes);
        top = update.top;
        count = update.count;
      }
      const expected = buildTree(
        [...model].map(([key, value]) => ({
          pos: position(key),
          vh: valueHash(Buffer.from(`${key}=${value}`)),
        })),
      );
      assert.equal(count, model.size);
      assert.equal(top?.toString('hex'), expected.top?.toString('hex'));
      const live = await reachable(store, top, count);
      assert.deepEqual(
        [...store.records.keys()].sort(),
        [...live].sort(),
        'unreachable node records left behind',
      );
      for (const [key, value] of model) {
        const vh = await lookup(top, count, position(key), store.load);
        assert.equal(vh?.toString('hex'), valueHash(Buffer.from(`${key}=${value}`)).toString('hex'));
      }
      for (const key of ['r/9999', `keystore/a/p/${K}/v/9999`]) {
        assert.equal(await lookup(top, count, position(key), store.load), undefined);
      }
    }),
    { numRuns: 60 },
  );
});

test('a node that is not what its parent names, or is malformed, is refused', async () => {
  const entries = Array.from({ length: 200 }, (_, i) => ({
    pos: position(`x/${i}`),
    vh: valueHash(Buffer.from([i])),
  }));
  const tree = buildTree(entries);
  const store = new NodeStore();
  store.apply(tree.writes);
  // A child swapped for another node: its hash no longer matches the parent's.
  const keys = [...store.records.keys()].filter((k) => k !== nodeKey(''));
  const [a, b] = keys;
  const saved = store.records.get(a!)!;
  store.records.set(a!, store.records.get(b!)!);
  await assert.rejects(
    (async () => {
      for (const e of entries) await lookup(tree.top, tree.count, e.pos, store.load);
    })(),
    NodeMismatch,
  );
  store.records.set(a!, saved);
  // Malformed nodes: wrong type byte, bucket with too many entries claimed, entries out of order.
  const bucket = encodeBucket(entries.slice(0, 3).sort((x, y) => Buffer.compare(x.pos, y.pos)));
  assert.throws(() => checkNode(Buffer.concat([Buffer.from([3]), bucket.subarray(1)]), ''), {
    code: 'EBADMSG',
  });
  const unordered = Buffer.from(bucket);
  bucket.copy(unordered, 2, 66, 130);
  bucket.copy(unordered, 66, 2, 66);
  assert.throws(() => checkNode(unordered, ''), /out of order/);
  const outside = ((bucket[2]! >> 4) ^ 1).toString(16);
  assert.throws(() => checkNode(bucket, outside), /outside the node/);
  const longBucket = Buffer.from(bucket);
  longBucket[1] = 65;
  assert.throws(() => checkNode(longBucket, ''), /bucket size/);
});

test('a root is authenticated: every byte flip, another key or extra fields are refused', () => {
  const root: TreeRoot = {
    v: 1,
    seq: 7,
    count: 2,
    top: 'ab'.repeat(32),
    anchors: { 'file:/x': { c: 3, i: '00'.repeat(16) } },
  };
  const { bytes } = encodeRoot(TREE_KEY, root);
  assert.deepEqual(decodeRoot(TREE_KEY, bytes).root, root);
  for (let i = 0; i < bytes.length; i++) {
    const bad = Uint8Array.from(bytes);
    bad[i]! ^= 0x01;
    assert.throws(
      () => decodeRoot(TREE_KEY, bad),
      (error: Error & { code?: string; rollback?: unknown }) => {
        assert.equal(error.code, 'EBADMSG');
        assert.deepEqual(error.rollback, { kind: 'record', record: ROOT_KEY });
        assert.match(error.message, /rolled back/);
        return true;
      },
    );
  }
  const otherKey = Uint8Array.from(TREE_KEY, (b) => b ^ 1);
  assert.throws(() => decodeRoot(otherKey, bytes), { code: 'EBADMSG' });
  const extra = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(bytes).toString()), x: 1 }));
  assert.throws(() => decodeRoot(TREE_KEY, extra), /malformed/);
});
