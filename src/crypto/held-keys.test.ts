// Held keys (crypto/held-keys.ts): a held import gives exactly what the bytes give, and once released
// the bytes are read afresh, so a wiped or changed key is never used through a stale import.
import assert from 'node:assert/strict';
import { createPrivateKey, KeyObject, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { MasterKeys } from '../core/master-key.js';
import { decrypt, encrypt } from './aead.js';
import { holdKey, IMPORT_BYTES_FIRST, importQuietly, keyInput, releaseKey } from './held-keys.js';
import { hkdf } from './kdf.js';
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

test('bytes that are not held go to OpenSSL as a fresh import exactly where plain bytes are the slow path', () => {
  // Node 24's key objects keep their state in private slots (its brand checks throw for plain bytes);
  // Node 20's carry symbol-keyed state. The probe must tell the two apart.
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 24) assert.equal(IMPORT_BYTES_FIRST, true);
  if (major <= 20) assert.equal(IMPORT_BYTES_FIRST, false);
  const key = new Uint8Array(randomBytes(32));
  const input = keyInput(key);
  if (IMPORT_BYTES_FIRST) {
    assert.ok(input instanceof KeyObject);
    assert.deepEqual(new Uint8Array(input.export()), key);
    // A fresh import per call: a caller's buffer changed afterwards is read again, never cached.
    key.fill(3);
    assert.deepEqual(new Uint8Array((keyInput(key) as KeyObject).export()), new Uint8Array(32).fill(3));
  } else {
    assert.equal(input, key);
  }
  // An empty key (HKDF's empty input keying material) stays bytes: it has nothing to import.
  assert.equal(keyInput(new Uint8Array(0)).constructor, Uint8Array);
});

test('HKDF and HMAC over imported keys give the RFC 5869 and RFC 4231 answers', () => {
  // RFC 5869 A.1 (SHA-256) through hkdf(), whose input keying material now goes through keyInput.
  const ikm = new Uint8Array(22).fill(0x0b);
  const salt = Uint8Array.from(Buffer.from('000102030405060708090a0b0c', 'hex'));
  const info = Uint8Array.from(Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex'));
  assert.equal(
    Buffer.from(hkdf('sha256', ikm, salt, info, 42)).toString('hex'),
    '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  );
  // RFC 4231 test case 2 (key "Jefe").
  assert.equal(
    Buffer.from(
      hmac(
        'sha256',
        new TextEncoder().encode('Jefe'),
        new TextEncoder().encode('what do ya want for nothing?'),
      ),
    ).toString('hex'),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  );
});

test('importQuietly turns stack capture off only for its synchronous call, and restores it on a throw', () => {
  const limit = Error.stackTraceLimit;
  const inside = importQuietly(() => Error.stackTraceLimit);
  assert.equal(inside, IMPORT_BYTES_FIRST ? 0 : limit);
  assert.equal(Error.stackTraceLimit, limit);
  assert.throws(
    () =>
      importQuietly(() => createPrivateKey({ key: Buffer.from('not a key'), format: 'der', type: 'pkcs8' })),
    (error: unknown) => error instanceof Error,
  );
  assert.equal(Error.stackTraceLimit, limit);
});
