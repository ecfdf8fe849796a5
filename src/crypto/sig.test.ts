// The public signature API: Coffer's own test vectors (SPEC "Signatures"), RFC 8032 §7.1 test 1,
// argument validation before any work (EINVAL), verify's error contract (false for any bad
// signature, never a throw), low-S rules, secp256k1 recovery, and that cached keys follow the bytes,
// not the buffers that carried them.
import assert from 'node:assert/strict';
import { createHash, hkdfSync } from 'node:crypto';
import { test } from 'node:test';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CofferError } from '../errors.js';
import { fromHex, toHex, utf8 } from './bytes.js';
import * as sig from './sig.js';
import { CURVES } from './sig-ecdsa.js';

const SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
const MESSAGE = utf8.encode('coffer signature test vector');

/** SPEC "Signatures" test vectors: seed 00 01 … 1f. */
const VECTORS = {
  ed25519: {
    secretKey: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    publicKey: '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8',
  },
  'ecdsa-p256': {
    secretKey: '5bb108b8f24a11ddd96274271b36c886bf9fc08ebcee30d7418d19c1a57d7632',
    publicKey:
      '04e5360f21f9d6c45bdf9c479a845800aa2da3ff5f6b07cbb29fb09784aa13b174b91650c3e229d76cff54b2cef9aa59c4f80673338f280b378f76a79b3d5ed360',
  },
  secp256k1: {
    secretKey: '614747d0ed3b81ff15e697153367c56dccd1656d52857e75d174fe7b04a1d995',
    publicKey: '032162b099b2710b552351f7aadb01c30a0b87860e577f8cc00bba555db518e5bb',
  },
  'ml-dsa-65': {
    secretKey: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    // 1952 bytes: the first 32 and the SHA-256 of all of them.
    publicKeyStart: '48683d91978e31eb3dddb8b0473482d2b88a5f625949fd8f58a561e696bd4c27',
    publicKeySha256: 'd666806e11cee19a7c989f7445f90dd419cf4d2d51db8c0fdb4c0f0a542238c9',
  },
} as const;
const ED25519_SIGNATURE =
  'd2d1b2b405f7a659067afded9c9da1816e9ce7eec9f58c911bd5367a2719c7665c8bec262fda10e66b8e5f77cfefc378d56dff641d80efce1261cad42d891e06';

const einval = { code: 'EINVAL' };

test('SPEC vectors: fixed seed → secret and public key for every algorithm', () => {
  for (const alg of ['ed25519', 'ecdsa-p256', 'secp256k1'] as const) {
    const pair = sig.keygen(alg, SEED);
    assert.equal(toHex(pair.secretKey), VECTORS[alg].secretKey, alg);
    assert.equal(toHex(pair.publicKey), VECTORS[alg].publicKey, alg);
    assert.equal(toHex(sig.publicKey(alg, pair.secretKey)), VECTORS[alg].publicKey, alg);
  }
  const ml = sig.keygen('ml-dsa-65', SEED);
  assert.equal(toHex(ml.secretKey), VECTORS['ml-dsa-65'].secretKey);
  assert.equal(ml.publicKey.length, 1952);
  assert.equal(toHex(ml.publicKey.subarray(0, 32)), VECTORS['ml-dsa-65'].publicKeyStart);
  assert.equal(createHash('sha256').update(ml.publicKey).digest('hex'), VECTORS['ml-dsa-65'].publicKeySha256);
});

test('SPEC vector: Ed25519 signature of the fixed message (deterministic, RFC 8032)', () => {
  const signature = sig.sign('ed25519', sig.keygen('ed25519', SEED).secretKey, MESSAGE);
  assert.equal(toHex(signature), ED25519_SIGNATURE);
  assert.equal(sig.verify('ed25519', fromHex(VECTORS.ed25519.publicKey), MESSAGE, signature), true);
});

test('RFC 8032 §7.1 TEST 1 (empty message)', () => {
  const secret = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const expectedPublic = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
  const expectedSig =
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
  assert.equal(toHex(sig.publicKey('ed25519', secret)), expectedPublic);
  assert.equal(toHex(sig.sign('ed25519', secret, new Uint8Array(0))), expectedSig);
});

test('ECDSA seeded keygen is HKDF-SHA256(seed, "", "coffer/sig/v1/keygen/<alg>" ‖ 0x00 ‖ i) with rejection', () => {
  for (const [alg, curve] of [
    ['ecdsa-p256', p256],
    ['secp256k1', secp256k1],
  ] as const) {
    const info = Buffer.concat([Buffer.from(`coffer/sig/v1/keygen/${alg}`), Buffer.from([0, 0])]);
    const scalar = new Uint8Array(hkdfSync('sha256', SEED, new Uint8Array(0), info, 32));
    assert.equal(toHex(scalar), VECTORS[alg].secretKey);
    // An independent implementation gives the same public key.
    const compressed = alg === 'secp256k1';
    assert.equal(toHex(curve.getPublicKey(scalar, compressed)), VECTORS[alg].publicKey);
  }
});

test('keygen without a seed is random and every pair signs and verifies, messages of any length', () => {
  for (const alg of sig.SIG_ALGORITHMS) {
    const a = sig.keygen(alg);
    const b = sig.keygen(alg);
    assert.notDeepEqual(a.secretKey, b.secretKey, alg);
    assert.equal(a.secretKey.length, sig.SIG_LENGTHS[alg].secretKey);
    assert.equal(a.publicKey.length, sig.SIG_LENGTHS[alg].publicKey);
    for (const message of [new Uint8Array(0), MESSAGE, new Uint8Array(100_000).fill(7)]) {
      const signature = sig.sign(alg, a.secretKey, message);
      assert.equal(signature.length, sig.SIG_LENGTHS[alg].signature, alg);
      assert.equal(sig.verify(alg, a.publicKey, message, signature), true, alg);
      assert.equal(sig.verify(alg, b.publicKey, message, signature), false, `${alg}: other key`);
    }
  }
});

test('keygen without a seed (the native generator) returns the pair a seeded secret derives', () => {
  for (const alg of sig.SIG_ALGORITHMS) {
    for (let i = 0; i < 20; i++) {
      const pair = sig.keygen(alg);
      assert.equal(Object.getPrototypeOf(pair.secretKey), Uint8Array.prototype, alg);
      assert.equal(Object.getPrototypeOf(pair.publicKey), Uint8Array.prototype, alg);
      assert.equal(pair.secretKey.byteLength, pair.secretKey.buffer.byteLength, `${alg}: own memory`);
      assert.deepEqual(sig.publicKey(alg, pair.secretKey), pair.publicKey, alg);
    }
  }
  // An ECDSA scalar below 2^248 comes out of OpenSSL one byte short: it must be left-padded to 32.
  for (const alg of ['ecdsa-p256', 'secp256k1'] as const) {
    let padded: sig.SigKeyPair | undefined;
    for (let i = 0; i < 50_000 && !padded; i++) {
      const pair = sig.keygen(alg);
      if (pair.secretKey[0] === 0) padded = pair;
    }
    assert.ok(padded, `${alg}: no scalar with a leading zero byte in 50 000 tries`);
    assert.equal(padded.secretKey.length, 32);
    assert.deepEqual(sig.publicKey(alg, padded.secretKey), padded.publicKey, alg);
  }
});

test('outputs are plain Uint8Arrays (not Buffers) and never alias caller or cache memory', () => {
  for (const alg of sig.SIG_ALGORITHMS) {
    const seed = SEED.slice();
    const pair = sig.keygen(alg, seed);
    assert.equal(Object.getPrototypeOf(pair.publicKey), Uint8Array.prototype, alg);
    assert.equal(Object.getPrototypeOf(pair.secretKey), Uint8Array.prototype, alg);
    const signature = sig.sign(alg, pair.secretKey, MESSAGE);
    assert.equal(Object.getPrototypeOf(signature), Uint8Array.prototype, alg);
    // The caller wiping its seed or scribbling on a returned public key changes nothing later.
    const expected = pair.publicKey.slice();
    seed.fill(0);
    pair.publicKey.fill(0xee);
    assert.deepEqual(sig.publicKey(alg, pair.secretKey), expected, alg);
    assert.deepEqual(sig.keygen(alg, SEED).publicKey, expected, alg);
  }
});

test('the key cache follows bytes: a reused buffer with new key bytes signs with the new key', () => {
  for (const alg of sig.SIG_ALGORITHMS) {
    const a = sig.keygen(alg);
    const b = sig.keygen(alg);
    const buffer = a.secretKey.slice();
    const s1 = sig.sign(alg, buffer, MESSAGE);
    buffer.set(b.secretKey);
    const s2 = sig.sign(alg, buffer, MESSAGE);
    assert.equal(sig.verify(alg, a.publicKey, MESSAGE, s1), true, alg);
    assert.equal(sig.verify(alg, b.publicKey, MESSAGE, s2), true, alg);
    assert.equal(sig.verify(alg, a.publicKey, MESSAGE, s2), false, alg);
    const pub = a.publicKey.slice();
    assert.equal(sig.verify(alg, pub, MESSAGE, s1), true, alg);
    pub.set(b.publicKey);
    assert.equal(sig.verify(alg, pub, MESSAGE, s1), false, alg);
    // Clearing the caches loses nothing but time.
    sig.clearKeyCache();
    assert.equal(sig.verify(alg, b.publicKey, MESSAGE, sig.sign(alg, b.secretKey, MESSAGE)), true, alg);
  }
});

test('verify returns false, never throws, for every kind of bad signature', () => {
  for (const alg of sig.SIG_ALGORITHMS) {
    const { secretKey, publicKey } = sig.keygen(alg, SEED);
    const signature = sig.sign(alg, secretKey, MESSAGE);
    const bad: Uint8Array[] = [
      new Uint8Array(0),
      signature.subarray(1),
      new Uint8Array([...signature, 0]),
      new Uint8Array(signature.length),
      new Uint8Array(signature.length).fill(0xff),
    ];
    for (let i = 0; i < signature.length; i += Math.max(1, Math.floor(signature.length / 16))) {
      const flipped = signature.slice();
      flipped[i]! ^= 0x01;
      bad.push(flipped);
    }
    for (const candidate of bad) assert.equal(sig.verify(alg, publicKey, MESSAGE, candidate), false, alg);
    assert.equal(sig.verify(alg, publicKey, MESSAGE.subarray(1), signature), false, alg);
  }
});

test('ECDSA r or s of 0 or ≥ n verify as false', () => {
  for (const alg of ['ecdsa-p256', 'secp256k1'] as const) {
    const { secretKey, publicKey } = sig.keygen(alg, SEED);
    const signature = sig.sign(alg, secretKey, MESSAGE);
    const n = CURVES[alg].orderBytes;
    for (const [offset, value] of [
      [0, new Uint8Array(32)],
      [32, new Uint8Array(32)],
      [0, n],
      [32, n],
    ] as const) {
      const tampered = signature.slice();
      tampered.set(value, offset);
      assert.equal(sig.verify(alg, publicKey, MESSAGE, tampered), false, alg);
    }
  }
});

function highS(alg: 'ecdsa-p256' | 'secp256k1', signature: Uint8Array): Uint8Array {
  const c = CURVES[alg];
  const s = BigInt(`0x${toHex(signature.subarray(32))}`);
  const out = signature.slice();
  out.set(fromHex((c.order - s).toString(16).padStart(64, '0')), 32);
  return out;
}

test('secp256k1 signs low-S and rejects high-S; P-256 accepts both halves', () => {
  const k1 = sig.keygen('secp256k1', SEED);
  for (let i = 0; i < 40; i++) {
    const signature = sig.sign('secp256k1', k1.secretKey, Uint8Array.of(i));
    const s = BigInt(`0x${toHex(signature.subarray(32))}`);
    assert.ok(s <= CURVES.secp256k1.halfOrder, 'secp256k1 signature must be low-S');
    assert.equal(sig.verify('secp256k1', k1.publicKey, Uint8Array.of(i), signature), true);
    // The mirrored (r, n - s) is mathematically valid — and refused (BIP-62 malleability rule).
    assert.equal(
      sig.verify('secp256k1', k1.publicKey, Uint8Array.of(i), highS('secp256k1', signature)),
      false,
    );
  }
  const p = sig.keygen('ecdsa-p256', SEED);
  const signature = sig.sign('ecdsa-p256', p.secretKey, MESSAGE);
  assert.equal(sig.verify('ecdsa-p256', p.publicKey, MESSAGE, signature), true);
  assert.equal(sig.verify('ecdsa-p256', p.publicKey, MESSAGE, highS('ecdsa-p256', signature)), true);
});

test('EC public keys: both 33- and 65-byte forms verify', () => {
  for (const [alg, curve] of [
    ['ecdsa-p256', p256],
    ['secp256k1', secp256k1],
  ] as const) {
    const { secretKey, publicKey } = sig.keygen(alg, SEED);
    const signature = sig.sign(alg, secretKey, MESSAGE);
    const point = curve.Point.fromBytes(publicKey);
    for (const form of [point.toBytes(true), point.toBytes(false)]) {
      assert.equal(sig.verify(alg, form, MESSAGE, signature), true, `${alg} ${form.length}`);
    }
  }
});

test('malformed public keys are EINVAL (a caller bug), not false', () => {
  const cases: [sig.SigAlgorithm, Uint8Array][] = [
    ['ed25519', new Uint8Array(31)],
    ['ed25519', new Uint8Array(32).fill(0xff)], // y ≥ p: non-canonical (RFC 8032 §5.1.3)
    ['ecdsa-p256', new Uint8Array(64)],
    ['ecdsa-p256', new Uint8Array(65)], // prefix 0x00
    ['secp256k1', new Uint8Array(32)],
    ['ml-dsa-65', new Uint8Array(1951)],
    ['ml-dsa-65', new Uint8Array(1953)],
  ];
  for (const alg of ['ecdsa-p256', 'secp256k1'] as const) {
    const { publicKey } = sig.keygen(alg, SEED);
    const full =
      alg === 'secp256k1' ? secp256k1.Point.fromBytes(publicKey).toBytes(false) : publicKey.slice();
    const offCurve = full.slice();
    offCurve[64]! ^= 1;
    const hybrid = full.slice();
    hybrid[0] = 0x06 | (full[64]! & 1); // X9.62 hybrid form: OpenSSL takes it, Coffer does not
    const badX = new Uint8Array(33).fill(0xff);
    badX[0] = 0x02;
    cases.push([alg, offCurve], [alg, hybrid], [alg, badX]);
  }
  for (const [alg, publicKey] of cases) {
    const signature = new Uint8Array(sig.SIG_LENGTHS[alg].signature);
    assert.throws(
      () => sig.verify(alg, publicKey, MESSAGE, signature),
      einval,
      `${alg} ${toHex(publicKey.subarray(0, 4))}`,
    );
  }
});

test('arguments are validated first: EINVAL with a clear message, nothing else', () => {
  const good = sig.keygen('ed25519', SEED);
  const notBytes = [undefined, null, 'abc', [1, 2, 3], 42, {}] as unknown as Uint8Array[];
  for (const alg of ['rsa', 'ED25519', '', undefined, 1] as unknown as sig.SigAlgorithm[]) {
    assert.throws(() => sig.keygen(alg), einval);
    assert.throws(() => sig.publicKey(alg, good.secretKey), einval);
    assert.throws(() => sig.sign(alg, good.secretKey, MESSAGE), einval);
    assert.throws(() => sig.verify(alg, good.publicKey, MESSAGE, new Uint8Array(64)), einval);
  }
  for (const alg of sig.SIG_ALGORITHMS) {
    const pair = sig.keygen(alg, SEED);
    const signature = sig.sign(alg, pair.secretKey, MESSAGE);
    assert.throws(() => sig.keygen(alg, new Uint8Array(31)), einval);
    assert.throws(() => sig.keygen(alg, new Uint8Array(64)), einval);
    assert.throws(() => sig.publicKey(alg, new Uint8Array(33)), einval);
    assert.throws(() => sig.sign(alg, new Uint8Array(31), MESSAGE), einval);
    for (const value of notBytes) {
      assert.throws(() => sig.keygen(alg, value ?? ('' as unknown as Uint8Array)), einval);
      assert.throws(() => sig.sign(alg, value, MESSAGE), einval);
      assert.throws(() => sig.sign(alg, pair.secretKey, value), einval);
      assert.throws(() => sig.verify(alg, value, MESSAGE, signature), einval);
      assert.throws(() => sig.verify(alg, pair.publicKey, value, signature), einval);
      assert.throws(() => sig.verify(alg, pair.publicKey, MESSAGE, value), einval);
    }
    for (const options of [null, 'x', [], { ctx: new Uint8Array(1) }, { context: 'abc' }]) {
      assert.throws(() => sig.sign(alg, pair.secretKey, MESSAGE, options as sig.SignOptions), einval);
      assert.throws(
        () => sig.verify(alg, pair.publicKey, MESSAGE, signature, options as sig.SignOptions),
        einval,
      );
    }
    if (alg !== 'ml-dsa-65') {
      // A context would be silently meaningless here (Ed25519ctx is a different algorithm).
      assert.throws(() => sig.sign(alg, pair.secretKey, MESSAGE, { context: new Uint8Array(1) }), einval);
    }
  }
});

test('EC secret scalars 0 and ≥ n are EINVAL; 1 and n−1 work', () => {
  for (const alg of ['ecdsa-p256', 'secp256k1'] as const) {
    const n = BigInt(`0x${toHex(CURVES[alg].orderBytes)}`);
    const scalar = (v: bigint) => fromHex(v.toString(16).padStart(64, '0'));
    for (const bad of [0n, n, n + 1n, (1n << 256n) - 1n]) {
      assert.throws(() => sig.publicKey(alg, scalar(bad)), einval, `${alg} ${bad}`);
      assert.throws(() => sig.sign(alg, scalar(bad), MESSAGE), einval, `${alg} ${bad}`);
    }
    for (const ok of [1n, n - 1n]) {
      const pub = sig.publicKey(alg, scalar(ok));
      assert.equal(sig.verify(alg, pub, MESSAGE, sig.sign(alg, scalar(ok), MESSAGE)), true, `${alg} ${ok}`);
    }
  }
});

test('ML-DSA-65 contexts: bound to the signature, 255 bytes allowed, 256 EINVAL, empty = none', () => {
  const { secretKey, publicKey } = sig.keygen('ml-dsa-65', SEED);
  const context = utf8.encode('coffer/test');
  const signature = sig.sign('ml-dsa-65', secretKey, MESSAGE, { context });
  assert.equal(sig.verify('ml-dsa-65', publicKey, MESSAGE, signature, { context }), true);
  assert.equal(sig.verify('ml-dsa-65', publicKey, MESSAGE, signature), false);
  assert.equal(
    sig.verify('ml-dsa-65', publicKey, MESSAGE, signature, { context: utf8.encode('coffer/tesT') }),
    false,
  );
  const longest = new Uint8Array(255).fill(1);
  const s255 = sig.sign('ml-dsa-65', secretKey, MESSAGE, { context: longest });
  assert.equal(sig.verify('ml-dsa-65', publicKey, MESSAGE, s255, { context: longest }), true);
  assert.throws(() => sig.sign('ml-dsa-65', secretKey, MESSAGE, { context: new Uint8Array(256) }), einval);
  assert.throws(
    () => sig.verify('ml-dsa-65', publicKey, MESSAGE, s255, { context: new Uint8Array(256) }),
    einval,
  );
  const plain = sig.sign('ml-dsa-65', secretKey, MESSAGE, { context: new Uint8Array(0) });
  assert.equal(sig.verify('ml-dsa-65', publicKey, MESSAGE, plain), true);
  assert.equal(sig.verify('ml-dsa-65', publicKey, MESSAGE, plain, {}), true);
});

test('ML-DSA-65 signing is hedged: two signatures of one message differ, both verify', () => {
  const { secretKey, publicKey } = sig.keygen('ml-dsa-65', SEED);
  const a = sig.sign('ml-dsa-65', secretKey, MESSAGE);
  const b = sig.sign('ml-dsa-65', secretKey, MESSAGE);
  assert.notDeepEqual(a, b);
  assert.equal(sig.verify('ml-dsa-65', publicKey, MESSAGE, a), true);
  assert.equal(sig.verify('ml-dsa-65', publicKey, MESSAGE, b), true);
});

test('secp256k1 recovery: r ‖ s ‖ v, low-S, recovers the signer', () => {
  for (let i = 0; i < 10; i++) {
    const { secretKey, publicKey } = sig.keygen('secp256k1');
    const hash = createHash('sha256').update(Uint8Array.of(i)).digest();
    const recoverable = sig.signRecoverable('secp256k1', secretKey, hash);
    assert.equal(recoverable.length, 65);
    assert.ok(recoverable[64]! <= 3);
    assert.ok(BigInt(`0x${toHex(recoverable.subarray(32, 64))}`) <= CURVES.secp256k1.halfOrder);
    assert.deepEqual(sig.recoverPublicKey('secp256k1', hash, recoverable), publicKey);
    // An independent check: noble verifies r ‖ s over the raw hash.
    assert.equal(secp256k1.verify(recoverable.subarray(0, 64), hash, publicKey, { prehash: false }), true);
    // Another hash recovers some other key, never the signer.
    const other = createHash('sha256').update(Uint8Array.of(i, 1)).digest();
    let recovered: Uint8Array | undefined;
    try {
      recovered = sig.recoverPublicKey('secp256k1', other, recoverable);
    } catch (error) {
      assert.ok(error instanceof CofferError && error.code === 'EBADMSG');
    }
    if (recovered) assert.notDeepEqual(recovered, publicKey);
  }
});

test('secp256k1 recovery known answer: secret 1 recovers the generator', () => {
  const one = fromHex(`${'00'.repeat(31)}01`);
  const hash = new Uint8Array(32).fill(0x42);
  const recovered = sig.recoverPublicKey('secp256k1', hash, sig.signRecoverable('secp256k1', one, hash));
  assert.equal(toHex(recovered), '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
});

test('secp256k1 recovery errors: EINVAL for shape, EBADMSG for unrecoverable or high-S', () => {
  const { secretKey } = sig.keygen('secp256k1', SEED);
  const hash = new Uint8Array(32).fill(1);
  const good = sig.signRecoverable('secp256k1', secretKey, hash);
  assert.throws(() => sig.signRecoverable('ed25519' as 'secp256k1', secretKey, hash), einval);
  assert.throws(() => sig.signRecoverable('secp256k1', secretKey, new Uint8Array(31)), einval);
  assert.throws(() => sig.signRecoverable('secp256k1', new Uint8Array(32), hash), einval);
  assert.throws(() => sig.recoverPublicKey('secp256k1', hash, good.subarray(0, 64)), einval);
  assert.throws(() => sig.recoverPublicKey('secp256k1', new Uint8Array(33), good), einval);
  const v4 = good.slice();
  v4[64] = 4;
  assert.throws(() => sig.recoverPublicKey('secp256k1', hash, v4), einval);
  const mirrored = good.slice();
  mirrored.set(highS('secp256k1', good.subarray(0, 64)).subarray(32), 32);
  assert.throws(() => sig.recoverPublicKey('secp256k1', hash, mirrored), { code: 'EBADMSG' });
  assert.throws(() => sig.recoverPublicKey('secp256k1', hash, new Uint8Array(65)), { code: 'EBADMSG' });
});
