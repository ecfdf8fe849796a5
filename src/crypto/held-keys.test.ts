// Held keys (crypto/held-keys.ts): a held import gives exactly what the bytes give, and once released
// the bytes are read afresh, so a wiped or changed key is never used through a stale import.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { MasterKeys } from '../core/master-key.js';
import { decrypt, encrypt } from './aead.js';
import { holdKey, releaseKey } from './held-keys.js';
import { hmac } from './mac.js';

test('a held key seals, opens and MACs exactly as its bytes do', () => {
  const key = new Uint8Array(randomBytes(32));
  const nonce = new Uint8Array(12).fill(7);
  const message = new TextEncoder().encode('record body');
  const aad = new TextEncoder().encode('coffer:record:v1|k/1');
  const expectedSeal = encrypt('aes-256-gcm', Uint8Array.from(key), nonce, message, aad);
  const expectedMac = hmac('sha256', Uint8Array.from(key), message);
  holdKey(key);
  try {
    assert.deepEqual(encrypt('aes-256-gcm', key, nonce, message, aad), expectedSeal);
    assert.deepEqual(decrypt('aes-256-gcm', key, nonce, expectedSeal, aad), message);
    assert.deepEqual(hmac('sha256', key, message), expectedMac);
    // ChaCha20-Poly1305 under the same held bytes is its own cipher, not AES under the import.
    const chacha = encrypt('chacha20-poly1305', key, nonce, message, aad);
    assert.notDeepEqual(chacha, expectedSeal);
    assert.deepEqual(decrypt('chacha20-poly1305', Uint8Array.from(key), nonce, chacha, aad), message);
  } finally {
    releaseKey(key);
  }
});

test('a released key is read afresh: after a change in place, the new bytes are used', () => {
  const key = new Uint8Array(randomBytes(32));
  const message = new TextEncoder().encode('m');
  holdKey(key);
  const before = hmac('sha256', key, message);
  releaseKey(key);
  key.fill(1);
  const after = hmac('sha256', key, message);
  assert.notDeepEqual(after, before);
  assert.deepEqual(after, hmac('sha256', new Uint8Array(32).fill(1), message));
});

test('MasterKeys.wipe releases its held subkeys: a wiped subkey MACs and seals as zeros, not as the old key', () => {
  const keys = new MasterKeys(new Uint8Array(randomBytes(32)), new Uint8Array(16));
  const message = new TextEncoder().encode('audit entry hash');
  const nonce = new Uint8Array(12);
  const liveMac = hmac('sha256', keys.audit, message);
  const liveSeal = encrypt('aes-256-gcm', keys.barrier, nonce, message);
  assert.deepEqual(liveMac, hmac('sha256', Uint8Array.from(keys.audit), message));
  keys.wipe();
  const zeros = new Uint8Array(32);
  assert.deepEqual(hmac('sha256', keys.audit, message), hmac('sha256', zeros, message));
  assert.deepEqual(
    encrypt('aes-256-gcm', keys.barrier, nonce, message),
    encrypt('aes-256-gcm', zeros, nonce, message),
  );
  assert.notDeepEqual(encrypt('aes-256-gcm', keys.barrier, nonce, message), liveSeal);
});
