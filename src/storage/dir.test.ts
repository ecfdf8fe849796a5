// The dir: backend against the conformance suite, plus its own promises: the documented file
// layout and permissions, corrupt or moved record files reported (never returned), redo-journal
// replay after a crash at the commit point, discarding of uncommitted temp files, and refusing
// foreign or newer directories.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { exerciseStorage, expectCode } from '../testing/storage-conformance.js';
import { exerciseReliability } from '../testing/storage-reliability.js';
import {
  APPLIED_FILE,
  encodeApplied,
  encodeJournal,
  encodeRecord,
  JOURNAL_FILE,
  journalHeaderGeneration,
  LOCK_FILE,
  MARKER_FILE,
  TMP_DIR,
} from './dir-format.js';
import { openStorage } from './open.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-dir-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

exerciseStorage('dir', () => openStorage(`dir:${join(root, 'conformance')}`, { create: true }));

let stores = 0;
exerciseReliability(
  'dir',
  async () => {
    const url = `dir:${join(root, `reliability-${++stores}`)}`;
    await (await openStorage(url, { create: true })).close();
    return url;
  },
  {
    inspectAfterKill: (url) => {
      const path = url.slice('dir:'.length);
      const tags: string[] = [];
      if (existsSync(join(path, LOCK_FILE))) tags.push('stale lock');
      const applied = existsSync(join(path, APPLIED_FILE))
        ? readFileSync(join(path, APPLIED_FILE), 'latin1')
        : '0\n';
      if (existsSync(join(path, JOURNAL_FILE))) {
        const committed = journalHeaderGeneration(readFileSync(join(path, JOURNAL_FILE)), JOURNAL_FILE);
        if (encodeApplied(committed) !== applied) tags.push('committed batch to replay');
      }
      if (readdirSync(join(path, TMP_DIR)).length > 0) tags.push('temp files');
      return tags;
    },
    expectLeftovers: ['stale lock', 'committed batch to replay'],
  },
);

const enc = new TextEncoder();

/** Every path under `dir`, relative, sorted. */
function tree(dir: string, base = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, base), { withFileTypes: true })) {
    const rel = base === '' ? entry.name : `${base}/${entry.name}`;
    out.push(entry.isDirectory() ? `${rel}/` : rel);
    if (entry.isDirectory()) out.push(...tree(dir, rel));
  }
  return out.sort();
}

test('dir: records map to files under the key path; owner-only; no debris after writes', async () => {
  const path = join(root, 'layout');
  await expectCode(openStorage(`dir:${path}`), 'ENOENT');
  const store = await openStorage(`dir:${path}`, { create: true });
  await store.write([
    { op: 'put', key: 'keystore/billing/invoices/k_1/meta', value: enc.encode('m') },
    { op: 'put', key: 'keystore/billing/invoices/k_1', value: enc.encode('both a record and a prefix') },
    { op: 'put', key: 'keystore/billing/invoices/k_1/v/1', value: enc.encode('v1') },
  ]);
  await store.write([{ op: 'delete', key: 'keystore/billing/invoices/k_1/v/1' }]);
  assert.deepEqual(tree(path), [
    '@applied',
    '@changes',
    '@coffer-dir.json',
    '@journal',
    '@tmp/',
    'keystore/',
    'keystore/billing/',
    'keystore/billing/invoices/',
    'keystore/billing/invoices/k_1/',
    'keystore/billing/invoices/k_1/meta@',
    'keystore/billing/invoices/k_1@',
  ]);
  assert.equal(readFileSync(join(path, APPLIED_FILE), 'latin1'), '2\n');
  assert.equal(await store.generation(), 2);
  assert.equal(statSync(path).mode & 0o777, 0o700);
  assert.equal(statSync(join(path, 'keystore/billing')).mode & 0o777, 0o700);
  assert.equal(statSync(join(path, 'keystore/billing/invoices/k_1/meta@')).mode & 0o777, 0o600);
  await store.close();
});

test('dir: listing skips entries whose names are not key segments', async () => {
  const path = join(root, 'stray');
  const store = await openStorage(`dir:${path}`, { create: true });
  await store.write([{ op: 'put', key: 'a/one', value: enc.encode('1') }]);
  // Debris a person or another tool might leave; none is a record, and reading one as a record
  // would report the store corrupt. ('@tmp' and the marker files at the root are such names too.)
  writeFileSync(join(path, 'a/x y@'), 'not a record');
  writeFileSync(join(path, 'a/..@'), 'not a record');
  mkdirSync(join(path, 'a/with space'));
  writeFileSync(join(path, 'a/with space/b@'), 'not a record');
  const keys = (records: { key: string }[]) => records.map((r) => r.key);
  assert.deepEqual(keys(await store.list('')), ['a/one']);
  assert.deepEqual(keys(await store.list('a/')), ['a/one']);
  assert.deepEqual(keys(await store.changedSince(0)), ['a/one']);
  await store.close();
});

test('dir: a corrupt or moved record file is EUNAVAIL, never returned', async () => {
  const path = join(root, 'corrupt');
  const store = await openStorage(`dir:${path}`, { create: true });
  await store.write([
    { op: 'put', key: 'a/one', value: enc.encode('first value') },
    { op: 'put', key: 'a/two', value: enc.encode('second value') },
    { op: 'put', key: 'a/three', value: enc.encode('third value') },
  ]);
  const file = join(path, 'a/one@');
  const bytes = readFileSync(file);
  bytes[bytes.length - 40]! ^= 1;
  writeFileSync(file, bytes);
  await expectCode(store.get('a/one'), 'EUNAVAIL');
  await expectCode(store.list('a/'), 'EUNAVAIL');
  // Truncated.
  writeFileSync(file, readFileSync(join(path, 'a/two@')).subarray(0, 20));
  await expectCode(store.get('a/one'), 'EUNAVAIL');
  // A valid file for another key, moved into place: the embedded key gives it away.
  renameSync(join(path, 'a/two@'), file);
  await expectCode(store.get('a/one'), 'EUNAVAIL');
  assert.equal(new TextDecoder().decode((await store.get('a/three'))!.value), 'third value');
  await store.close();
});

test('dir: a committed journal is replayed (readers already see the whole batch)', async () => {
  const path = join(root, 'replay');
  const store = await openStorage(`dir:${path}`, { create: true });
  const g1 = await store.write([
    { op: 'put', key: 'r/keep', value: enc.encode('keep') },
    { op: 'put', key: 'r/old', value: enc.encode('old') },
    { op: 'put', key: 'r/doomed', value: enc.encode('doomed') },
  ]);
  // The state a writer killed mid-batch leaves: the journal for generation g1 + 1 committed, one
  // record already applied, the rest and the applied marker not yet.
  const g2 = g1 + 1;
  writeFileSync(
    join(path, JOURNAL_FILE),
    encodeJournal({
      generation: g2,
      batches: [
        {
          generation: g2,
          ops: [
            { op: 'put', key: 'r/old', value: enc.encode('new') },
            { op: 'put', key: 'r/added/deep', value: enc.encode('added') },
            { op: 'delete', key: 'r/doomed' },
          ],
        },
      ],
    }),
  );
  writeFileSync(join(path, 'r/old@'), encodeRecord('r/old', g2, enc.encode('new')));
  writeFileSync(join(path, TMP_DIR, 'leftover'), 'half-written temp file');

  // A reader that does not recover still sees the batch whole.
  assert.equal(await store.generation(), g2);
  assert.deepEqual(
    (await store.list('r/')).map((r) => [r.key, r.revision]),
    [
      ['r/added/deep', g2],
      ['r/keep', g1],
      ['r/old', g2],
    ],
  );
  assert.equal(await store.get('r/doomed'), undefined);
  assert.deepEqual(
    (await store.changedSince(g1)).map((r) => r.key),
    ['r/added/deep', 'r/old'],
  );
  await store.close();

  // Opening replays it: files, generation and journal are as if the batch had completed.
  const reopened = await openStorage(`dir:${path}`);
  assert.deepEqual(readdirSync(join(path, TMP_DIR)), []);
  assert.equal(readFileSync(join(path, APPLIED_FILE), 'latin1'), encodeApplied(g2));
  assert.equal(existsSync(join(path, 'r/doomed@')), false);
  assert.equal(new TextDecoder().decode((await reopened.get('r/added/deep'))!.value), 'added');
  assert.equal(await reopened.write([{ op: 'put', key: 'r/next', value: enc.encode('n') }]), g2 + 1);
  await reopened.close();
});

test('dir: a batch that never reached its commit point leaves no trace', async () => {
  const path = join(root, 'uncommitted');
  const store = await openStorage(`dir:${path}`, { create: true });
  const g1 = await store.write([{ op: 'put', key: 'u/a', value: enc.encode('a') }]);
  await store.close();
  // A journal still in @tmp (killed before the rename that commits it).
  writeFileSync(
    join(path, TMP_DIR, 'journal-in-flight'),
    encodeJournal({
      generation: g1 + 1,
      batches: [{ generation: g1 + 1, ops: [{ op: 'put', key: 'u/a', value: enc.encode('lost') }] }],
    }),
  );
  const reopened = await openStorage(`dir:${path}`);
  assert.equal(new TextDecoder().decode((await reopened.get('u/a'))!.value), 'a');
  assert.equal(await reopened.generation(), g1);
  await reopened.write([{ op: 'put', key: 'u/b', value: enc.encode('b') }]);
  assert.deepEqual(readdirSync(join(path, TMP_DIR)), []);
  await reopened.close();
});

test('dir: a damaged journal or applied marker is EUNAVAIL, not guessed around', async () => {
  const path = join(root, 'damaged');
  const first = await openStorage(`dir:${path}`, { create: true });
  await first.write([{ op: 'put', key: 'x', value: new Uint8Array(1) }]);
  await first.close();
  const journal = readFileSync(join(path, JOURNAL_FILE));
  // Header intact, one byte of the body flipped: the checksum catches it when a replay needs it.
  const flipped = Buffer.from(journal);
  flipped[journal.length - 40]! ^= 0x10;
  writeFileSync(join(path, JOURNAL_FILE), flipped);
  writeFileSync(join(path, APPLIED_FILE), encodeApplied(0));
  await expectCode(openStorage(`dir:${path}`), 'EUNAVAIL');
  writeFileSync(
    join(path, JOURNAL_FILE),
    'CFJ1 but not really a journal, long enough to be parsed............',
  );
  await expectCode(openStorage(`dir:${path}`), 'EUNAVAIL');
  writeFileSync(join(path, JOURNAL_FILE), journal);
  writeFileSync(join(path, APPLIED_FILE), 'twelve\n');
  await expectCode(openStorage(`dir:${path}`), 'EUNAVAIL');
  writeFileSync(join(path, APPLIED_FILE), encodeApplied(1));
  const store = await openStorage(`dir:${path}`);
  assert.deepEqual((await store.get('x'))?.value, new Uint8Array(1));
  writeFileSync(join(path, APPLIED_FILE), 'twelve\n');
  await expectCode(store.get('x'), 'EUNAVAIL');
  await expectCode(store.write([{ op: 'put', key: 'y', value: new Uint8Array(1) }]), 'EUNAVAIL');
  await store.close();
});

test('dir: refuses files, foreign directories and newer formats', async () => {
  const file = join(root, 'plain-file');
  writeFileSync(file, 'x');
  await expectCode(openStorage(`dir:${file}`, { create: true }), 'EINVAL');
  const foreign = join(root, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'notes.txt'), 'mine');
  await expectCode(openStorage(`dir:${foreign}`), 'ENOENT');
  await expectCode(openStorage(`dir:${foreign}`, { create: true }), 'EINVAL');
  assert.deepEqual(
    readdirSync(foreign).filter((n) => !n.startsWith('@')),
    ['notes.txt'],
  );
  const newer = join(root, 'newer');
  await (await openStorage(`dir:${newer}`, { create: true })).close();
  writeFileSync(join(newer, MARKER_FILE), JSON.stringify({ format: 'coffer-dir', version: 99 }));
  await expectCode(openStorage(`dir:${newer}`), 'EUNAVAIL');
  // An existing empty directory may become a store.
  const empty = join(root, 'empty-dir');
  mkdirSync(empty);
  await (await openStorage(`dir:${empty}`, { create: true })).close();
  assert.ok(existsSync(join(empty, MARKER_FILE)));
});

test('dir: a case-insensitive filesystem is refused', async () => {
  const path = join(root, 'case');
  await (await openStorage(`dir:${path}`, { create: true })).close();
  // What the probe sees on a case-insensitive volume: the marker under its upper-case name.
  writeFileSync(join(path, MARKER_FILE.toUpperCase()), readFileSync(join(path, MARKER_FILE)));
  await expectCode(openStorage(`dir:${path}`), 'EUNAVAIL');
});
