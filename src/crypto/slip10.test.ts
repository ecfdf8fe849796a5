// SLIP-10 against the spec's test vectors for ed25519 and secp256k1 (chain code, private key, public
// key — ed25519 printed with a 0x00 prefix — and parent fingerprint of every chain), the hardened-only
// rule for ed25519, agreement with BIP-32 for secp256k1, and Ed25519 keys that sign and verify with
// coffer's sig module and match @noble/curves.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { loadJson, nonEmpty } from '../testing/vectors.js';
import { bip32FromSeed } from './bip32.js';
import { fromHex, toHex } from './bytes.js';
import { formatPath, HARDENED_OFFSET } from './hd-path.js';
import * as sig from './sig.js';
import { slip10 } from './slip10.js';

interface Slip10File {
  groups: {
    name: string;
    curve: string;
    seed: string;
    chains: {
      path: string;
      indices: number[];
      fingerprint: string;
      chainCode: string;
      private: string;
      public: string;
    }[];
  }[];
}

function rejects(run: () => unknown, code = 'EINVAL'): void {
  assert.throws(run, (error: unknown) => error instanceof CofferError && error.code === code);
}

for (const curve of ['ed25519', 'secp256k1'] as const) {
  test(`SLIP-10 ${curve} test vectors: chain code, private, public and parent fingerprint`, () => {
    const file = loadJson<Slip10File>(`slip10/slip10_${curve}.json`);
    let count = 0;
    for (const group of nonEmpty(`slip10 ${curve}`, file.groups)) {
      assert.equal(group.curve, curve);
      for (const chain of nonEmpty(group.name, group.chains)) {
        const key = slip10(curve, fromHex(group.seed), chain.path);
        assert.equal(toHex(key.chainCode), chain.chainCode, `${group.name} ${chain.path}`);
        assert.equal(toHex(key.privateKey), chain.private, `${group.name} ${chain.path}`);
        const printed = curve === 'ed25519' ? `00${toHex(key.publicKey)}` : toHex(key.publicKey);
        assert.equal(printed, chain.public);
        assert.equal(key.parentFingerprint.toString(16).padStart(8, '0'), chain.fingerprint);
        assert.equal(key.depth, chain.indices.length);
        count++;
      }
    }
    assert.equal(count, 12);
  });
}

test('SLIP-10 ed25519 derives hardened children only; arguments are validated', () => {
  const seed = fromHex('000102030405060708090a0b0c0d0e0f');
  rejects(() => slip10('ed25519', seed, "m/0'/1"));
  rejects(() => slip10('ed25519', seed, 'm/0'));
  rejects(() => slip10('ed25519', seed, "0'"));
  rejects(() => slip10('nist256p1' as 'ed25519', seed, 'm'));
  rejects(() => slip10('ed25519', new Uint8Array(15), 'm'));
  rejects(() => slip10('ed25519', new Uint8Array(65), 'm'));
  rejects(() => slip10('secp256k1', 'seed' as unknown as Uint8Array, 'm'));
  rejects(() => slip10('secp256k1', seed, 'm/x'));
});

const seedArb = fc.uint8Array({ minLength: 16, maxLength: 64 });
const indexArb = fc.oneof(fc.nat(40), fc.integer({ min: HARDENED_OFFSET, max: 0xffff_ffff }));

test('SLIP-10 secp256k1 equals BIP-32 (fast-check)', () => {
  fc.assert(
    fc.property(seedArb, fc.array(indexArb, { maxLength: 4 }), (seed, indices) => {
      const path = formatPath(indices);
      const key = slip10('secp256k1', seed, path);
      const node = bip32FromSeed(seed).derive(path);
      assert.deepEqual(key.privateKey, node.privateKey);
      assert.deepEqual(key.publicKey, node.publicKey);
      assert.deepEqual(key.chainCode, node.chainCode);
      assert.equal(key.parentFingerprint, node.parentFingerprint);
    }),
    { numRuns: 40 },
  );
});

test('SLIP-10 ed25519 keys match noble, sign and verify with coffer sig (fast-check)', () => {
  fc.assert(
    fc.property(
      seedArb,
      fc.array(fc.integer({ min: HARDENED_OFFSET, max: 0xffff_ffff }), { maxLength: 4 }),
      fc.uint8Array({ maxLength: 64 }),
      (seed, indices, message) => {
        const key = slip10('ed25519', seed, formatPath(indices));
        assert.deepEqual(key.publicKey, ed25519.getPublicKey(key.privateKey));
        assert.deepEqual(sig.publicKey('ed25519', key.privateKey), key.publicKey);
        const signature = sig.sign('ed25519', key.privateKey, message);
        assert.equal(sig.verify('ed25519', key.publicKey, message, signature), true);
      },
    ),
    { numRuns: 40 },
  );
});
