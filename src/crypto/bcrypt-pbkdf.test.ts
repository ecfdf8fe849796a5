// bcrypt_pbkdf against OpenBSD's regression vectors (regress/lib/libutil/bcrypt_pbkdf) and the
// Blowfish constants against Schneier's published tables; OpenSSH interop (keys ssh-keygen encrypted
// and decrypted) is in format/key-import-world.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CofferError } from '../errors.js';
import { _blowfishConstants, BCRYPT_PBKDF_MAX_ROUNDS, bcryptPbkdf } from './bcrypt-pbkdf.js';
import { fromHex, toHex } from './bytes.js';

const text = (s: string) => new TextEncoder().encode(s);

test('Blowfish constants computed from π match the published P-array and S-box ends', () => {
  const words = _blowfishConstants();
  assert.equal(words.length, 18 + 4 * 256);
  // P1, P18, S1[0], S4[255] of Schneier's tables (hex digits of π).
  assert.equal(words[0], 0x243f6a88);
  assert.equal(words[1], 0x85a308d3);
  assert.equal(words[17], 0x8979fb1b);
  assert.equal(words[18], 0xd1310ba6);
  assert.equal(words[18 + 255], 0x6e85076a);
  assert.equal(words[18 + 256], 0x4b7a70e9);
  assert.equal(words[1041], 0x3ac372e6);
});

test('OpenBSD bcrypt_pbkdf regression vectors', () => {
  assert.equal(
    toHex(bcryptPbkdf(text('password'), text('salt'), 4, 32)),
    '5bbf0cc293587f1c3635555c27796598d47e579071bf427e9d8fbe842aba34d9',
  );
  assert.equal(
    toHex(bcryptPbkdf(text('password'), fromHex('00'), 4, 16)),
    'c12b566235eee04c212598970a579a67',
  );
  assert.equal(toHex(bcryptPbkdf(fromHex('00'), text('salt'), 4, 16)), '6051be18c2f4f82cbf0efee5471b4bb9');
});

test('output interleaves across blocks: a longer key is not a prefix extension', () => {
  const k32 = bcryptPbkdf(text('pw'), text('salt'), 2, 32);
  const k48 = bcryptPbkdf(text('pw'), text('salt'), 2, 48);
  // With stride 2, byte 0 of block 1 is key[0], byte 0 of block 2 is key[1].
  assert.notDeepEqual(k48.subarray(0, 32), k32);
  assert.equal(k48[0], k32[0]);
  // Rounds change everything.
  assert.notDeepEqual(bcryptPbkdf(text('pw'), text('salt'), 3, 32), k32);
});

test('bounds: rounds, key length and salt are checked before any work', () => {
  const einval = (e: unknown) => e instanceof CofferError && e.code === 'EINVAL';
  assert.throws(() => bcryptPbkdf(text('pw'), text('salt'), 0, 32), einval);
  assert.throws(() => bcryptPbkdf(text('pw'), text('salt'), BCRYPT_PBKDF_MAX_ROUNDS + 1, 32), einval);
  assert.throws(() => bcryptPbkdf(text('pw'), text('salt'), 1, 0), einval);
  assert.throws(() => bcryptPbkdf(text('pw'), new Uint8Array(0), 1, 32), einval);
  assert.throws(() => bcryptPbkdf('pw' as unknown as Uint8Array, text('salt'), 1, 32), einval);
});
