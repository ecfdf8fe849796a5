// The dir: backend's changes index `@changes` and group journal (SPEC §9.6): the byte vectors,
// parsers fuzzed with fast-check (a torn or damaged file only ever yields a prefix of what was
// written), changedSince served without walking the tree, and a torn tail, a deleted file, a
// damaged entry or a version-1 store all repaired or rebuilt to the same answers as a walk.
import assert from 'node:assert/strict';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { expectCode } from '../testing/storage-conformance.js';
import { dirStats, openDirStorage } from './dir.js';
import {
  type ChangesEntry,
  changesHeader,
  encodeChangesEntry,
  parseChanges,
  sortItems,
} from './dir-changes.js';
import {
  APPLIED_FILE,
  CHANGES_FILE,
  decodeJournal,
  encodeApplied,
  encodeJournal,
  encodeJournalV1,
  JOURNAL_FILE,
  MARKER_FILE,
} from './dir-format.js';
import type { Storage } from './types.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-dir-changes-'));
after(() => rmSync(root, { recursive: true, force: true }));
const enc = new TextEncoder();

// SPEC §9.6 vectors.
const CHANGES_VECTOR =
  '434643310000003c000000000000000500000000000000060000000300000000000000000006612f676f6e65' +
  '00000000000000050003612f780000000000000006000162f5fdff396ab29062b5d724c11c62fe1a32435419' +
  '83091104241a51346204e072';
const JOURNAL_VECTOR =
  '43464a3200000000000000060000000200000001010003612f7800000002686900000002020006612f676f6e' +
  '650100016200000000ac3a2a553ba48f44c4d744c77b7d2f1fc9c1a5172f1654cb1c04ec1ef1dfc490';

test('dir: @changes and group journal match the SPEC §9.6 vectors', () => {
  const entry: ChangesEntry = {
    first: 5,
    last: 6,
    items: [
      { revision: 0, key: 'a/gone' },
      { revision: 5, key: 'a/x' },
      { revision: 6, key: 'b' },
    ],
  };
  const file = Buffer.concat([changesHeader(), encodeChangesEntry(entry)]);
  assert.equal(file.toString('hex'), CHANGES_VECTOR);
  assert.deepEqual(parseChanges(file, 0, 4), { entries: [entry], end: file.length, last: 6, stop: 'end' });
  // The chain is checked: the same entry after generation 3 leaves a gap.
  assert.equal(parseChanges(file, 0, 3).stop, 'bad');
  const journal = {
    generation: 6,
    batches: [
      { generation: 5, ops: [{ op: 'put' as const, key: 'a/x', value: enc.encode('hi') }] },
      {
        generation: 6,
        ops: [
          { op: 'delete' as const, key: 'a/gone' },
          { op: 'put' as const, key: 'b', value: new Uint8Array(0) },
        ],
      },
    ],
  };
  assert.equal(encodeJournal(journal).toString('hex'), JOURNAL_VECTOR);
  assert.deepEqual(decodeJournal(Buffer.from(JOURNAL_VECTOR, 'hex'), 'vector'), journal);
  // A format-1 journal still decodes (a version-1 writer's batch is finished after an upgrade).
  const v1 = encodeJournalV1(7, [{ op: 'delete', key: 'x' }]);
  assert.deepEqual(decodeJournal(v1, 'v1'), {
    generation: 7,
    batches: [{ generation: 7, ops: [{ op: 'delete', key: 'x' }] }],
  });
});

const key = fc
  .array(fc.constantFrom(...'abcXYZ019._-'), { minLength: 1, maxLength: 8 })
  .filter((c) => c.join('') !== '.' && c.join('') !== '..')
  .map((c) => c.join(''));

/** A valid chain of entries from generation 1. */
const chain = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.uniqueArray(key, { maxLength: 6 })), { maxLength: 6 })
  .chain((specs) =>
    fc
      .tuple(
        ...specs.map(([span, keys]) =>
          fc.tuple(
            fc.constant(span),
            fc.constant(keys),
            fc.array(fc.nat(span), { minLength: keys.length, maxLength: keys.length }),
          ),
        ),
      )
      .map((drawn) => {
        const entries: ChangesEntry[] = [];
        let last = 0;
        for (const [span, keys, offsets] of drawn) {
          const first = last + 1;
          last += span;
          // Offset 0 is a delete; n is a put at first + n − 1.
          const items = keys.map((k, i) => ({
            key: k,
            revision: offsets[i] === 0 ? 0 : first + offsets[i]! - 1,
          }));
          entries.push({ first, last, items: sortItems(items) });
        }
        return entries;
      }),
  );

test('dir: @changes parser — any cut or flipped byte yields only a prefix of the entries (property)', () => {
  fc.assert(
    fc.property(chain, fc.nat(), fc.nat(), fc.boolean(), (entries, cutAt, flipAt, flip) => {
      const whole = Buffer.concat([changesHeader(), ...entries.map(encodeChangesEntry)]);
      const parsed = parseChanges(whole, 0, 0);
      assert.deepEqual(parsed.entries, entries);
      assert.equal(parsed.stop, 'end');
      const damaged = Buffer.from(whole.subarray(0, cutAt % (whole.length + 1)));
      if (flip && damaged.length > 0) damaged[flipAt % damaged.length]! ^= 1 << (flipAt % 8);
      const result = parseChanges(damaged, 0, 0);
      assert.deepEqual(result.entries, entries.slice(0, result.entries.length));
      assert.ok(result.end <= damaged.length);
      assert.equal(result.last, result.entries.at(-1)?.last ?? 0);
      // Undamaged, cut: 'end' exactly at an entry boundary, otherwise 'partial'.
      if (!flip && damaged.length >= 4) assert.ok(result.stop === 'end' || result.stop === 'partial');
    }),
    { numRuns: 300 },
  );
});

test('dir: @changes and journal parsers never throw anything but a verdict on arbitrary bytes (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withMagic) => {
      const input = withMagic ? Buffer.concat([changesHeader(), Buffer.from(bytes)]) : Buffer.from(bytes);
      const parsed = parseChanges(input, 0, 0);
      assert.ok(parsed.end <= input.length);
      let previous = 0;
      for (const entry of parsed.entries) {
        assert.equal(entry.first, previous + 1);
        previous = entry.last;
      }
      const journal = Buffer.concat([Buffer.from(withMagic ? 'CFJ2' : 'CFJ1'), Buffer.from(bytes)]);
      try {
        decodeJournal(journal, 'fuzz');
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'EUNAVAIL');
      }
    }),
    { numRuns: 500 },
  );
});

/** What changedSince must return, from a walk of everything. */
async function reference(store: Storage, since: number): Promise<[string, number][]> {
  return (await store.list('')).filter((r) => r.revision > since).map((r) => [r.key, r.revision]);
}

async function assertChangesMatchWalk(store: Storage, marks: number[]): Promise<void> {
  for (const since of marks) {
    assert.deepEqual(
      (await store.changedSince(since)).map((r) => [r.key, r.revision]),
      await reference(store, since),
      `changedSince(${since})`,
    );
  }
}

/** A store with 300 records, then 10 more batches that rewrite, add and delete. */
async function populated(name: string): Promise<{ path: string; store: Storage; marks: number[] }> {
  const path = join(root, name);
  const store = await openDirStorage(path, { create: true });
  const ops = Array.from({ length: 300 }, (_, i) => ({
    op: 'put' as const,
    key: `p/${i % 7}/r${i}`,
    value: enc.encode(`v${i}`),
  }));
  const marks = [0, await store.write(ops)];
  for (let i = 0; i < 10; i++) {
    marks.push(
      await store.write([
        { op: 'put', key: `p/${i % 7}/r${i * 13}`, value: enc.encode(`new ${i}`) },
        { op: 'put', key: `q/added/${i}`, value: enc.encode('added') },
        { op: 'delete', key: `p/${(i + 3) % 7}/r${i * 17 + 3}` },
      ]),
    );
  }
  return { path, store, marks: [...marks, marks.at(-1)! + 5] };
}

test('dir: changedSince is served by the index, never by walking the tree', async () => {
  const { store, marks } = await populated('no-walk');
  // 300 records, and changedSince of the last 2 batches reads only the files they wrote (a walk
  // would read all 300).
  const readsBefore = dirStats(store).recordReads;
  assert.equal((await store.changedSince(marks.at(-4)!)).length, 4);
  assert.ok(
    dirStats(store).recordReads - readsBefore <= 4,
    `${dirStats(store).recordReads - readsBefore} files read`,
  );
  assert.equal(dirStats(store).rebuilds, 0);
  const since = marks.at(-3)!;
  assert.deepEqual(
    (await store.changedSince(since)).map((r) => r.key),
    // Batch 9 only: its rewrite and its addition (its delete leaves no trace).
    ['p/2/r117', 'q/added/9'],
  );
  await assertChangesMatchWalk(store, marks);
  await store.close();
});

test('dir: a torn @changes tail is cut off and the lost entry restored from the journal', async () => {
  const { path, store, marks } = await populated('torn');
  const file = join(path, CHANGES_FILE);
  const size = statSync(file).size;
  // Torn inside the last entry, as a kill during its append leaves it (the journal is applied,
  // @applied is behind).
  truncateSync(file, size - 20);
  writeFileSync(join(path, APPLIED_FILE), encodeApplied(marks.at(-2)! - 1));
  // A reader takes the index up to the journal and the journal for the rest.
  await assertChangesMatchWalk(store, marks);
  await store.close();
  // The next lock holder cuts the torn entry off and appends it again from the journal.
  const reopened = await openDirStorage(path);
  assert.equal(statSync(file).size, size);
  assert.equal(dirStats(reopened).rebuilds, 0, 'a torn tail needs no rebuild');
  await assertChangesMatchWalk(reopened, marks);
  // Torn with @applied current: the open handle's reader sees the index short of what is applied,
  // and repairs it under the lock.
  truncateSync(file, size - 7);
  await assertChangesMatchWalk(reopened, marks);
  assert.equal(statSync(file).size, size);
  assert.equal(dirStats(reopened).rebuilds, 0);
  // Garbage past the last entry (an append torn before its group's journal committed) is cut off.
  appendFileSync(file, Buffer.from('0000004a0000', 'hex'));
  await reopened.close();
  const third = await openDirStorage(path);
  assert.equal(statSync(file).size, size);
  await assertChangesMatchWalk(third, marks);
  await third.close();
});

test('dir: a deleted or damaged @changes is rebuilt from the record files', async () => {
  const { path, store, marks } = await populated('rebuild');
  const file = join(path, CHANGES_FILE);
  const original = readFileSync(file);
  // Deleted under an open handle: its next changedSince repairs it (under the lock) by a walk.
  unlinkSync(file);
  await assertChangesMatchWalk(store, marks);
  assert.equal(dirStats(store).rebuilds, 1);
  assert.ok(existsSync(file));
  await store.close();
  // A bit flipped in an entry in the middle: everything from it on is distrusted, and as the
  // journal cannot bridge the gap, the index is rebuilt on open.
  const damaged = Buffer.from(original);
  damaged[120]! ^= 0x04;
  writeFileSync(file, damaged);
  const reopened = await openDirStorage(path);
  assert.equal(dirStats(reopened).rebuilds, 1);
  await assertChangesMatchWalk(reopened, marks);
  // Not a changes file at all.
  await reopened.close();
  writeFileSync(file, 'not an index');
  const third = await openDirStorage(path);
  await assertChangesMatchWalk(third, marks);
  assert.ok(readFileSync(file).subarray(0, 4).equals(changesHeader()));
  // Writes go on appending to the rebuilt index.
  const g = await third.write([{ op: 'put', key: 'after/rebuild', value: enc.encode('x') }]);
  await assertChangesMatchWalk(third, [...marks, g - 1, g]);
  await third.close();
});

test('dir: @changes is compacted once it holds far more items than live keys', async () => {
  const path = join(root, 'compact');
  const store = await openDirStorage(path, { create: true });
  const keys = Array.from({ length: 2500 }, (_, i) => `c/${i}`);
  const g1 = await store.write(keys.map((k) => ({ op: 'put' as const, key: k, value: enc.encode('x') })));
  const g2 = await store.write(keys.map((k) => ({ op: 'delete' as const, key: k })));
  const g3 = await store.write([{ op: 'put', key: 'c/kept', value: enc.encode('y') }]);
  // 5001 items for 1 live key: compacted to one snapshot entry (magic + ~70 bytes).
  assert.ok(
    statSync(join(path, CHANGES_FILE)).size < 200,
    `${statSync(join(path, CHANGES_FILE)).size} bytes`,
  );
  await assertChangesMatchWalk(store, [0, g1, g2, g3]);
  await store.close();
});

test('dir: a version-1 store is upgraded on open: its journal finished, its index built', async () => {
  const path = join(root, 'v1');
  const store = await openDirStorage(path, { create: true });
  const g1 = await store.write([
    { op: 'put', key: 'old/a', value: enc.encode('a') },
    { op: 'put', key: 'old/b', value: enc.encode('b') },
  ]);
  await store.close();
  // What a version-1 build leaves: marker version 1, no index, a format-1 journal not yet applied.
  writeFileSync(join(path, MARKER_FILE), `${JSON.stringify({ format: 'coffer-dir', version: 1 })}\n`);
  unlinkSync(join(path, CHANGES_FILE));
  writeFileSync(
    join(path, JOURNAL_FILE),
    encodeJournalV1(g1 + 1, [{ op: 'put', key: 'old/c', value: enc.encode('c') }]),
  );
  const upgraded = await openDirStorage(path);
  assert.deepEqual(JSON.parse(readFileSync(join(path, MARKER_FILE), 'utf8')), {
    format: 'coffer-dir',
    version: 2,
  });
  assert.equal(readFileSync(join(path, APPLIED_FILE), 'latin1'), encodeApplied(g1 + 1));
  await assertChangesMatchWalk(upgraded, [0, g1, g1 + 1]);
  assert.deepEqual(
    (await upgraded.changedSince(g1)).map((r) => r.key),
    ['old/c'],
  );
  await upgraded.close();
  // A build newer than this one is still refused.
  writeFileSync(join(path, MARKER_FILE), JSON.stringify({ format: 'coffer-dir', version: 3 }));
  await expectCode(openDirStorage(path), 'EUNAVAIL');
});
