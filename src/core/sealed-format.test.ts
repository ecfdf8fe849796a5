// SPEC §6 vector: a sealed blob built by hand (header ‖ nonce ‖ AES-256-GCM with header ‖ AAD as
// associated data) opens through the Keystore when the key holds the vector's secret.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tempKeystore } from '../testing/keystore.js';
import { keyIdFromBytes } from './ids.js';
import type { KeyInfo } from './types.js';

const VECTOR =
  '010101000102030405060708090a0b0c0d0e0f00000007' +
  '242424242424242424242424' +
  '7df4a82d86c7011bac2b987942370a5aa23f2d99e1';

test('SPEC §6 sealed-blob vector unseals to "hello" with AAD "ctx", and nothing else does', async () => {
  const { ks, cleanup } = await tempKeystore();
  const id = keyIdFromBytes(Uint8Array.from({ length: 16 }, (_, i) => i));
  const now = Date.now();
  const versions = Array.from({ length: 7 }, (_, i) => ({
    version: i + 1,
    state: i === 6 ? 'active' : 'deactivated',
    createdAt: now,
  }));
  const info = {
    id,
    app: 'spec',
    purpose: 'vector',
    algorithm: 'aes-256-gcm',
    uses: ['seal', 'unseal'],
    labels: {},
    state: 'active',
    createdAt: now,
    updatedAt: now,
    primaryVersion: 7,
    minDecryptionVersion: 1,
    versions,
    history: [],
  } as KeyInfo;
  await ks.dangerouslyImportKeyMaterial(
    [
      {
        info,
        versions: versions.map((v) => ({
          version: v.version,
          secret: new Uint8Array(32).fill(v.version === 7 ? 0x42 : 0),
        })),
        usage: {},
      },
    ],
    'fail',
  );
  const blob = Uint8Array.from(Buffer.from(VECTOR, 'hex'));
  assert.equal(Buffer.from(await ks.unseal(id, blob, { aad: 'ctx' })).toString(), 'hello');
  await assert.rejects(ks.unseal(id, blob, { aad: 'ctX' }), { code: 'EBADMSG' });
  const sealed = await ks.seal(id, new TextEncoder().encode('hello'), { aad: 'ctx' });
  assert.equal(Buffer.from(sealed.subarray(0, 23)).toString('hex'), VECTOR.slice(0, 46));
  assert.equal(sealed.length, blob.length);
  await cleanup();
});
