// Proves that the native (OpenSSL) and pure-JS (noble) ML-KEM paths are interchangeable: same public
// key from the same seed, ciphertexts from either decapsulate with the other, X-Wing identical on
// both. On a Node without native ML-KEM it proves instead that the pure-JS path is the one in use
// and reported, and that the native path is expected exactly when Node >= 24.7 with OpenSSL >= 3.5
// (so a broken feature probe on Node 24 fails here rather than silently running pure JS).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { cryptoImplementations, nativeSupport } from './features.js';
import { _mlkemBackends, type MlKemBackend, mlkemDefaultBackend } from './mlkem.js';
import { xwingDecapsulate, xwingEncapsulate, xwingPublicKey } from './xwing.js';

function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split(/[.-]/).map((part) => Number.parseInt(part, 10));
  return a > major || (a === major && b >= minor);
}

const expectNative =
  versionAtLeast(process.versions.node, 24, 7) && versionAtLeast(process.versions.openssl, 3, 5);

test('native ML-KEM is detected exactly where Node >= 24.7 / OpenSSL >= 3.5 provides it', () => {
  assert.equal(
    nativeSupport.mlKem768,
    expectNative,
    `Node ${process.version}, OpenSSL ${process.versions.openssl}`,
  );
  assert.equal(_mlkemBackends.native !== undefined, expectNative);
  const report = cryptoImplementations();
  if (expectNative) {
    assert.equal(mlkemDefaultBackend.name, 'node:crypto');
    assert.equal(report['ml-kem-768'], 'node:crypto');
    assert.equal(report['x-wing'], 'node:crypto');
  } else {
    // Node 20: the pure-JS path is in use and reported; Node 24 runs the cross-checks below in CI.
    assert.equal(mlkemDefaultBackend.name, '@noble/post-quantum');
    assert.equal(report['ml-kem-768'], '@noble/post-quantum');
    assert.equal(report['x-wing'], 'node:crypto + @noble/post-quantum');
  }
});

/** The two backends when both exist; on Node 20 the noble one twice, which the test above covers. */
function pair(): [MlKemBackend, MlKemBackend] {
  return [_mlkemBackends.native ?? _mlkemBackends.noble, _mlkemBackends.noble];
}

test('ML-KEM-768: same public key from the same seed; ciphertexts cross-decapsulate', () => {
  const [native, noble] = pair();
  assert.equal(native.name === 'node:crypto', expectNative);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (seed) => {
      const a = native.expandSecret(seed);
      const b = noble.expandSecret(seed);
      try {
        assert.deepEqual(a.publicKey, b.publicKey);
        const fromNative = native.expandPublic(a.publicKey).encapsulate();
        assert.deepEqual(b.decapsulate(fromNative.ciphertext), fromNative.sharedSecret);
        const fromNoble = noble.expandPublic(b.publicKey).encapsulate();
        assert.deepEqual(a.decapsulate(fromNoble.ciphertext), fromNoble.sharedSecret);
        // Implicit rejection agrees too.
        const forged = Uint8Array.from(fromNoble.ciphertext);
        forged[17]! ^= 0x80;
        assert.deepEqual(a.decapsulate(forged), b.decapsulate(forged));
      } finally {
        a.dispose();
        b.dispose();
      }
    }),
    { numRuns: 25 },
  );
});

test('X-Wing: deterministic outputs identical on both paths; random ones cross-decapsulate', () => {
  const [native, noble] = pair();
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      (seed, eseed) => {
        const pk = xwingPublicKey(seed, native);
        assert.deepEqual(pk, xwingPublicKey(seed, noble));
        const a = xwingEncapsulate(pk, eseed, native);
        assert.deepEqual(a, xwingEncapsulate(pk, eseed, noble));
        assert.deepEqual(xwingDecapsulate(seed, a.ciphertext, native), a.sharedSecret);
        assert.deepEqual(xwingDecapsulate(seed, a.ciphertext, noble), a.sharedSecret);
        const fromNative = xwingEncapsulate(pk, undefined, native);
        assert.deepEqual(xwingDecapsulate(seed, fromNative.ciphertext, noble), fromNative.sharedSecret);
        const fromNoble = xwingEncapsulate(pk, undefined, noble);
        assert.deepEqual(xwingDecapsulate(seed, fromNoble.ciphertext, native), fromNoble.sharedSecret);
      },
    ),
    { numRuns: 20 },
  );
});
