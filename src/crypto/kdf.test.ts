// HKDF (RFC 5869): Wycheproof hkdf_sha256_test.json, RFC 5869 Appendix A, agreement of the OpenSSL and
// @noble/hashes paths on random inputs for every hash, and the bounds (EINVAL before any work).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { forEachWycheproofCase, loadJson, nonEmpty, type WycheproofCase } from '../testing/vectors.js';
import { fromHex, toHex } from './bytes.js';
import * as kdf from './kdf.js';
import {
  _hkdfNative,
  _hkdfNoble,
  HKDF_HASH_LENGTH,
  HKDF_HASHES,
  HKDF_MAX_INFO_LENGTH,
  type HkdfHash,
  hkdf,
} from './kdf.js';

const isInval = (error: unknown) => error instanceof CofferError && error.code === 'EINVAL';

interface HkdfCase extends WycheproofCase {
  ikm: string;
  salt: string;
  info: string;
  size: number;
  okm: string;
}

describe('Wycheproof hkdf_sha256_test.json', () => {
  // Policy: `valid` → exact OKM on both paths; `invalid` (all SizeTooLarge: 8161 > 255·32) → EINVAL;
  // `acceptable` would be treated as valid — the file holds none, which is asserted.
  test('86 cases: 83 exact outputs (up to 255·HashLen = 8160 bytes), 3 oversize requests → EINVAL', () => {
    const seen = { valid: 0, invalid: 0, acceptable: 0 };
    const ran = forEachWycheproofCase<HkdfCase>('wycheproof/hkdf_sha256_test.json', (tc) => {
      const where = `tcId ${tc.tcId} (${tc.comment})`;
      const args = [fromHex(tc.ikm), fromHex(tc.salt), fromHex(tc.info), tc.size] as const;
      seen[tc.result]++;
      if (tc.result === 'invalid') {
        assert.ok(tc.flags?.includes('SizeTooLarge'), where);
        assert.throws(() => hkdf('sha256', ...args), isInval, where);
        return;
      }
      assert.equal(toHex(hkdf('sha256', ...args)), tc.okm, where);
      assert.equal(toHex(_hkdfNoble('sha256', ...args)), tc.okm, `${where} (pure-JS path)`);
    });
    assert.equal(ran, 86);
    assert.deepEqual(seen, { valid: 83, invalid: 3, acceptable: 0 });
  });
});

interface RfcHkdfCase {
  tcId: number;
  section: string;
  hash: string;
  ikm: string;
  salt: string;
  info: string;
  length: number;
  okm: string;
}

test('RFC 5869 Appendix A: SHA-256 cases A.1–A.3 exact on both paths; SHA-1 cases A.4–A.7 refused (EINVAL)', () => {
  const cases = nonEmpty('rfc5869', loadJson<{ tests: RfcHkdfCase[] }>('rfc/rfc5869_hkdf.json').tests);
  let exact = 0;
  let refused = 0;
  for (const c of cases) {
    const args = [fromHex(c.ikm), fromHex(c.salt), fromHex(c.info), c.length] as const;
    if (c.hash === 'SHA-256') {
      assert.equal(toHex(hkdf('sha256', ...args)), c.okm, c.section);
      assert.equal(toHex(_hkdfNoble('sha256', ...args)), c.okm, c.section);
      exact++;
    } else {
      // SHA-1 is not offered (SPEC §1 hashes: sha256, sha512, sha3-256).
      assert.equal(c.hash, 'SHA-1', c.section);
      assert.throws(() => hkdf('sha1' as HkdfHash, ...args), isInval, c.section);
      refused++;
    }
  }
  assert.deepEqual({ exact, refused }, { exact: 3, refused: 4 });
});

const nobleHash = { sha256, sha512, 'sha3-256': sha3_256 } as const;

test('hkdf equals @noble/hashes hkdf on random inputs for sha256, sha512 and sha3-256; both paths agree', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...HKDF_HASHES),
      fc.uint8Array({ minLength: 0, maxLength: 100 }),
      fc.uint8Array({ minLength: 0, maxLength: 100 }),
      fc.uint8Array({ minLength: 0, maxLength: HKDF_MAX_INFO_LENGTH }),
      fc.integer({ min: 1, max: 600 }),
      (hash, ikm, salt, info, length) => {
        const expected = toHex(nobleHkdf(nobleHash[hash], ikm, salt, info, length));
        assert.equal(toHex(hkdf(hash, ikm, salt, info, length)), expected);
        assert.equal(toHex(_hkdfNative(hash, ikm, salt, info, length)), expected);
        assert.equal(toHex(_hkdfNoble(hash, ikm, salt, info, length)), expected);
      },
    ),
    { numRuns: 200 },
  );
});

test('hkdf bounds: length 1..255·HashLen, info ≤ 1024 bytes; the maximum output works on every hash', () => {
  const ikm = new Uint8Array(32).fill(9);
  const empty = new Uint8Array(0);
  for (const hash of HKDF_HASHES) {
    const max = 255 * HKDF_HASH_LENGTH[hash];
    assert.equal(hkdf(hash, ikm, empty, empty, max).length, max);
    assert.equal(hkdf(hash, ikm, empty, empty, 1).length, 1);
    for (const bad of [0, -1, max + 1, 1.5, Number.NaN, '32', undefined]) {
      assert.throws(
        () => hkdf(hash, ikm, empty, empty, bad as number),
        isInval,
        `${hash} length ${String(bad)}`,
      );
    }
    assert.equal(hkdf(hash, ikm, empty, new Uint8Array(HKDF_MAX_INFO_LENGTH), 32).length, 32);
    assert.throws(() => hkdf(hash, ikm, empty, new Uint8Array(HKDF_MAX_INFO_LENGTH + 1), 32), isInval);
  }
});

test('hkdf argument types → EINVAL', () => {
  const b = new Uint8Array(16);
  for (const hash of ['sha1', 'sha384', 'SHA-256', 'sha3_256', '', undefined]) {
    assert.throws(() => hkdf(hash as HkdfHash, b, b, b, 32), isInval, String(hash));
  }
  for (const bad of ['ikm', 7, null, undefined, [1], new ArrayBuffer(8), new Uint32Array(2)]) {
    const x = bad as unknown as Uint8Array;
    assert.throws(() => hkdf('sha256', x, b, b, 32), isInval, `ikm ${String(bad)}`);
    assert.throws(() => hkdf('sha256', b, x, b, 32), isInval, `salt ${String(bad)}`);
    assert.throws(() => hkdf('sha256', b, b, x, 32), isInval, `info ${String(bad)}`);
  }
});

test('an empty salt is HashLen zero bytes (RFC 5869 §2.2)', () => {
  const ikm = new Uint8Array(22).fill(0x0b);
  for (const hash of HKDF_HASHES) {
    const zeros = new Uint8Array(HKDF_HASH_LENGTH[hash]);
    assert.deepEqual(
      hkdf(hash, ikm, new Uint8Array(0), new Uint8Array(0), 42),
      hkdf(hash, ikm, zeros, new Uint8Array(0), 42),
    );
  }
});

test('the kdf namespace re-exports the passphrase KDF API', () => {
  const functions = [
    kdf.argon2id,
    kdf.scrypt,
    kdf.pbkdf2Sha256,
    kdf.derivePassphraseKey,
    kdf.derivePassphraseKeyAsync,
    kdf.parsePassphraseKdfParams,
    kdf.assertPassphrase,
  ];
  for (const fn of functions) assert.equal(typeof fn, 'function');
  assert.equal(kdf.DEFAULT_PASSPHRASE_KDF.alg, 'argon2id');
  assert.equal(kdf.PASSPHRASE_KDF_LIMITS.argon2id.memoryKiB.min, 19_456);
});
