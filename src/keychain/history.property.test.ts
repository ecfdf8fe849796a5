// Property test of SPEC §16.4: random sequences of add / update / delete / undelete never lose a
// version within the history bound — every version a model of the sequence says was written is the
// current record or in history, with its secret, newest first, and nothing beyond the bound remains.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { Keystore } from '../core/keystore.js';
import { tempKeystore } from '../testing/keystore.js';

let ks: Keystore;
let cleanup: () => Promise<void>;
before(async () => {
  ({ ks, cleanup } = await tempKeystore());
});
after(() => cleanup());

type Op =
  | { op: 'update'; item: number; secret: string }
  | { op: 'delete'; item: number }
  | { op: 'undelete'; item: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('update' as const), item: fc.nat(2), secret: fc.string({ maxLength: 40 }) }),
  fc.record({ op: fc.constant('delete' as const), item: fc.nat(2) }),
  fc.record({ op: fc.constant('undelete' as const), item: fc.nat(2) }),
);

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

test('random add/update/delete/undelete sequences never lose a version within the bound', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 6 }),
      fc.array(opArb, { maxLength: 25 }),
      async (bound, ops) => {
        await ks.keychain.setHistoryBound({ count: bound, bytes: 1 << 20 });
        // Model: per item, every version written, as a secret or a tombstone (null).
        const versions: (string | null)[][] = [];
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          const secret = `initial-${i}`;
          ids.push((await ks.keychain.add({ kind: 'note', attributes: { label: `p${i}` }, secret })).id);
          versions.push([secret]);
        }
        for (const op of ops) {
          const model = versions[op.item]!;
          const id = ids[op.item]!;
          const live = model.at(-1) !== null;
          if (op.op === 'update') {
            if (live) {
              await ks.keychain.update(id, { secret: op.secret }, { expectedVersion: model.length });
              model.push(op.secret);
            } else await assert.rejects(ks.keychain.update(id, { secret: op.secret }), { code: 'ENOENT' });
          } else if (op.op === 'delete') {
            if (live) {
              await ks.keychain.delete(id);
              model.push(null);
            } else await assert.rejects(ks.keychain.delete(id), { code: 'ENOENT' });
          } else if (live) {
            await assert.rejects(ks.keychain.undelete(id), { code: 'EALREADY' });
          } else {
            // The version brought back is the newest live one the bound still holds (SPEC §16.4).
            const kept = model.slice(Math.max(0, model.length - 1 - bound), -1);
            const back = [...kept].reverse().find((v) => v !== null);
            if (back === undefined) await assert.rejects(ks.keychain.undelete(id), { code: 'ENOENT' });
            else {
              await ks.keychain.undelete(id);
              model.push(back);
            }
          }
        }
        for (const [i, model] of versions.entries()) {
          const id = ids[i]!;
          const info = await ks.keychain.getInfo(id);
          assert.equal(info.version, model.length);
          if (model.at(-1) !== null) assert.equal(text((await ks.keychain.get(id)).secret), model.at(-1));
          const history = await ks.keychain.history(id);
          const expected = model
            .slice(0, -1)
            .map((secret, v) => ({ version: v + 1, secret }))
            .reverse()
            .slice(0, bound);
          assert.deepEqual(
            history.map((h) => ({
              version: h.version,
              secret: h.deletedAt !== undefined ? null : text(h.secret),
            })),
            expected,
          );
        }
      },
    ),
    { numRuns: 40 },
  );
});
