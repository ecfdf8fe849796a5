// BIP-32 against the BIP's own test vectors 1–4 (every chain's xprv and xpub, derived from the seed,
// parsed back and re-serialised) and vector 5 (every invalid extended key rejected with EINVAL);
// fast-check properties: derive(path) equals stepwise derivation, public derivation from an xpub
// equals the private derivation's public key, and the keys agree with @noble/curves point arithmetic
// and with coffer's own secp256k1 signatures.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { loadJson, nonEmpty } from '../testing/vectors.js';
import { type Bip32Node, bip32FromExtendedKey, bip32FromSeed } from './bip32.js';
import { fromHex, toHex } from './bytes.js';
import { formatPath, HARDENED_OFFSET, parsePath } from './hd-path.js';
import * as sig from './sig.js';

interface Chain {
  path: string;
  indices: number[];
  xpub: string;
  xprv: string;
}
interface Vectors {
  valid: { vector: number; seed: string; chains: Chain[] }[];
  invalidExtendedKeys: { keys: { key: string; reason: string }[] };
}
const vectors = loadJson<Vectors>('bip32/bip32_vectors.json');

function rejects(run: () => unknown, code = 'EINVAL'): void {
  assert.throws(run, (error: unknown) => error instanceof CofferError && error.code === code);
}

test('BIP-32 test vectors 1–4: every chain from the seed, parsed and re-serialised', () => {
  let count = 0;
  for (const vector of nonEmpty('bip32 valid', vectors.valid)) {
    const master = bip32FromSeed(fromHex(vector.seed));
    let stepwise: Bip32Node = master;
    for (const chain of nonEmpty(`bip32 vector ${vector.vector}`, vector.chains)) {
      const node = master.derive(chain.path);
      assert.equal(node.xprv, chain.xprv, `${vector.vector} ${chain.path}`);
      assert.equal(node.xpub, chain.xpub, `${vector.vector} ${chain.path}`);
      assert.equal(node.depth, chain.indices.length);
      assert.equal(node.index, chain.indices.at(-1) ?? 0);
      assert.deepEqual(parsePath(chain.path).indices, chain.indices);
      assert.equal(formatPath(chain.indices), chain.path);
      // The chains of one vector each extend the previous one by one index.
      const last = chain.indices.at(-1);
      if (last !== undefined) stepwise = stepwise.deriveChild(last);
      assert.equal(stepwise.xprv, chain.xprv);
      const parsedPrivate = bip32FromExtendedKey(chain.xprv);
      assert.equal(parsedPrivate.xprv, chain.xprv);
      assert.equal(parsedPrivate.xpub, chain.xpub);
      const parsedPublic = bip32FromExtendedKey(chain.xpub);
      assert.equal(parsedPublic.xprv, undefined);
      assert.equal(parsedPublic.privateKey, undefined);
      assert.equal(parsedPublic.xpub, chain.xpub);
      assert.equal(parsedPublic.fingerprint, node.fingerprint);
      assert.equal(parsedPublic.parentFingerprint, node.parentFingerprint);
      assert.equal(node.neuter().xpub, chain.xpub);
      count++;
    }
  }
  assert.equal(count, 17);
});

test("BIP-32 test vector 1: public derivation from the m/0' xpub matches the private chain m/0'/1", () => {
  const v1 = vectors.valid[0]!;
  const parent = bip32FromExtendedKey(v1.chains[1]!.xpub);
  assert.equal(parent.derive('1').xpub, v1.chains[2]!.xpub);
  rejects(() => parent.derive("1'"));
  rejects(() => parent.deriveChild(HARDENED_OFFSET));
  rejects(() => parent.derive('m/1'));
});

test('BIP-32 test vector 5: every invalid extended key is rejected with EINVAL', () => {
  const keys = nonEmpty('bip32 vector 5', vectors.invalidExtendedKeys.keys);
  for (const { key, reason } of keys) {
    assert.throws(
      () => bip32FromExtendedKey(key),
      (error: unknown) => error instanceof CofferError && error.code === 'EINVAL',
      reason,
    );
  }
  assert.equal(keys.length, 16);
});

test('malformed extended keys and seeds are EINVAL', () => {
  const xpub = vectors.valid[0]!.chains[0]!.xpub;
  rejects(() => bip32FromExtendedKey(`${xpub}0`));
  rejects(() => bip32FromExtendedKey(xpub.slice(0, -1)));
  rejects(() => bip32FromExtendedKey(`${xpub.slice(0, 10)}0${xpub.slice(11)}`)); // '0' is not base58
  rejects(() => bip32FromExtendedKey(''));
  rejects(() => bip32FromExtendedKey('1'.repeat(500)));
  rejects(() => bip32FromExtendedKey(7 as unknown as string));
  rejects(() => bip32FromSeed(new Uint8Array(15)));
  rejects(() => bip32FromSeed(new Uint8Array(65)));
  rejects(() => bip32FromSeed(new Uint8Array(16), 'regtest' as 'mainnet'));
  const tprv = bip32FromSeed(new Uint8Array(16), 'testnet');
  assert.match(tprv.xprv!, /^tprv/);
  assert.match(tprv.xpub, /^tpub/);
  assert.equal(bip32FromExtendedKey(tprv.xprv!).network, 'testnet');
});

test("paths: strict syntax, h or ' for hardened, absolute only from the master", () => {
  const master = bip32FromSeed(fromHex('000102030405060708090a0b0c0d0e0f'));
  assert.equal(master.derive('m/0h/1/2H').xprv, master.derive("m/0'/1/2'").xprv);
  assert.equal(master.derive('m').xprv, master.xprv);
  const child = master.derive("m/0'");
  assert.equal(child.derive('1').xpub, master.derive("m/0'/1").xpub);
  rejects(() => child.derive("m/0'"));
  for (const bad of [
    '',
    'm/',
    'm//1',
    'x/1',
    "m/1''",
    'm/01',
    'm/-1',
    'm/1.5',
    'm/2147483648',
    'M/1',
    'm/ 1',
  ]) {
    rejects(() => master.derive(bad));
  }
  rejects(() => master.derive(`m${'/0'.repeat(256)}`));
  rejects(() => master.deriveChild(2 ** 32));
  rejects(() => master.deriveChild(-1));
});

test('wipe clears the private key; getters hand out copies', () => {
  const master = bip32FromSeed(new Uint8Array(32).fill(7));
  const key = master.privateKey!;
  key.fill(0);
  assert.notDeepEqual(master.privateKey, key);
  master.wipe();
  assert.equal(master.privateKey, undefined);
  assert.equal(master.xprv, undefined);
});

const seedArb = fc.uint8Array({ minLength: 16, maxLength: 64 });
const indexArb = fc.oneof(fc.nat(40), fc.integer({ min: HARDENED_OFFSET, max: HARDENED_OFFSET + 40 }));
const softArb = fc.array(fc.nat(2 ** 31 - 1), { minLength: 1, maxLength: 4 });

test('derive(path) equals stepwise deriveChild (fast-check)', () => {
  fc.assert(
    fc.property(seedArb, fc.array(indexArb, { maxLength: 5 }), (seed, indices) => {
      const master = bip32FromSeed(seed);
      let node = master;
      for (const index of indices) node = node.deriveChild(index);
      const viaPath = master.derive(formatPath(indices));
      assert.equal(viaPath.xprv, node.xprv);
      assert.equal(viaPath.depth, indices.length);
    }),
    { numRuns: 60 },
  );
});

test('public derivation from an xpub equals the private derivation for non-hardened paths (fast-check)', () => {
  fc.assert(
    fc.property(seedArb, fc.array(indexArb, { maxLength: 3 }), softArb, (seed, prefix, soft) => {
      const account = bip32FromSeed(seed).derive(formatPath(prefix));
      const relative = soft.join('/');
      const fromPublic = bip32FromExtendedKey(account.xpub).derive(relative);
      const fromPrivate = account.derive(relative);
      assert.deepEqual(fromPublic.publicKey, fromPrivate.publicKey);
      assert.equal(fromPublic.xpub, fromPrivate.xpub);
    }),
    { numRuns: 40 },
  );
});

test('cross-check with @noble/curves: point(k), CKDpriv and CKDpub by hand, and coffer signatures', () => {
  const { Point } = secp256k1;
  const n = Point.Fn.ORDER;
  const big = (bytes: Uint8Array) => BigInt(`0x${toHex(bytes)}`);
  fc.assert(
    fc.property(seedArb, fc.nat(2 ** 31 - 1), fc.uint8Array({ maxLength: 64 }), (seed, index, message) => {
      const parent = bip32FromSeed(seed).derive("m/44'/0'");
      const k = parent.privateKey!;
      assert.deepEqual(parent.publicKey, Point.BASE.multiply(big(k)).toBytes(true));
      // CKDpriv / CKDpub written out with noble arithmetic and node's HMAC.
      const data = new Uint8Array(37);
      data.set(parent.publicKey);
      new DataView(data.buffer).setUint32(33, index, false);
      const I = createHmac('sha512', parent.chainCode).update(data).digest();
      const tweak = big(I.subarray(0, 32));
      const child = parent.deriveChild(index);
      assert.equal(big(child.privateKey!), (big(k) + tweak) % n);
      assert.deepEqual(child.chainCode, new Uint8Array(I.subarray(32)));
      const expectedPublic = Point.BASE.multiply(tweak).add(Point.fromBytes(parent.publicKey)).toBytes(true);
      assert.deepEqual(child.publicKey, expectedPublic);
      assert.deepEqual(sig.publicKey('secp256k1', child.privateKey!), child.publicKey);
      const signature = sig.sign('secp256k1', child.privateKey!, message);
      assert.equal(sig.verify('secp256k1', child.publicKey, message, signature), true);
      assert.equal(child.parentFingerprint, parent.fingerprint);
    }),
    { numRuns: 40 },
  );
});
