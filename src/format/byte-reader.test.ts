// The byte reader under sealed streams (SPEC §6.2.5): any piece layout (empty pieces included, sync or
// async sources) gives the same chunks with the right last-chunk flags (fast-check), and pieces that are
// not bytes are EINVAL with the source closed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { ByteReader } from './byte-reader.js';

function code(expected: string) {
  return (error: unknown) => {
    assert.ok(error instanceof CofferError, String(error));
    assert.equal(error.code, expected, error.message);
    return true;
  };
}

test('fuzz: the byte reader cuts any piece layout into the same chunks with the right last flags', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 0, maxLength: 700 }),
      fc.array(fc.nat(200), { maxLength: 12 }),
      fc.integer({ min: 1, max: 130 }),
      fc.boolean(),
      async (data, cuts, n, asAsync) => {
        // split `data` at the cut points (empty pieces included, which the reader must skip)
        const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
        const pieces: Uint8Array[] = [];
        let from = 0;
        for (const p of [...points, data.length]) {
          pieces.push(data.slice(from, p));
          from = p;
        }
        async function* asyncPieces() {
          yield* pieces;
        }
        const reader = new ByteReader(asAsync ? asyncPieces() : pieces);
        const seen: number[] = [];
        for (;;) {
          const { bytes, last } = await reader.readChunk(n);
          seen.push(...bytes);
          const rest = data.length - seen.length;
          assert.equal(last, rest === 0, `last flag with ${rest} bytes left`);
          assert.ok(bytes.length === n || last);
          if (last) break;
        }
        assert.deepEqual(Uint8Array.from(seen), data);
        assert.equal(reader.consumed, data.length);
      },
    ),
    { numRuns: 500 },
  );
});

test('the byte reader refuses pieces that are not bytes (EINVAL) and closes the source', async () => {
  let closed = false;
  const source = {
    [Symbol.iterator]() {
      let i = 0;
      return {
        next: () => ({ done: false, value: i++ === 0 ? Uint8Array.of(1) : 'text' }),
        return: () => {
          closed = true;
          return { done: true, value: undefined };
        },
      };
    },
  } as unknown as Iterable<Uint8Array>;
  const reader = new ByteReader(source);
  await assert.rejects(reader.readChunk(10), code('EINVAL'));
  assert.equal(closed, true);
  for (const bad of ['text', 42, null, undefined, { length: 3 }])
    assert.throws(() => new ByteReader(bad as unknown as Uint8Array), code('EINVAL'));
});
