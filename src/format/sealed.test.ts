// Sealed header round trips, and any bytes that are not a header we wrote give EBADMSG (fuzzed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { encodeSealedHeader, parseSealedHeader, SEALED_HEADER_LENGTH } from './sealed.js';

const keyId = Uint8Array.from({ length: 16 }, (_, i) => i);

test('SPEC §6: header layout is version, kind, algorithm, key id, big-endian version', () => {
  const bytes = encodeSealedHeader({ kind: 'symmetric', algorithm: 'aes-256-gcm', keyId, version: 7 });
  assert.equal(Buffer.from(bytes).toString('hex'), '010101000102030405060708090a0b0c0d0e0f00000007');
  const parsed = parseSealedHeader(Uint8Array.of(...bytes, 9, 9));
  assert.deepEqual(parsed.header, { kind: 'symmetric', algorithm: 'aes-256-gcm', keyId, version: 7 });
  assert.deepEqual([...parsed.body], [9, 9]);
});

test('encode refuses bad ids and versions with EINVAL', () => {
  assert.throws(
    () =>
      encodeSealedHeader({
        kind: 'symmetric',
        algorithm: 'aes-256-gcm',
        keyId: new Uint8Array(3),
        version: 1,
      }),
    {
      code: 'EINVAL',
    },
  );
  for (const version of [0, -1, 1.5, 2 ** 32]) {
    assert.throws(() => encodeSealedHeader({ kind: 'symmetric', algorithm: 'aes-256-gcm', keyId, version }), {
      code: 'EINVAL',
    });
  }
});

test('parse: short, unknown version/kind/algorithm, mismatched kind, version 0 → EBADMSG', () => {
  const good = encodeSealedHeader({ kind: 'toPublicKey', algorithm: 'x-wing', keyId, version: 1 });
  const mutate = (index: number, value: number) => {
    const copy = Uint8Array.from(good);
    copy[index] = value;
    return copy;
  };
  for (const bad of [
    good.subarray(0, 10),
    mutate(0, 2),
    mutate(1, 9),
    mutate(2, 9),
    mutate(1, 1),
    mutate(22, 0),
  ]) {
    assert.throws(() => parseSealedHeader(bad), { code: 'EBADMSG' });
  }
  assert.throws(() => parseSealedHeader('x' as unknown as Uint8Array), { code: 'EINVAL' });
});

test('fuzz: random bytes either parse to a header that re-encodes identically or throw CofferError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
      try {
        const { header } = parseSealedHeader(bytes);
        assert.deepEqual(encodeSealedHeader(header), bytes.subarray(0, SEALED_HEADER_LENGTH));
      } catch (error) {
        assert.ok(error instanceof CofferError, String(error));
      }
    }),
    { numRuns: 2000 },
  );
});
