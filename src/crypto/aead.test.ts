// AEAD against published vectors: Wycheproof AES-GCM / ChaCha20-Poly1305 / XChaCha20-Poly1305, RFC 8439
// §2.8.2 and A.5, draft-irtf-cfrg-xchacha-03 A.3.1; plus argument validation (EINVAL before any work).
//
// Wycheproof result policy (SPEC "AEAD"): `valid` must encrypt to exactly ct‖tag and decrypt back;
// `invalid` must fail to decrypt with EBADMSG, or with EINVAL when the sizes are outside our API;
// `acceptable` would be held to the `valid` standard (our fixed-size AEADs have no legitimately
// ambiguous case) — the pinned files hold none, and a test asserts that so a vector update that adds
// some forces a review. Groups our API does not offer (128/192-bit keys, non-96-bit GCM IVs, wrong
// ChaCha nonce sizes) run as proof that we refuse them: both encrypt and decrypt → EINVAL.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CofferError, type ErrorCode } from '../errors.js';
import {
  forEachWycheproofCase,
  loadJson,
  nonEmpty,
  type WycheproofCase,
  type WycheproofGroup,
} from '../testing/vectors.js';
import * as aead from './aead.js';
import { AEAD_ALGORITHMS, type AeadAlgorithm, decrypt, encrypt, NONCE_LENGTH } from './aead.js';
import { concatBytes, fromHex, toHex } from './bytes.js';

interface AeadCase extends WycheproofCase {
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
}
type AeadGroup = WycheproofGroup<AeadCase> & { keySize: number; ivSize: number; tagSize: number };

function expectCode(run: () => unknown, code: ErrorCode, context = ''): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof CofferError, `${context}: not a CofferError: ${String(error)}`);
    assert.equal(error.code, code, `${context}: ${error.message}`);
    return true;
  });
}

interface Tally {
  vectors: number;
  refused: number;
  byResult: Record<string, number>;
}

/** Runs one Wycheproof AEAD file under the policy above and returns what ran, for exact counting. */
function runWycheproof(alg: AeadAlgorithm, file: string): Tally {
  const tally: Tally = { vectors: 0, refused: 0, byResult: { valid: 0, invalid: 0, acceptable: 0 } };
  const ran = forEachWycheproofCase<AeadCase>(file, (tc, rawGroup) => {
    const group = rawGroup as AeadGroup;
    const where = `${file} tcId ${tc.tcId} (${tc.comment || tc.flags?.join(',')})`;
    const key = fromHex(tc.key);
    const iv = fromHex(tc.iv);
    const aad = fromHex(tc.aad);
    const msg = fromHex(tc.msg);
    const sealed = concatBytes(fromHex(tc.ct), fromHex(tc.tag));
    tally.byResult[tc.result] = (tally.byResult[tc.result] ?? 0) + 1;
    const supported =
      group.keySize === 256 && group.ivSize === NONCE_LENGTH[alg] * 8 && group.tagSize === 128;
    if (!supported) {
      expectCode(() => encrypt(alg, key, iv, msg, aad), 'EINVAL', where);
      expectCode(() => decrypt(alg, key, iv, sealed, aad), 'EINVAL', where);
      tally.refused++;
      return;
    }
    tally.vectors++;
    if (tc.result === 'invalid') {
      expectCode(() => decrypt(alg, key, iv, sealed, aad), 'EBADMSG', where);
      return;
    }
    // valid and (by policy) acceptable: exact ciphertext, exact round trip.
    assert.equal(toHex(encrypt(alg, key, iv, msg, aad)), toHex(sealed), where);
    assert.equal(toHex(decrypt(alg, key, iv, sealed, aad)), tc.msg, where);
  });
  assert.equal(ran, tally.vectors + tally.refused);
  return tally;
}

describe('Wycheproof AEAD vectors (C2SP/wycheproof testvectors_v1)', () => {
  test('aes_gcm_test.json: 66 AES-256/96-bit-IV cases as vectors, 250 other-size cases refused (EINVAL)', () => {
    const t = runWycheproof('aes-256-gcm', 'wycheproof/aes_gcm_test.json');
    assert.deepEqual(
      { vectors: t.vectors, refused: t.refused },
      { vectors: 66, refused: 250 },
      'every case of the file ran, split exactly between vectors and refusals',
    );
    assert.deepEqual(t.byResult, { valid: 229, invalid: 87, acceptable: 0 });
  });

  test('chacha20_poly1305_test.json: 316 vectors (60 tampered → EBADMSG), 9 bad nonce sizes → EINVAL', () => {
    const t = runWycheproof('chacha20-poly1305', 'wycheproof/chacha20_poly1305_test.json');
    assert.deepEqual({ vectors: t.vectors, refused: t.refused }, { vectors: 316, refused: 9 });
    assert.deepEqual(t.byResult, { valid: 256, invalid: 69, acceptable: 0 });
  });

  test('xchacha20_poly1305_test.json: 306 vectors (60 tampered → EBADMSG), 9 bad nonce sizes → EINVAL', () => {
    const t = runWycheproof('xchacha20-poly1305', 'wycheproof/xchacha20_poly1305_test.json');
    assert.deepEqual({ vectors: t.vectors, refused: t.refused }, { vectors: 306, refused: 9 });
    assert.deepEqual(t.byResult, { valid: 246, invalid: 69, acceptable: 0 });
  });
});

interface RfcAeadVector {
  id: string;
  key: string;
  nonce: string;
  aad: string;
  plaintext: string;
  ciphertext: string;
  tag: string;
  result: string;
}

function rfcCases(file: string): RfcAeadVector[] {
  return nonEmpty(file, loadJson<{ tests: RfcAeadVector[] }>(file).tests);
}

function checkRfcVector(alg: AeadAlgorithm, v: RfcAeadVector): void {
  assert.equal(v.result, 'valid', v.id);
  const key = fromHex(v.key);
  const nonce = fromHex(v.nonce);
  const aad = fromHex(v.aad);
  const sealed = `${v.ciphertext}${v.tag}`;
  assert.equal(toHex(encrypt(alg, key, nonce, fromHex(v.plaintext), aad)), sealed, v.id);
  assert.equal(toHex(decrypt(alg, key, nonce, fromHex(sealed), aad)), v.plaintext, v.id);
}

describe('RFC and draft AEAD vectors (vectors/rfc)', () => {
  test('RFC 8439 §2.8.2 (encrypt) and Appendix A.5 (decrypt): ChaCha20-Poly1305', () => {
    const cases = rfcCases('rfc/rfc8439_chacha20poly1305.json');
    assert.deepEqual(
      cases.map((c) => c.id),
      ['rfc8439-2.8.2', 'rfc8439-A.5'],
    );
    for (const v of cases) checkRfcVector('chacha20-poly1305', v);
  });

  test('draft-irtf-cfrg-xchacha-03 A.3.1: XChaCha20-Poly1305', () => {
    const cases = rfcCases('rfc/xchacha20poly1305_draft.json');
    assert.equal(cases.length, 1);
    for (const v of cases) checkRfcVector('xchacha20-poly1305', v);
  });
});

describe('aead argument validation: EINVAL before any work, no secret in the message', () => {
  const key = new Uint8Array(32).fill(0xa5);
  const plain = new Uint8Array(20);

  for (const alg of AEAD_ALGORITHMS) {
    const nonce = new Uint8Array(NONCE_LENGTH[alg]);
    const sealed = encrypt(alg, key, nonce, plain);

    test(`${alg}: wrong key / nonce sizes and non-byte arguments → EINVAL`, () => {
      for (const bad of [0, 16, 24, 31, 33, 64]) {
        expectCode(() => encrypt(alg, new Uint8Array(bad), nonce, plain), 'EINVAL', `key ${bad}`);
        expectCode(() => decrypt(alg, new Uint8Array(bad), nonce, sealed), 'EINVAL', `key ${bad}`);
      }
      for (const bad of [0, 8, 11, 13, 16, 23, 25, 32].filter((n) => n !== NONCE_LENGTH[alg])) {
        expectCode(() => encrypt(alg, key, new Uint8Array(bad), plain), 'EINVAL', `nonce ${bad}`);
        expectCode(() => decrypt(alg, key, new Uint8Array(bad), sealed), 'EINVAL', `nonce ${bad}`);
      }
      const notBytes: unknown[] = ['text', 42, null, [1, 2, 3], new Uint16Array(16), new ArrayBuffer(32)];
      for (const bad of notBytes) {
        const b = bad as Uint8Array;
        expectCode(() => encrypt(alg, b, nonce, plain), 'EINVAL', 'key');
        expectCode(() => encrypt(alg, key, b, plain), 'EINVAL', 'nonce');
        expectCode(() => encrypt(alg, key, nonce, b), 'EINVAL', 'plaintext');
        expectCode(() => decrypt(alg, key, nonce, b), 'EINVAL', 'ciphertext');
        expectCode(() => encrypt(alg, key, nonce, plain, b), 'EINVAL', 'aad');
        expectCode(() => decrypt(alg, key, nonce, sealed, b), 'EINVAL', 'aad');
      }
    });

    test(`${alg}: ciphertext shorter than the tag → EBADMSG; empty plaintext round-trips`, () => {
      for (const length of [0, 1, 15]) {
        expectCode(() => decrypt(alg, key, nonce, sealed.subarray(0, length)), 'EBADMSG', `${length} bytes`);
      }
      const empty = encrypt(alg, key, nonce, new Uint8Array(0));
      assert.equal(empty.length, 16);
      assert.deepEqual(decrypt(alg, key, nonce, empty), new Uint8Array(0));
    });

    test(`${alg}: failure messages never contain key or plaintext bytes`, () => {
      const secretPlain = new Uint8Array(32).fill(0x5c);
      const good = encrypt(alg, key, nonce, secretPlain);
      const bad = Uint8Array.from(good);
      bad[0] = (bad[0] ?? 0) ^ 1;
      for (const run of [
        () => decrypt(alg, key, nonce, bad),
        () => encrypt(alg, key.subarray(0, 31), nonce, secretPlain),
      ]) {
        try {
          run();
          assert.fail('expected a CofferError');
        } catch (error) {
          assert.ok(error instanceof CofferError);
          for (const secret of [toHex(key), toHex(secretPlain), 'a5a5a5a5', '5c5c5c5c']) {
            assert.equal(error.message.toLowerCase().includes(secret), false, error.message);
          }
        }
      }
    });
  }

  test('unknown or mis-typed algorithm names → EINVAL', () => {
    for (const alg of ['aes-128-gcm', 'AES-256-GCM', 'chacha20', '', undefined, 7]) {
      expectCode(() => encrypt(alg as AeadAlgorithm, key, new Uint8Array(12), plain), 'EINVAL', String(alg));
      expectCode(
        () => decrypt(alg as AeadAlgorithm, key, new Uint8Array(12), new Uint8Array(16)),
        'EINVAL',
        String(alg),
      );
    }
  });

  test('results are plain Uint8Arrays that own their memory (callers may wipe them)', () => {
    for (const alg of AEAD_ALGORITHMS) {
      const nonce = new Uint8Array(NONCE_LENGTH[alg]);
      for (const size of [0, 1, 100, 5000]) {
        const sealed = encrypt(alg, key, nonce, new Uint8Array(size).fill(7));
        const opened = decrypt(alg, key, nonce, sealed);
        for (const out of [sealed, opened]) {
          assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype);
          assert.equal(out.byteOffset, 0);
          assert.equal(out.buffer.byteLength, out.length);
        }
        assert.deepEqual(opened, new Uint8Array(size).fill(7));
      }
    }
  });
});

test('sealWithNonce / openWithNonce: nonce ‖ ct ‖ tag layout, fresh nonces, EBADMSG on short or altered input', () => {
  const key = new Uint8Array(32).fill(7);
  const aad = new TextEncoder().encode('ctx');
  let counter = 0;
  const counting = (n: number) => new Uint8Array(n).fill(++counter);
  const sealed = aead.sealWithNonce(key, new TextEncoder().encode('hi'), aad, counting);
  assert.equal(sealed.length, 12 + 2 + 16);
  assert.deepEqual(sealed.subarray(0, 12), new Uint8Array(12).fill(1));
  assert.deepEqual(
    sealed.subarray(12),
    aead.encrypt('aes-256-gcm', key, new Uint8Array(12).fill(1), new TextEncoder().encode('hi'), aad),
  );
  assert.equal(new TextDecoder().decode(aead.openWithNonce(key, sealed, aad)), 'hi');
  assert.notDeepEqual(
    aead.sealWithNonce(key, new Uint8Array(2), aad, counting).subarray(0, 12),
    sealed.subarray(0, 12),
  );
  assert.throws(() => aead.openWithNonce(key, sealed.subarray(0, 27), aad), { code: 'EBADMSG' });
  assert.throws(() => aead.openWithNonce(key, sealed, new Uint8Array(0)), { code: 'EBADMSG' });
  assert.throws(() => aead.openWithNonce(key, 'x' as unknown as Uint8Array), { code: 'EINVAL' });
});

test('encryptInto writes exactly encrypt’s output at the offset, and refuses an output without room (EINVAL)', () => {
  const key = new Uint8Array(32).fill(3);
  const plaintext = new TextEncoder().encode('payload');
  for (const alg of aead.AEAD_ALGORITHMS) {
    const nonce = new Uint8Array(aead.NONCE_LENGTH[alg]).fill(9);
    const out = new Uint8Array(5 + plaintext.length + 16).fill(0xee);
    aead.encryptInto(alg, key, nonce, plaintext, new Uint8Array([1]), out, 5);
    assert.deepEqual(out.subarray(0, 5), new Uint8Array(5).fill(0xee));
    assert.deepEqual(out.subarray(5), aead.encrypt(alg, key, nonce, plaintext, new Uint8Array([1])));
    assert.throws(() => aead.encryptInto(alg, key, nonce, plaintext, undefined, out, 6), { code: 'EINVAL' });
    assert.throws(() => aead.encryptInto(alg, key, nonce, plaintext, undefined, out, -1), { code: 'EINVAL' });
  }
});
