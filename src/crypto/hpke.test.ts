// HPKE base mode over X-Wing (SPEC §14.12): a vector of our own (the §1.C X-Wing encapsulation of
// seed 00…1f with eseed 20…5f, age's info string, file key 40…4f), recomputed independently with
// @noble/hashes and @noble/ciphers from RFC 9180 §5.1's key schedule; round trips through a
// decapsulation callback; a wrong key, info or tampered ciphertext is EBADMSG. age interop
// (typage) is in format/age.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CofferError } from '../errors.js';
import { concatBytes, fromHex, toHex } from './bytes.js';
import { openBase, sealBase } from './hpke.js';
import * as kem from './kem.js';

const seq = (start: number, n: number) => Uint8Array.from({ length: n }, (_, i) => start + i);
const INFO = new TextEncoder().encode('age-encryption.org/mlkem768x25519');
const FILE_KEY = seq(0x40, 16);

test('SPEC §14.12 HPKE vector, recomputed with @noble from the RFC 9180 key schedule', () => {
  const { publicKey } = kem.keygen('x-wing', seq(0, 32));
  const { enc, ciphertext } = sealBase(publicKey, INFO, new Uint8Array(0), FILE_KEY, seq(0x20, 64));
  assert.equal(toHex(sha256(enc)), '67eb40cd5d72deddbbfb5a6ff826a776b53e4406d46caea66412ebe1bbf6c5fb'); // §1.C ciphertext
  assert.equal(toHex(ciphertext), 'f7c076ab4ba56c2425b47a80f9d06bd2a9694475cc2691dbf31823e7bc2f718f');
  // Independent: shared secret of §1.C, then LabeledExtract/Expand by hand.
  const ss = fromHex('9ef8c4373f751b482022f88f3e8cceeb4815a3c1afbc784324ac9eeb50932023');
  const text = (s: string) => new TextEncoder().encode(s);
  const suite = concatBytes(text('HPKE'), Uint8Array.of(0x64, 0x7a, 0x00, 0x01, 0x00, 0x03));
  const labeledExtract = (salt: Uint8Array, label: string, ikm: Uint8Array) =>
    extract(sha256, concatBytes(text('HPKE-v1'), suite, text(label), ikm), salt);
  const labeledExpand = (prk: Uint8Array, label: string, info: Uint8Array, n: number) =>
    expand(sha256, prk, concatBytes(Uint8Array.of(0, n), text('HPKE-v1'), suite, text(label), info), n);
  const empty = new Uint8Array(0);
  const context = concatBytes(
    Uint8Array.of(0),
    labeledExtract(empty, 'psk_id_hash', empty),
    labeledExtract(empty, 'info_hash', INFO),
  );
  const secret = labeledExtract(ss, 'secret', empty);
  const key = labeledExpand(secret, 'key', context, 32);
  const nonce = labeledExpand(secret, 'base_nonce', context, 12);
  assert.equal(toHex(chacha20poly1305(key, nonce).encrypt(FILE_KEY)), toHex(ciphertext));
});

test('round trip through a decapsulation callback; wrong key, info or bytes are EBADMSG', async () => {
  const a = kem.keygen('x-wing');
  const b = kem.keygen('x-wing');
  const { enc, ciphertext } = sealBase(a.publicKey, INFO, new Uint8Array(0), FILE_KEY);
  const decapsulate = (secretKey: Uint8Array) => (e: Uint8Array) => kem.decapsulate('x-wing', secretKey, e);
  assert.deepEqual(
    await openBase(decapsulate(a.secretKey), enc, INFO, new Uint8Array(0), ciphertext),
    FILE_KEY,
  );
  const ebadmsg = (e: unknown) => e instanceof CofferError && e.code === 'EBADMSG';
  await assert.rejects(openBase(decapsulate(b.secretKey), enc, INFO, new Uint8Array(0), ciphertext), ebadmsg);
  await assert.rejects(
    openBase(decapsulate(a.secretKey), enc, new Uint8Array(1), new Uint8Array(0), ciphertext),
    ebadmsg,
  );
  const flipped = ciphertext.slice();
  flipped[0]! ^= 1;
  await assert.rejects(openBase(decapsulate(a.secretKey), enc, INFO, new Uint8Array(0), flipped), ebadmsg);
  await assert.rejects(
    openBase(decapsulate(a.secretKey), enc.subarray(1), INFO, new Uint8Array(0), ciphertext),
    (e: unknown) => e instanceof CofferError && e.code === 'EINVAL',
  );
});
