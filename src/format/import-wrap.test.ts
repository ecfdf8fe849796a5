// The import wrap (SPEC §14.15.3): the SPEC vector, a round trip, and the refusals — a wrap opens
// only under its own import key and for the destination it names, and any altered byte is EBADMSG.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import * as kem from '../crypto/kem.js';
import { CofferError } from '../errors.js';
import { importKeyFingerprint, unwrapImportedKey, wrapKeyForImport } from './import-wrap.js';
import { privateKeyToPkcs8 } from './private-key.js';

const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
const eseed = Uint8Array.from({ length: 64 }, (_, i) => 0x20 + i);
const pair = kem.keygen('x-wing', seed);
const fingerprint = importKeyFingerprint(pair.publicKey);
const decap = (enc: Uint8Array) => kem.decapsulate('x-wing', pair.secretKey, enc);
const dest = { app: 'billing', purpose: 'invoices' };
const pkcs8 = privateKeyToPkcs8('ed25519', seed);

const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;

test('SPEC §14.15.3 vector', async () => {
  assert.equal(Buffer.from(fingerprint).toString('hex'), 'c9a3565ffde4f72b51661be391ee13e4');
  const wrapped = wrapKeyForImport(pair.publicKey, dest, pkcs8, eseed);
  assert.equal(wrapped.length, 1204);
  assert.equal(
    createHash('sha256').update(wrapped).digest('hex'),
    '452ba318b04935d1b4ba1eb1153d7afb7b680e71e49b8cd6ca9a5f37f1430c06',
  );
  assert.deepEqual(await unwrapImportedKey(decap, fingerprint, dest, wrapped), pkcs8);
});

test('a wrap opens only for its destination and its import key', async () => {
  const wrapped = wrapKeyForImport(pair.publicKey, dest, pkcs8);
  await assert.rejects(
    unwrapImportedKey(decap, fingerprint, { app: 'billing', purpose: 'other' }, wrapped),
    code('EBADMSG'),
  );
  await assert.rejects(
    unwrapImportedKey(decap, fingerprint, { app: 'evil', purpose: 'invoices' }, wrapped),
    code('EBADMSG'),
  );
  const other = kem.keygen('x-wing');
  await assert.rejects(
    unwrapImportedKey(
      (enc) => kem.decapsulate('x-wing', other.secretKey, enc),
      importKeyFingerprint(other.publicKey),
      dest,
      wrapped,
    ),
    (e: unknown) => code('EINVAL')(e) && /fetch the import key again/.test((e as Error).message),
  );
  await assert.rejects(unwrapImportedKey(decap, fingerprint, dest, wrapped.subarray(0, 100)), code('EINVAL'));
});

test('every flipped byte of a wrap is refused', async () => {
  const wrapped = wrapKeyForImport(pair.publicKey, dest, pkcs8);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: wrapped.length - 1 }),
      fc.integer({ min: 1, max: 255 }),
      async (i, x) => {
        const bad = Uint8Array.from(wrapped);
        bad[i]! ^= x;
        await assert.rejects(
          unwrapImportedKey(decap, fingerprint, dest, bad),
          (e: unknown) => e instanceof CofferError && ['EINVAL', 'EBADMSG'].includes(e.code),
        );
      },
    ),
    { numRuns: 40 },
  );
});
