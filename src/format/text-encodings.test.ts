// Strict text encodings (SPEC §14.1): BIP-173 / BIP-350 test vectors for Bech32 / Bech32m, agreement
// with @scure/base on random data, and the canonical-only rules for base64 in each dialect.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bech32 as scureBech32 } from '@scure/base';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import {
  bech32Decode,
  bech32DecodeWords,
  bech32Encode,
  decodeBase64,
  encodeBase64,
} from './text-encodings.js';

const einval = (e: unknown) => e instanceof CofferError && e.code === 'EINVAL';

test('BIP-173 and BIP-350 vectors', () => {
  for (const valid of [
    'A12UEL5L',
    'a12uel5l',
    'abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw',
    'split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w',
    '?1ezyfcl',
  ]) {
    assert.doesNotThrow(() => bech32DecodeWords(valid), valid);
    assert.throws(() => bech32DecodeWords(valid, { variant: 'bech32m' }), einval, valid);
  }
  for (const valid of ['A1LQFN3A', 'a1lqfn3a', 'abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx']) {
    assert.doesNotThrow(() => bech32DecodeWords(valid, { variant: 'bech32m' }), valid);
  }
  for (const invalid of [
    'A1G7SGD8',
    'li1dgmt3',
    'x1b4n0q5v',
    'pzry9x0s0muk',
    '1pzry9x0s0muk',
    'A12uEL5L',
    `a1${'q'.repeat(90)}`,
  ]) {
    assert.throws(() => bech32DecodeWords(invalid), einval, invalid);
  }
});

test('Bech32 agrees with @scure/base; the length limit can be lifted (age)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      const ours = bech32Encode('hrp', bytes);
      assert.equal(ours, scureBech32.encode('hrp', scureBech32.toWords(bytes)));
      assert.deepEqual(bech32Decode(ours, 'hrp'), bytes);
      assert.deepEqual(bech32Decode(ours.toUpperCase(), 'HRP'), bytes);
    }),
  );
  const long = new Uint8Array(1216).fill(7);
  assert.throws(() => bech32Encode('age1pq', long), einval);
  assert.deepEqual(
    bech32Decode(bech32Encode('age1pq', long, { limit: false }), 'age1pq', { limit: false }),
    long,
  );
  assert.throws(() => bech32Decode(bech32Encode('a', Uint8Array.of(1)), 'b'), einval);
});

test('base64: only canonical text in each dialect', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 50 }), (bytes) => {
      for (const variant of ['base64', 'base64-nopad', 'base64url'] as const) {
        assert.deepEqual(decodeBase64(encodeBase64(bytes, variant), variant), bytes);
      }
    }),
  );
  assert.throws(() => decodeBase64('QQ', 'base64'), einval); // missing padding
  assert.throws(() => decodeBase64('QQ==', 'base64-nopad'), einval); // padding where none belongs
  assert.throws(() => decodeBase64('QR==', 'base64'), einval); // non-zero trailing bits
  assert.throws(() => decodeBase64('QQ=\n=', 'base64'), einval);
  assert.throws(() => decodeBase64('Q', 'base64url'), einval);
  assert.throws(() => decodeBase64('a+b/', 'base64url'), einval);
  assert.throws(() => decodeBase64(7 as unknown as string), einval);
});

test('base64: a text is accepted exactly when it is the encoding of what it decodes to', () => {
  // The definition of canonical (RFC 4648 §3.5), as a reference: Buffer's lax decoder, re-encoded.
  const reference = (text: string, variant: 'base64' | 'base64-nopad' | 'base64url') => {
    const bytes = Buffer.from(text, variant === 'base64url' ? 'base64url' : 'base64');
    const again = bytes.toString(variant === 'base64url' ? 'base64url' : 'base64');
    return (variant === 'base64-nopad' ? again.replace(/=+$/, '') : again) === text;
  };
  const chars = fc.constantFrom(...'AQgwBCDPpa09+/-_= \n.'.split(''));
  fc.assert(
    fc.property(fc.array(chars, { maxLength: 12 }), (list) => {
      const text = list.join('');
      for (const variant of ['base64', 'base64-nopad', 'base64url'] as const) {
        let accepted = true;
        try {
          decodeBase64(text, variant);
        } catch (error) {
          assert.ok(einval(error));
          accepted = false;
        }
        assert.equal(accepted, reference(text, variant), `${variant} ${JSON.stringify(text)}`);
      }
    }),
    { numRuns: 5000 },
  );
});
