// Proves the X25519 function X-Wing uses: RFC 7748 §6.1, every Wycheproof x25519_test.json case
// (valid and acceptable alike, with the exact expected output), and that the low-order list is
// exactly the set of u whose clamped multiples are zero.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachWycheproofCase, type WycheproofCase } from '../testing/vectors.js';
import { fromHex, toHex } from './bytes.js';
import { isLowOrderPoint, x25519, x25519Base, x25519PrivateKey, x25519PublicKey } from './x25519.js';

interface XdhCase extends WycheproofCase {
  public: string;
  private: string;
  shared: string;
}

test('RFC 7748 §6.1: Alice and Bob derive the same shared secret', () => {
  const alice = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const bob = fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  const alicePub = x25519Base(alice);
  const bobPub = x25519Base(bob);
  assert.equal(toHex(alicePub), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  assert.equal(toHex(bobPub), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  assert.equal(toHex(x25519(alice, bobPub)), shared);
  assert.equal(toHex(x25519(bob, alicePub)), shared);
  // A prepared private KeyObject and a prepared peer give the same value.
  assert.equal(toHex(x25519(x25519PrivateKey(alice), bobPub, x25519PublicKey(bobPub))), shared);
});

test('Wycheproof x25519_test.json: every case gives the expected shared value', () => {
  let zero = 0;
  const count = forEachWycheproofCase<XdhCase>('wycheproof/x25519_test.json', (c) => {
    // The file has only valid and acceptable cases. "acceptable" covers twist points, non-canonical
    // u (>= p, or top bit set) and low-order u with an all-zero output: X-Wing's X25519 is the plain
    // RFC 7748 function with no check (draft §5.4/§5.5), so all of them must give exactly `shared`.
    assert.notEqual(c.result, 'invalid', `tcId ${c.tcId}`);
    const u = fromHex(c.public);
    const out = x25519(fromHex(c.private), u);
    assert.equal(toHex(out), c.shared, `tcId ${c.tcId} ${c.comment}`);
    const allZero = /^0+$/.test(c.shared);
    assert.equal(isLowOrderPoint(u), allZero, `tcId ${c.tcId}: low-order detection`);
    assert.equal(allZero, c.flags?.includes('ZeroSharedSecret') ?? false, `tcId ${c.tcId}: flags`);
    if (allZero) zero++;
  });
  assert.equal(count, 518);
  assert.ok(zero >= 12, `expected the low-order cases to be present, saw ${zero}`);
});

test('the low-order list is exactly {0, 1, p-1, the two order-8 roots} and their non-canonical forms', () => {
  const p = 2n ** 255n - 19n;
  const A = 486662n;
  const toBig = (u: Uint8Array): bigint => BigInt(`0x${toHex(Uint8Array.from(u).reverse())}`);
  const fromBig = (n: bigint): Uint8Array => fromHex(n.toString(16).padStart(64, '0')).reverse();
  const pow = (b: bigint, e: bigint): bigint => {
    let r = 1n;
    let x = b % p;
    for (let k = e; k > 0n; k >>= 1n) {
      if (k & 1n) r = (r * x) % p;
      x = (x * x) % p;
    }
    return r;
  };
  // x-only doubling on Montgomery curves: x(2P) = (x² − 1)² / (4x(x² + A·x + 1)).
  const double = (x: bigint): bigint => {
    const num = (x * x - 1n) ** 2n % p;
    const den = (4n * x * ((x * x + A * x + 1n) % p)) % p;
    return (num * pow(den, p - 2n)) % p;
  };
  const order8 = [
    325606250916557431795983626356110631294008115727848805560023387167927233504n,
    39382357235489614581723060781553021112529911719440698176882885853963445705823n,
  ];
  for (const u of order8) {
    const twice = double(u);
    assert.ok(twice === 1n || twice === p - 1n, 'an order-8 point doubles to an order-4 point (u = ±1)');
    assert.equal(isLowOrderPoint(fromBig(u)), true);
  }
  for (const u of [0n, 1n, p - 1n, p, p + 1n]) assert.equal(isLowOrderPoint(fromBig(u)), true);
  // The top bit is ignored (RFC 7748 §5), so setting it changes nothing.
  const withTopBit = fromBig(1n);
  withTopBit[31] = 0x80;
  assert.equal(isLowOrderPoint(withTopBit), true);
  // Neighbours, 9 (the base point) and p + 2 … p + 18 (non-canonical but not low order) are fine.
  for (const u of [2n, 9n, p - 2n, p + 2n, p + 18n, order8[0]! + 1n]) {
    assert.equal(isLowOrderPoint(fromBig(u)), false, `u = ${u}`);
  }
  assert.equal(toBig(fromBig(order8[1]!)), order8[1]);
});

test('X25519 arguments of the wrong length are EINVAL', () => {
  assert.throws(() => x25519(new Uint8Array(31), new Uint8Array(32).fill(9)), { code: 'EINVAL' });
  assert.throws(() => x25519(new Uint8Array(32), new Uint8Array(33)), { code: 'EINVAL' });
  assert.throws(() => x25519(new Uint8Array(31), new Uint8Array(32)), { code: 'EINVAL' });
  assert.throws(() => x25519Base(new Uint8Array(0)), { code: 'EINVAL' });
  assert.throws(() => isLowOrderPoint(new Uint8Array(16)), { code: 'EINVAL' });
});
