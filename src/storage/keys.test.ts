// Record-key and batch validation shared by all backends (keys.ts): the key grammar of the storage
// contract as properties, the prefix range bound every backend's listing relies on, and the
// ordering helper (code-unit order, not locale order).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  checkBatch,
  checkPrefix,
  compareKeys,
  isKeySegment,
  MAX_KEY_LENGTH,
  prefixUpperBound,
  recordKeyProblem,
} from './keys.js';

const segmentChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-');
const segment = fc
  .string({ unit: segmentChar, minLength: 1, maxLength: 128 })
  .filter((s) => s !== '.' && s !== '..');
const validKey = fc.array(segment, { minLength: 1, maxLength: 16 }).map((s) => s.join('/'));

test('keys: every key built from 1-16 valid segments is accepted', () => {
  fc.assert(
    fc.property(validKey, (key) => {
      assert.equal(recordKeyProblem(key), undefined);
      assert.ok(key.length <= MAX_KEY_LENGTH);
    }),
  );
});

test('keys: inserting a character outside the alphabet makes any key invalid', () => {
  const outside = fc
    .string({ minLength: 1, maxLength: 1, unit: 'binary' })
    .filter((c) => !/[A-Za-z0-9._/-]/.test(c));
  fc.assert(
    fc.property(validKey, outside, fc.nat(), (key, bad, at) => {
      const i = at % (key.length + 1);
      assert.notEqual(recordKeyProblem(key.slice(0, i) + bad + key.slice(i)), undefined);
    }),
  );
});

test('keys: empty segments, dot segments, long segments and 17 segments are rejected', () => {
  for (const key of ['', 'a/', '/a', 'a//b', '.', '..', 'a/./b', 'a/..', 'x'.repeat(129)]) {
    assert.notEqual(recordKeyProblem(key), undefined, key);
  }
  assert.notEqual(recordKeyProblem(Array(17).fill('a').join('/')), undefined);
  assert.equal(recordKeyProblem(Array(16).fill('a').join('/')), undefined);
  assert.equal(recordKeyProblem('...'), undefined);
  assert.equal(recordKeyProblem('.a/..b/c.'), undefined);
});

test('keys: k starts with p exactly when p <= k < prefixUpperBound(p)', () => {
  const prefix = fc.oneof(
    validKey.map((k) => `${k}/`),
    validKey.map((k) => k.slice(0, Math.max(0, k.length - 1))),
    validKey,
  );
  fc.assert(
    fc.property(prefix, validKey, (p, k) => {
      checkPrefix(p);
      const upper = prefixUpperBound(p);
      const inRange = k >= p && (upper === undefined || k < upper);
      assert.equal(inRange, k.startsWith(p));
    }),
  );
  assert.equal(prefixUpperBound(''), undefined);
  assert.equal(prefixUpperBound('a/'), 'a0');
});

test('keys: compareKeys is plain code-unit order', () => {
  const sorted = ['A', 'Z', '_', 'a', 'a-b', 'a.c', 'a/x', 'a0', 'aB', 'a_', 'ab'];
  assert.deepEqual([...sorted].reverse().sort(compareKeys), sorted);
  fc.assert(
    fc.property(validKey, validKey, (a, b) => {
      assert.equal(Math.sign(compareKeys(a, b)), a < b ? -1 : a > b ? 1 : 0);
    }),
  );
});

test('keys: checkBatch normalises valid batches and keeps their order', () => {
  const value = new Uint8Array([1]);
  assert.deepEqual(
    checkBatch([
      { op: 'put', key: 'a', value },
      { op: 'delete', key: 'b', expectRevision: 3 },
      { op: 'put', key: 'c', value, expectRevision: 0 },
    ]),
    [
      { op: 'put', key: 'a', value, expectRevision: undefined },
      { op: 'delete', key: 'b', expectRevision: 3 },
      { op: 'put', key: 'c', value, expectRevision: 0 },
    ],
  );
});

test('keys: isKeySegment accepts exactly the one-segment keys; prefixes need valid complete segments', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 130, unit: fc.constantFrom(...'ab.-_/ @') }), (s) => {
      assert.equal(isKeySegment(s), recordKeyProblem(s) === undefined && !s.includes('/'));
    }),
  );
  for (const s of ['', '.', '..', 'x'.repeat(129), 'a/b', 'a b']) assert.equal(isKeySegment(s), false, s);
  for (const s of ['...', '.a', 'x'.repeat(128)]) assert.equal(isKeySegment(s), true, s);
  for (const p of ['./', 'a/../', `${'x'.repeat(129)}/`, '//']) {
    assert.throws(() => checkPrefix(p), { code: 'EINVAL' }, p);
  }
  for (const p of ['.../', `${'x'.repeat(128)}/`, 'a/..']) checkPrefix(p);
});
