// The shared storage conformance suite (docs/architecture.md and SPEC §9: every backend passes the same tests).
// `exerciseStorage(name, open)` registers node:test tests; `open()` must return a new handle on
// one and the same store each call, and that store must be empty when the suite starts. Tests
// share the store but each works under its own key prefix, and measure generations relative to
// their own start, so they never depend on each other's records.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { VerifiedStorage } from '../core/verified-storage.js';
import { MAX_BATCH_OPS, MAX_TREE_OPS, TREE_RECORD_PREFIX } from '../storage/keys.js';
import type { Storage, StoredRecord, WriteOp } from '../storage/types.js';
import { casIncrement, historyKey } from './storage-counter.js';

const enc = new TextEncoder();
const bytes = (text: string) => enc.encode(text);
const text = (value: Uint8Array) => new TextDecoder().decode(value);

export async function expectCode(promise: Promise<unknown> | (() => Promise<unknown>), code: string) {
  await assert.rejects(typeof promise === 'function' ? promise() : promise, (error: unknown) => {
    assert.equal((error as { name?: string }).name, 'CofferError', String(error));
    assert.equal((error as { code?: string }).code, code, String(error));
    return true;
  });
}

const keysOf = (records: StoredRecord[]) => records.map((r) => r.key);

export function exerciseStorage(name: string, open: () => Promise<Storage>): void {
  describe(`${name} storage conformance`, () => {
    let store: Storage;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store?.close();
    });

    test('a new store is empty at generation 0', async () => {
      assert.equal(await store.generation(), 0);
      assert.deepEqual(await store.list(''), []);
      assert.deepEqual(await store.changedSince(0), []);
    });

    test('put, get and delete round-trip; absent keys read as undefined', async () => {
      assert.equal(await store.get('basic/missing'), undefined);
      const generation = await store.write([{ op: 'put', key: 'basic/a', value: bytes('alpha') }]);
      assert.ok(generation > 0);
      const record = await store.get('basic/a');
      assert.ok(record);
      assert.equal(record.key, 'basic/a');
      assert.equal(text(record.value), 'alpha');
      assert.equal(record.revision, generation);
      assert.equal(Object.getPrototypeOf(record.value), Uint8Array.prototype);
      const second = await store.write([{ op: 'put', key: 'basic/a', value: bytes('beta') }]);
      assert.ok(second > generation);
      assert.equal(text((await store.get('basic/a'))!.value), 'beta');
      const third = await store.write([{ op: 'delete', key: 'basic/a' }]);
      assert.ok(third > second);
      assert.equal(await store.get('basic/a'), undefined);
    });

    test('generations strictly increase, one per batch, even for deletes of absent keys', async () => {
      const start = await store.generation();
      const seen: number[] = [];
      seen.push(await store.write([{ op: 'put', key: 'gen/x', value: bytes('1') }]));
      seen.push(await store.write([{ op: 'delete', key: 'gen/never-existed' }]));
      seen.push(await store.write([{ op: 'delete', key: 'gen/x' }]));
      seen.push(await store.write([{ op: 'put', key: 'gen/x', value: bytes('2') }]));
      assert.ok(seen[0]! > start);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `${seen}`);
      assert.equal(await store.generation(), seen[seen.length - 1]);
      // A deleted-then-recreated record gets a new revision, never an old one.
      assert.equal((await store.get('gen/x'))!.revision, seen[3]);
    });

    test('every record of a batch gets the batch generation as its revision', async () => {
      const ops: WriteOp[] = Array.from({ length: 200 }, (_, i) => ({
        op: 'put' as const,
        key: `batch/r${String(i).padStart(3, '0')}`,
        value: bytes(`value ${i}`),
      }));
      const generation = await store.write(ops);
      const listed = await store.list('batch/');
      assert.equal(listed.length, 200);
      for (const [i, record] of listed.entries()) {
        assert.equal(record.revision, generation);
        assert.equal(text(record.value), `value ${i}`);
      }
      const mixed = await store.write([
        { op: 'delete', key: 'batch/r000' },
        { op: 'put', key: 'batch/r001', value: bytes('changed') },
        { op: 'put', key: 'batch/z', value: bytes('new') },
      ]);
      assert.equal(await store.get('batch/r000'), undefined);
      assert.equal((await store.get('batch/r001'))!.revision, mixed);
      assert.equal((await store.get('batch/r002'))!.revision, generation);
      assert.equal((await store.get('batch/z'))!.revision, mixed);
    });

    test('CAS: expectRevision 0 means absent, a positive revision must match exactly', async () => {
      const created = await store.write([{ op: 'put', key: 'cas/k', value: bytes('v1'), expectRevision: 0 }]);
      const before = await store.generation();
      await expectCode(
        store.write([{ op: 'put', key: 'cas/k', value: bytes('x'), expectRevision: 0 }]),
        'ECONFLICT',
      );
      await expectCode(
        store.write([{ op: 'put', key: 'cas/k', value: bytes('x'), expectRevision: created + 1000 }]),
        'ECONFLICT',
      );
      await expectCode(
        store.write([{ op: 'put', key: 'cas/absent', value: bytes('x'), expectRevision: created }]),
        'ECONFLICT',
      );
      await expectCode(
        store.write([{ op: 'delete', key: 'cas/k', expectRevision: created + 1 }]),
        'ECONFLICT',
      );
      // Failed conditions wrote nothing and used no generation.
      assert.equal(await store.generation(), before);
      assert.equal(await store.get('cas/absent'), undefined);
      assert.deepEqual(await store.get('cas/k'), { key: 'cas/k', value: bytes('v1'), revision: created });

      const updated = await store.write([
        { op: 'put', key: 'cas/k', value: bytes('v2'), expectRevision: created },
      ]);
      // The old revision is now stale.
      await expectCode(
        store.write([{ op: 'put', key: 'cas/k', value: bytes('v3'), expectRevision: created }]),
        'ECONFLICT',
      );
      assert.equal(text((await store.get('cas/k'))!.value), 'v2');
      await store.write([{ op: 'delete', key: 'cas/k', expectRevision: updated }]);
      assert.equal(await store.get('cas/k'), undefined);
      // Deleting an absent record on the condition "absent" holds.
      await store.write([{ op: 'delete', key: 'cas/k', expectRevision: 0 }]);
    });

    test('a batch with one failing condition writes nothing at all', async () => {
      const base = await store.write([
        { op: 'put', key: 'atomic/keep', value: bytes('keep') },
        { op: 'put', key: 'atomic/target', value: bytes('t1') },
      ]);
      const before = await store.generation();
      await expectCode(
        store.write([
          { op: 'put', key: 'atomic/new1', value: bytes('n1') },
          { op: 'delete', key: 'atomic/keep' },
          { op: 'put', key: 'atomic/new2', value: bytes('n2'), expectRevision: 0 },
          { op: 'put', key: 'atomic/target', value: bytes('t2'), expectRevision: base - 1 },
        ]),
        'ECONFLICT',
      );
      assert.equal(await store.generation(), before);
      assert.deepEqual(keysOf(await store.list('atomic/')), ['atomic/keep', 'atomic/target']);
      assert.equal(text((await store.get('atomic/target'))!.value), 't1');
      assert.deepEqual(await store.changedSince(before), []);
    });

    test('list returns keys in code-unit order, by prefix, with after/limit paging', async () => {
      // '-' and '.' sort before '/', '/' before digits, digits before upper case, '_' between cases.
      const keys = [
        'order/a',
        'order/a-b',
        'order/a.c',
        'order/a/x',
        'order/a/x/y',
        'order/a0',
        'order/aB',
        'order/a_',
        'order/ab',
        'order/A',
        'order/Z',
        'order/_',
        'order/b/c/d/e',
        'order/-',
        'order/.hidden',
        'order/..x',
      ];
      await store.write(keys.map((key) => ({ op: 'put' as const, key, value: bytes(key) })));
      const sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const all = await store.list('order/');
      assert.deepEqual(keysOf(all), sorted);
      for (const record of all) assert.equal(text(record.value), record.key);
      // A partial last segment matches by string prefix; a trailing '/' lists one subtree.
      assert.deepEqual(
        keysOf(await store.list('order/a')),
        sorted.filter((k) => k.startsWith('order/a')),
      );
      assert.deepEqual(keysOf(await store.list('order/a/')), ['order/a/x', 'order/a/x/y']);
      assert.deepEqual(keysOf(await store.list('order/a/x')), ['order/a/x', 'order/a/x/y']);
      assert.deepEqual(keysOf(await store.list('order/..')), ['order/..x']);
      assert.deepEqual(await store.list('order/nothing'), []);
      assert.deepEqual(await store.list('absent-prefix/'), []);
      // Paging with after/limit reassembles the full listing.
      for (const size of [1, 3, 5]) {
        const pages: string[] = [];
        let cursor: string | undefined;
        for (;;) {
          const page = await store.list('order/', { limit: size, ...(cursor ? { after: cursor } : {}) });
          assert.ok(page.length <= size);
          if (page.length === 0) break;
          pages.push(...keysOf(page));
          cursor = page[page.length - 1]!.key;
        }
        assert.deepEqual(pages, sorted);
      }
      const past = (key: string) => sorted.filter((k) => k > key);
      assert.deepEqual(keysOf(await store.list('order/', { after: 'order/a/x' })), past('order/a/x'));
      assert.deepEqual(
        keysOf(await store.list('order/', { after: 'order/a/x/y', limit: 2 })),
        past('order/a/x/y').slice(0, 2),
      );
      // `after` need not be a stored key.
      assert.deepEqual(keysOf(await store.list('order/', { after: 'order/a/w' })), past('order/a/w'));
      // `after` before the prefix's range lists from its start; after its range, nothing.
      assert.deepEqual(keysOf(await store.list('order/b', { after: 'order/a' })), ['order/b/c/d/e']);
      assert.deepEqual(await store.list('order/a/', { after: 'order/zzz' }), []);
      // The whole store, in order.
      const everything = keysOf(await store.list(''));
      assert.deepEqual(
        everything,
        [...everything].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      );
      assert.ok(everything.includes('order/a/x/y'));
    });

    test('changedSince returns exactly the records written after a generation', async () => {
      await store.write([
        { op: 'put', key: 'since/old', value: bytes('old') },
        { op: 'put', key: 'since/gone', value: bytes('gone') },
        { op: 'put', key: 'since/rewritten', value: bytes('r1') },
      ]);
      const mark = await store.generation();
      assert.deepEqual(await store.changedSince(mark), []);
      const g1 = await store.write([{ op: 'put', key: 'since/b-new', value: bytes('new') }]);
      const g2 = await store.write([
        { op: 'put', key: 'since/rewritten', value: bytes('r2') },
        { op: 'delete', key: 'since/gone' },
      ]);
      const changed = await store.changedSince(mark);
      assert.deepEqual(
        changed.map((r) => [r.key, r.revision, text(r.value)]),
        [
          ['since/b-new', g1, 'new'],
          ['since/rewritten', g2, 'r2'],
        ],
      );
      assert.deepEqual(keysOf(await store.changedSince(g1)), ['since/rewritten']);
      assert.deepEqual(await store.changedSince(g2), []);
      assert.deepEqual(await store.changedSince(g2 + 1000), []);
    });

    test('values: empty, 1 MiB, every byte value; stored bytes are copies', async () => {
      const big = randomBytes(1024 * 1024);
      const allBytes = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      const input = new Uint8Array([1, 2, 3]);
      // A view into a larger buffer: only its own bytes may be stored.
      const backing = Uint8Array.from([9, 9, 4, 5, 6, 9, 9]);
      await store.write([
        { op: 'put', key: 'values/empty', value: new Uint8Array(0) },
        { op: 'put', key: 'values/big', value: big },
        { op: 'put', key: 'values/binary', value: allBytes },
        { op: 'put', key: 'values/input', value: input },
        { op: 'put', key: 'values/view', value: backing.subarray(2, 5) },
      ]);
      input[0] = 42;
      const empty = await store.get('values/empty');
      assert.ok(empty);
      assert.equal(empty.value.byteLength, 0);
      assert.ok(empty.value instanceof Uint8Array);
      assert.ok(Buffer.from((await store.get('values/big'))!.value).equals(big));
      assert.deepEqual((await store.get('values/binary'))!.value, allBytes);
      assert.deepEqual((await store.get('values/input'))!.value, new Uint8Array([1, 2, 3]));
      assert.deepEqual((await store.get('values/view'))!.value, new Uint8Array([4, 5, 6]));
      const fetched = await store.get('values/binary');
      fetched!.value.fill(0);
      assert.deepEqual((await store.get('values/binary'))!.value, allBytes);
      const listed = await store.list('values/');
      assert.deepEqual(keysOf(listed), [
        'values/big',
        'values/binary',
        'values/empty',
        'values/input',
        'values/view',
      ]);
      assert.equal(listed[0]!.value.byteLength, big.length);
    });

    test('invalid keys, prefixes, options and batches are EINVAL and write nothing', async () => {
      // The longest valid key is accepted.
      const longest = Array.from({ length: 16 }, (_, i) => `${i % 10}`.repeat(128)).join('/');
      await store.write([{ op: 'put', key: longest, value: bytes('long') }]);
      assert.equal(text((await store.get(longest))!.value), 'long');
      await store.write([{ op: 'delete', key: longest }]);

      const before = await store.generation();
      const badKeys: unknown[] = [
        '',
        '/a',
        'a/',
        'a//b',
        'a/./b',
        'a/../b',
        '..',
        '.',
        'a b',
        'a\\b',
        'a:b',
        'a@b',
        'é',
        'a\0b',
        'x'.repeat(129),
        Array.from({ length: 17 }, () => 's').join('/'),
        42,
        undefined,
        null,
      ];
      for (const key of badKeys) {
        await expectCode(() => store.get(key as string), 'EINVAL');
        await expectCode(() => store.write([{ op: 'put', key: key as string, value: bytes('x') }]), 'EINVAL');
        await expectCode(() => store.write([{ op: 'delete', key: key as string }]), 'EINVAL');
      }
      for (const prefix of ['../', 'a/../', '/a', 'a//', 'a b', 'a\\', 7]) {
        await expectCode(() => store.list(prefix as string), 'EINVAL');
      }
      for (const options of [
        { limit: 0 },
        { limit: -1 },
        { limit: 1.5 },
        { after: 'a/../b' },
        { after: '' },
        'x',
      ]) {
        await expectCode(() => store.list('', options as never), 'EINVAL');
      }
      for (const generation of [-1, 1.5, Number.NaN, '3', 2 ** 60]) {
        await expectCode(() => store.changedSince(generation as number), 'EINVAL');
      }
      const badBatches: unknown[] = [
        [],
        'nope',
        [null],
        [{ op: 'upsert', key: 'inv/a', value: bytes('x') }],
        [{ op: 'put', key: 'inv/a', value: 'text' }],
        [{ op: 'put', key: 'inv/a', value: [1, 2] }],
        [{ op: 'put', key: 'inv/a' }],
        [{ op: 'put', key: 'inv/a', value: bytes('x'), expectRevision: -1 }],
        [{ op: 'put', key: 'inv/a', value: bytes('x'), expectRevision: 1.5 }],
        [{ op: 'put', key: 'inv/a', value: bytes('x'), expectRevision: '1' }],
        [
          { op: 'put', key: 'inv/a', value: bytes('x') },
          { op: 'delete', key: 'inv/a' },
        ],
        [
          { op: 'put', key: 'inv/ok', value: bytes('x') },
          { op: 'put', key: 'inv/../bad', value: bytes('x') },
        ],
      ];
      for (const batch of badBatches) await expectCode(() => store.write(batch as WriteOp[]), 'EINVAL');
      // Size bounds are E2BIG, checked before any work.
      await expectCode(
        () => store.write([{ op: 'put', key: 'inv/huge', value: new Uint8Array(64 * 1024 * 1024 + 1) }]),
        'E2BIG',
      );
      await expectCode(
        () =>
          store.write(
            Array.from({ length: 10_001 }, (_, i) => ({ op: 'delete' as const, key: `inv/k${i}` })),
          ),
        'E2BIG',
      );
      assert.equal(await store.generation(), before);
      assert.deepEqual(await store.list('inv/'), []);
    });

    test('a caller batch at the limit commits with the record tree on top; one op more is E2BIG (SPEC §9.1)', async () => {
      // The keystore's VerifiedStorage adds the tree's nodes and root to each batch: 10 000 new records
      // make a tree of 274 nodes, and 10 000 more on top of them change some 4 000 nodes (SPEC §4.1).
      const verified = new VerifiedStorage(store, () => new Uint8Array(32).fill(7));
      verified.allowMissingRoot(true);
      const value = bytes('v');
      const batch = (round: number, count = MAX_BATCH_OPS): WriteOp[] =>
        Array.from({ length: count }, (_, i) => ({
          op: 'put' as const,
          key: `limit/r${round}/${String(i).padStart(5, '0')}`,
          value,
        }));
      const treeOpsOf = async (fn: () => Promise<number>) => {
        const before = await store.generation();
        const generation = await fn();
        const written = await store.changedSince(before);
        const tree = written.filter((r) => r.key.startsWith(TREE_RECORD_PREFIX)).length;
        assert.equal(written.length - tree, MAX_BATCH_OPS);
        return { generation, tree };
      };
      assert.ok((await treeOpsOf(() => verified.write(batch(0)))).tree > 200);
      const atLimit = await treeOpsOf(() => verified.write(batch(1)));
      const generation = atLimit.generation;
      assert.ok(atLimit.tree > 3000, `the tree added only ${atLimit.tree} records`);
      assert.equal((await verified.get('limit/r1/09999'))?.revision, generation);
      assert.equal((await verified.list('limit/')).length, 2 * MAX_BATCH_OPS);

      // One caller op more: E2BIG before any I/O, nothing stored, the tree unchanged.
      const root = await verified.root();
      await expectCode(() => verified.write(batch(3, MAX_BATCH_OPS + 1)), 'E2BIG');
      assert.equal(await store.generation(), generation);
      assert.deepEqual(await store.list('limit/r3/'), []);
      assert.deepEqual(await verified.root(), root);

      // The backend's own bounds: caller ops and tree ops are counted apart, each E2BIG past its own.
      const tree = (count: number): WriteOp[] =>
        Array.from({ length: count }, (_, i) => ({
          op: 'delete' as const,
          key: `${TREE_RECORD_PREFIX}t/${i}`,
        }));
      await expectCode(() => store.write([...batch(4, MAX_BATCH_OPS + 1), ...tree(1)]), 'E2BIG');
      await expectCode(() => store.write([...batch(4, 1), ...tree(MAX_TREE_OPS + 1)]), 'E2BIG');
      assert.equal(await store.generation(), generation);
      assert.deepEqual(await store.list('limit/r4/'), []);
    });

    test('a second handle sees everything; reopening after close keeps everything', async () => {
      const g = await store.write([
        { op: 'put', key: 'reopen/a', value: bytes('a') },
        { op: 'put', key: 'reopen/b/c', value: randomBytes(300) },
      ]);
      const expected = await store.list('reopen/');
      const other = await open();
      try {
        assert.deepEqual(await other.list('reopen/'), expected);
        assert.equal(await other.generation(), g);
        const g2 = await other.write([{ op: 'put', key: 'reopen/d', value: bytes('d'), expectRevision: 0 }]);
        assert.equal((await store.get('reopen/d'))!.revision, g2);
      } finally {
        await other.close();
      }
      const third = await open();
      try {
        assert.deepEqual(keysOf(await third.list('reopen/')), ['reopen/a', 'reopen/b/c', 'reopen/d']);
        assert.deepEqual((await third.get('reopen/b/c'))!.value, expected[1]!.value);
      } finally {
        await third.close();
      }
    });

    test('every call on a closed handle is EUNAVAIL; close is idempotent', async () => {
      const handle = await open();
      await handle.write([{ op: 'put', key: 'closed/a', value: bytes('a') }]);
      await handle.close();
      await handle.close();
      await expectCode(() => handle.get('closed/a'), 'EUNAVAIL');
      await expectCode(() => handle.list('closed/'), 'EUNAVAIL');
      await expectCode(() => handle.write([{ op: 'put', key: 'closed/b', value: bytes('b') }]), 'EUNAVAIL');
      await expectCode(() => handle.generation(), 'EUNAVAIL');
      await expectCode(() => handle.changedSince(0), 'EUNAVAIL');
      // The store itself is untouched by the closed handle.
      assert.equal(text((await store.get('closed/a'))!.value), 'a');
      assert.equal(await store.get('closed/b'), undefined);
    });

    test('concurrent writers in one process: independent batches and CAS increments', async () => {
      const generations = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          store.write([{ op: 'put', key: `conc/k${String(i).padStart(2, '0')}`, value: bytes(String(i)) }]),
        ),
      );
      assert.equal(new Set(generations).size, 40);
      const listed = await store.list('conc/');
      assert.equal(listed.length, 40);
      for (const record of listed) assert.equal(record.revision, generations[Number(text(record.value))]);

      const second = await open();
      try {
        const handles = [store, second, store, second];
        const perWorker = 6;
        await Promise.all(
          handles.map(async (handle, worker) => {
            for (let i = 0; i < perWorker; i++)
              await casIncrement(handle, 'conc/counter', 'conc/hist/', `w${worker}`);
          }),
        );
        const total = handles.length * perWorker;
        assert.equal(text((await store.get('conc/counter'))!.value), String(total));
        const history = await store.list('conc/hist/');
        assert.deepEqual(
          keysOf(history),
          Array.from({ length: total }, (_, i) => historyKey('conc/hist/', i + 1)),
        );
        const byWorker = new Map<string, number>();
        for (const record of history)
          byWorker.set(text(record.value), (byWorker.get(text(record.value)) ?? 0) + 1);
        assert.deepEqual([...byWorker.values()], Array(handles.length).fill(perWorker));
        // History revisions increase with the count: each increment committed after the previous.
        for (let i = 1; i < history.length; i++) assert.ok(history[i]!.revision > history[i - 1]!.revision);
      } finally {
        await second.close();
      }
    });

    test('a reader running alongside a writer never observes half a batch', async () => {
      const keys = Array.from({ length: 12 }, (_, i) => `iso/k${String(i).padStart(2, '0')}`);
      const reader = await open();
      let writing = true;
      let stop = false;
      let observations = 0;
      const writer = (async () => {
        for (let round = 1; round <= 25 && !stop; round++) {
          await store.write(keys.map((key) => ({ op: 'put' as const, key, value: bytes(`round ${round}`) })));
        }
      })().finally(() => {
        writing = false;
      });
      try {
        while (writing) {
          const listed = await reader.list('iso/');
          const first = await reader.get(keys[0]!);
          const last = await reader.get(keys[keys.length - 1]!);
          if (listed.length > 0) {
            assert.equal(listed.length, keys.length, 'a listing saw part of a batch');
            assert.equal(new Set(listed.map((r) => r.revision)).size, 1, 'a listing mixed two batches');
            assert.equal(new Set(listed.map((r) => text(r.value))).size, 1);
          }
          // Reads in order: once the first key shows a batch, the last key cannot show an older one.
          if (first !== undefined) assert.ok(last !== undefined && last.revision >= first.revision);
          observations++;
          await new Promise((resolve) => setImmediate(resolve));
        }
      } finally {
        stop = true;
        await writer;
        await reader.close();
      }
      assert.ok(observations > 0);
    });

    test('random batches behave like the reference model (property)', async () => {
      let run = 0;
      const keyArb = fc.constantFrom('a', 'b', 'c', 'd/e', 'd/f', 'd-g');
      const opArb = fc.record({
        op: fc.constantFrom('put' as const, 'delete' as const),
        key: keyArb,
        value: fc.uint8Array({ maxLength: 40 }),
        // 'none' | absent | current | stale
        cond: fc.constantFrom('none', 'absent', 'current', 'stale'),
      });
      const batchArb = fc.uniqueArray(opArb, { minLength: 1, maxLength: 4, selector: (op) => op.key });
      await fc.assert(
        fc.asyncProperty(fc.array(batchArb, { minLength: 1, maxLength: 10 }), async (batches) => {
          const prefix = `model/run${run++}/`;
          const model = new Map<string, { value: Uint8Array; revision: number }>();
          for (const batch of batches) {
            let expectedOk = true;
            const ops: WriteOp[] = batch.map((o) => {
              const current = model.get(o.key)?.revision;
              let expectRevision: number | undefined;
              if (o.cond === 'absent') expectRevision = 0;
              if (o.cond === 'current') expectRevision = current ?? 0;
              if (o.cond === 'stale') expectRevision = (current ?? 0) + 7;
              if (expectRevision !== undefined) {
                const holds = expectRevision === 0 ? current === undefined : current === expectRevision;
                if (!holds) expectedOk = false;
              }
              const key = prefix + o.key;
              return o.op === 'put'
                ? {
                    op: 'put',
                    key,
                    value: o.value,
                    ...(expectRevision === undefined ? {} : { expectRevision }),
                  }
                : { op: 'delete', key, ...(expectRevision === undefined ? {} : { expectRevision }) };
            });
            const before = await store.generation();
            if (expectedOk) {
              const generation = await store.write(ops);
              assert.ok(generation > before);
              for (const o of batch) {
                if (o.op === 'put') model.set(o.key, { value: o.value, revision: generation });
                else model.delete(o.key);
              }
            } else {
              await expectCode(store.write(ops), 'ECONFLICT');
              assert.equal(await store.generation(), before);
            }
          }
          const expected = [...model.entries()]
            .map(([key, r]) => ({ key: prefix + key, value: r.value, revision: r.revision }))
            .sort((a, b) => (a.key < b.key ? -1 : 1));
          assert.deepEqual(await store.list(prefix), expected);
          for (const r of expected) assert.deepEqual(await store.get(r.key), r);
        }),
        { numRuns: 25 },
      );
    });
  });
}
