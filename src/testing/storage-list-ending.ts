// Tests of the optional Storage.listEnding (SPEC §9.1) for the backends that have it: on random key
// sets, every (prefix, ending, after, limit) gives exactly what `list` gives filtered by the ending,
// in the same order; bad endings are EINVAL before any I/O.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Storage } from '../storage/types.js';
import { expectCode } from './storage-conformance.js';

const SEGMENTS = ['a', 'b', 'meta', 'v1', 'x-meta', 'meta.1'] as const;

export function exerciseListEnding(name: string, open: () => Promise<Storage>): void {
  test(`${name}: listEnding is list filtered by the key's ending, with after and limit`, async () => {
    const store = await open();
    try {
      assert.equal(typeof store.listEnding, 'function');
      const listEnding = store.listEnding!.bind(store);
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(
            fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
            { minLength: 1, maxLength: 30 },
          ),
          fc.constantFrom('', 'a/', 'a/b', 'b/'),
          fc.constantFrom('/meta', 'meta', 'a', '/v1', 'x-meta'),
          fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
          fc.nat(),
          async (paths, prefix, ending, limit, afterPick) => {
            const root = `le${++round}/`;
            await store.write(
              paths.map((p) => ({ op: 'put' as const, key: root + p, value: Uint8Array.of(p.length) })),
            );
            const all = (await store.list(root + prefix)).filter((r) => r.key.endsWith(ending));
            const after =
              afterPick % 3 === 0 || all.length === 0 ? undefined : all[afterPick % all.length]!.key;
            const expected = all
              .filter((r) => after === undefined || r.key > after)
              .slice(0, limit ?? Number.POSITIVE_INFINITY);
            const got = await listEnding(root + prefix, ending, {
              ...(after !== undefined ? { after } : {}),
              ...(limit !== undefined ? { limit } : {}),
            });
            assert.deepEqual(
              got.map((r) => [r.key, [...r.value], r.revision]),
              expected.map((r) => [r.key, [...r.value], r.revision]),
            );
          },
        ),
        { numRuns: 40 },
      );
      for (const bad of ['', 'a%', '*', "'", 'x'.repeat(129), 7 as unknown as string])
        await expectCode(listEnding('le1/', bad), 'EINVAL');
      await expectCode(listEnding('le1/', '/meta', { limit: 0 }), 'EINVAL');
    } finally {
      await store.close();
    }
  });
}
