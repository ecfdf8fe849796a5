// cryptoImplementations() must tell the truth for the symmetric primitives (`coffer doctor` prints it):
// each entry is checked against the detection the modules themselves branch on, and against what this
// Node version is known to ship, so neither the report nor the detection can drift unnoticed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cryptoImplementations, nativeSupport } from './features.js';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);

test('AEAD entries: OpenSSL bulk ciphers everywhere, XChaCha adds only the @noble/ciphers HChaCha20 step', () => {
  const report = cryptoImplementations();
  assert.equal(nativeSupport.aes256Gcm, true);
  assert.equal(nativeSupport.chacha20Poly1305, true);
  assert.equal(report['aes-256-gcm'], 'node:crypto');
  assert.equal(report['chacha20-poly1305'], 'node:crypto');
  assert.equal(report['xchacha20-poly1305'], 'node:crypto + @noble/ciphers');
});

test('HMAC, HKDF, scrypt and PBKDF2 are native on Node ≥ 20 (OpenSSL 3 has SHA3, scrypt and PBKDF2)', () => {
  const report = cryptoImplementations();
  assert.ok(major >= 20);
  assert.equal(nativeSupport.sha3, true);
  assert.equal(nativeSupport.scrypt, true);
  assert.equal(nativeSupport.pbkdf2, true);
  assert.equal(report.hmac, 'node:crypto');
  assert.equal(report.hkdf, 'node:crypto');
  assert.equal(report.scrypt, 'node:crypto');
  assert.equal(report.pbkdf2, 'node:crypto');
});

test('Argon2id is native exactly from Node 24.7 on, @noble/hashes before', () => {
  const native = major > 24 || (major === 24 && minor >= 7);
  assert.equal(nativeSupport.argon2, native);
  assert.equal(cryptoImplementations().argon2id, native ? 'node:crypto' : '@noble/hashes');
});
