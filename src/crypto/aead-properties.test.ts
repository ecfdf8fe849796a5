// AEAD property tests (fast-check): the OpenSSL path agrees byte for byte with the audited pure-JS
// @noble/ciphers implementations on random keys, nonces, messages and AAD; and any single bit flipped
// in the ciphertext, tag, AAD or nonce, or any truncation, is rejected with EBADMSG — never a
// different plaintext.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { AEAD_ALGORITHMS, type AeadAlgorithm, decrypt, encrypt, NONCE_LENGTH } from './aead.js';
import { toHex } from './bytes.js';

const noble: Record<
  AeadAlgorithm,
  (
    key: Uint8Array,
    nonce: Uint8Array,
    aad?: Uint8Array,
  ) => {
    encrypt(plain: Uint8Array): Uint8Array;
    decrypt(sealed: Uint8Array): Uint8Array;
  }
> = {
  'aes-256-gcm': gcm,
  'chacha20-poly1305': chacha20poly1305,
  'xchacha20-poly1305': xchacha20poly1305,
};

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

function inputs(alg: AeadAlgorithm) {
  return fc.record({
    key: bytes(32, 32),
    nonce: bytes(NONCE_LENGTH[alg], NONCE_LENGTH[alg]),
    // Sizes straddle the 16/64-byte block boundaries of GHASH, Poly1305 and ChaCha20.
    plain: bytes(0, 300),
    aad: fc.option(bytes(0, 80), { nil: undefined }),
  });
}

function isBadMessage(error: unknown): boolean {
  return error instanceof CofferError && error.code === 'EBADMSG';
}

for (const alg of AEAD_ALGORITHMS) {
  describe(`${alg} properties`, () => {
    test(`${alg}: native encrypt/decrypt equal @noble/ciphers on random inputs`, () => {
      fc.assert(
        fc.property(inputs(alg), ({ key, nonce, plain, aad }) => {
          const ours = encrypt(alg, key, nonce, plain, aad);
          const theirs = noble[alg](key, nonce, aad).encrypt(plain);
          assert.equal(toHex(ours), toHex(theirs));
          assert.equal(toHex(decrypt(alg, key, nonce, theirs, aad)), toHex(plain));
          assert.equal(toHex(noble[alg](key, nonce, aad).decrypt(ours)), toHex(plain));
        }),
        { numRuns: 150 },
      );
    });

    test(`${alg}: encrypt then decrypt is the identity on large random messages`, () => {
      fc.assert(
        fc.property(inputs(alg), fc.integer({ min: 1000, max: 70_000 }), ({ key, nonce, aad }, size) => {
          const plain = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
          assert.deepEqual(decrypt(alg, key, nonce, encrypt(alg, key, nonce, plain, aad), aad), plain);
        }),
        { numRuns: 25 },
      );
    });

    test(`${alg}: one flipped bit anywhere in ciphertext‖tag → EBADMSG`, () => {
      fc.assert(
        fc.property(inputs(alg), fc.nat(), fc.integer({ min: 0, max: 7 }), (input, where, bit) => {
          const sealed = encrypt(alg, input.key, input.nonce, input.plain, input.aad);
          const bad = Uint8Array.from(sealed);
          const index = where % bad.length;
          bad[index] = bad[index]! ^ (1 << bit);
          assert.throws(() => decrypt(alg, input.key, input.nonce, bad, input.aad), isBadMessage);
        }),
        { numRuns: 300 },
      );
    });

    test(`${alg}: one flipped bit in the AAD or nonce, a missing or extra AAD, or truncation → EBADMSG`, () => {
      fc.assert(
        fc.property(
          inputs(alg),
          bytes(1, 64),
          fc.nat(),
          fc.integer({ min: 0, max: 7 }),
          ({ key, nonce, plain }, aad, where, bit) => {
            const sealed = encrypt(alg, key, nonce, plain, aad);
            const badAad = Uint8Array.from(aad);
            badAad[where % aad.length] = badAad[where % aad.length]! ^ (1 << bit);
            assert.throws(() => decrypt(alg, key, nonce, sealed, badAad), isBadMessage);
            const badNonce = Uint8Array.from(nonce);
            badNonce[where % nonce.length] = badNonce[where % nonce.length]! ^ (1 << bit);
            assert.throws(() => decrypt(alg, key, badNonce, sealed, aad), isBadMessage);
            // AAD is bound even when empty: sealed with AAD, opened without (and the reverse).
            assert.throws(() => decrypt(alg, key, nonce, sealed), isBadMessage);
            assert.throws(() => decrypt(alg, key, nonce, encrypt(alg, key, nonce, plain), aad), isBadMessage);
            const cut = 1 + (where % sealed.length);
            assert.throws(
              () => decrypt(alg, key, nonce, sealed.subarray(0, sealed.length - cut), aad),
              isBadMessage,
            );
            assert.throws(() => decrypt(alg, key, nonce, sealed.subarray(cut), aad), isBadMessage);
          },
        ),
        { numRuns: 200 },
      );
    });

    test(`${alg}: a different key → EBADMSG`, () => {
      fc.assert(
        fc.property(inputs(alg), bytes(32, 32), ({ key, nonce, plain, aad }, other) => {
          fc.pre(toHex(key) !== toHex(other));
          const sealed = encrypt(alg, key, nonce, plain, aad);
          assert.throws(() => decrypt(alg, other, nonce, sealed, aad), isBadMessage);
        }),
        { numRuns: 100 },
      );
    });
  });
}

test('XChaCha20-Poly1305 with nonce n equals ChaCha20-Poly1305 under HChaCha20(key, n[0..16]) (draft §2.3)', () => {
  // Cross-algorithm check that the construction, not just the output, matches the draft: the tail
  // of the 24-byte nonce becomes the 12-byte ChaCha nonce 00000000 ‖ n[16..24].
  fc.assert(
    fc.property(bytes(32, 32), bytes(24, 24), bytes(0, 200), (key, nonce, plain) => {
      const sealed = encrypt('xchacha20-poly1305', key, nonce, plain);
      const theirs = xchacha20poly1305(key, nonce).encrypt(plain);
      assert.equal(toHex(sealed), toHex(theirs));
      assert.notEqual(
        toHex(sealed),
        toHex(encrypt('chacha20-poly1305', key, Uint8Array.from([0, 0, 0, 0, ...nonce.subarray(16)]), plain)),
        'the subkey, not the raw key, must be used',
      );
    }),
    { numRuns: 100 },
  );
});
