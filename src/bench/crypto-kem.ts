// KEM benchmarks for `npm run bench`: Coffer's kem.* calls against the same work done directly —
// node:crypto with prepared KeyObjects where the running Node has ML-KEM, @noble/post-quantum
// called directly where it does not. X-Wing's baseline is the draft's construction hand-written over
// those primitives, so the ratio measures Coffer's overhead (validation, cache lookup, copies).

import type { KeyObject } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import * as kem from '../crypto/kem.js';
import { _mlkemBackends } from '../crypto/mlkem.js';
import { type BenchRow, compare, row } from './harness.js';

interface NativeKem {
  encapsulate(key: KeyObject): { sharedKey: Buffer; ciphertext: Buffer };
  decapsulate(key: KeyObject, ciphertext: Uint8Array): Buffer;
}
const nativeKem = nodeCrypto as unknown as NativeKem;
const generateKeyPair = nodeCrypto.generateKeyPairSync as unknown as (type: string) => {
  publicKey: KeyObject;
  privateKey: KeyObject;
};

const LABEL = Buffer.from('5c2e2f2f5e5c', 'hex');
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const ML_KEM_SPKI = Buffer.from('308204b2300b0609608648016503040402038204a100', 'hex');
const ML_KEM_PKCS8 = Buffer.from('3054020100300b060960864801650304040204428040', 'hex');

const spkiTail = (key: KeyObject, prefix: number) =>
  key.export({ format: 'der', type: 'spki' }).subarray(prefix);

// What a careful hand-written version does with X25519 public values: JWK in and out, which skips
// OpenSSL's slow DER encoder/decoder.
const jwkX = (key: KeyObject) => Buffer.from(key.export({ format: 'jwk' }).x as string, 'base64url');
const x25519Public = (u: Uint8Array) =>
  nodeCrypto.createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(u).toString('base64url') },
    format: 'jwk',
  });

/** The X-Wing draft written straight over node:crypto (and noble ML-KEM where native is missing). */
function rawXWing(seed: Uint8Array, native: boolean) {
  const expanded = nodeCrypto.createHash('shake256', { outputLength: 96 }).update(seed).digest();
  const xPrivate = nodeCrypto.createPrivateKey({
    key: Buffer.concat([X25519_PKCS8, expanded.subarray(64)]),
    format: 'der',
    type: 'pkcs8',
  });
  const pkX = jwkX(nodeCrypto.createPublicKey(xPrivate));
  const xPublic = x25519Public(pkX);
  const noble = ml_kem768.keygen(expanded.subarray(0, 64));
  const mPrivate = native
    ? nodeCrypto.createPrivateKey({
        key: Buffer.concat([ML_KEM_PKCS8, expanded.subarray(0, 64)]),
        format: 'der',
        type: 'pkcs8',
      })
    : undefined;
  const mPublic = mPrivate ? nodeCrypto.createPublicKey(mPrivate) : undefined;
  const combine = (ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array) =>
    nodeCrypto.createHash('sha3-256').update(ssM).update(ssX).update(ctX).update(pkX).update(LABEL).digest();
  return {
    publicKey: Buffer.concat([noble.publicKey, pkX]),
    encapsulate: () => {
      const eph = generateKeyPair('x25519');
      const ctX = jwkX(eph.publicKey);
      const ssX = nodeCrypto.diffieHellman({ privateKey: eph.privateKey, publicKey: xPublic });
      const m = mPublic
        ? nativeKem.encapsulate(mPublic)
        : (() => {
            const r = ml_kem768.encapsulate(noble.publicKey);
            return { ciphertext: r.cipherText, sharedKey: r.sharedSecret };
          })();
      return { ciphertext: Buffer.concat([m.ciphertext, ctX]), sharedSecret: combine(m.sharedKey, ssX, ctX) };
    },
    decapsulate: (ct: Uint8Array) => {
      const ctX = ct.subarray(1088);
      const ssM = mPrivate
        ? nativeKem.decapsulate(mPrivate, ct.subarray(0, 1088))
        : ml_kem768.decapsulate(ct.subarray(0, 1088), noble.secretKey);
      return combine(
        ssM,
        nodeCrypto.diffieHellman({ privateKey: xPrivate, publicKey: x25519Public(ctX) }),
        ctX,
      );
    },
  };
}

export async function benchKem(): Promise<BenchRow[]> {
  const native = _mlkemBackends.native !== undefined;
  const raw = native ? 'node:crypto' : '@noble/post-quantum (direct)';
  const goal = native ? 0.9 : undefined;
  const rows: BenchRow[] = [];

  // ML-KEM-768, with the expanded key / KeyObject prepared outside the timed loop for the baseline.
  const seed = nodeCrypto.randomBytes(64);
  const { publicKey } = kem.keygen('ml-kem-768', seed);
  const { ciphertext } = kem.encapsulate('ml-kem-768', publicKey);
  const nobleKeys = ml_kem768.keygen(seed);
  const mPrivate = native
    ? nodeCrypto.createPrivateKey({ key: Buffer.concat([ML_KEM_PKCS8, seed]), format: 'der', type: 'pkcs8' })
    : undefined;
  const mPublic = native
    ? nodeCrypto.createPublicKey({
        key: Buffer.concat([ML_KEM_SPKI, publicKey]),
        format: 'der',
        type: 'spki',
      })
    : undefined;

  rows.push(
    row(
      'kem',
      'kem.keygen ml-kem-768 (random)',
      compare(
        () => kem.keygen('ml-kem-768'),
        native
          ? () => {
              const pair = generateKeyPair('ml-kem-768');
              return [spkiTail(pair.publicKey, 22), pair.privateKey.export({ format: 'der', type: 'pkcs8' })];
            }
          : () => ml_kem768.keygen(),
      ),
      native ? 'node:crypto generateKeyPairSync + export' : raw,
    ),
  );
  rows.push(
    row(
      'kem',
      'kem.encapsulate ml-kem-768',
      compare(
        () => kem.encapsulate('ml-kem-768', publicKey),
        mPublic ? () => nativeKem.encapsulate(mPublic) : () => ml_kem768.encapsulate(publicKey),
      ),
      native ? 'node:crypto encapsulate(KeyObject)' : raw,
      goal,
    ),
  );
  rows.push(
    row(
      'kem',
      'kem.decapsulate ml-kem-768',
      compare(
        () => kem.decapsulate('ml-kem-768', seed, ciphertext),
        mPrivate
          ? () => nativeKem.decapsulate(mPrivate, ciphertext)
          : () => ml_kem768.decapsulate(ciphertext, nobleKeys.secretKey),
      ),
      native ? 'node:crypto decapsulate(KeyObject)' : raw,
      goal,
    ),
  );

  // X-Wing against the hand-written construction.
  const xSeed = nodeCrypto.randomBytes(32);
  const x = kem.keygen('x-wing', xSeed);
  const baseline = rawXWing(xSeed, native);
  if (!baseline.publicKey.equals(x.publicKey)) throw new Error('bench baseline disagrees with kem.keygen');
  const xCt = kem.encapsulate('x-wing', x.publicKey).ciphertext;
  if (!baseline.decapsulate(xCt).equals(kem.decapsulate('x-wing', xSeed, xCt))) {
    throw new Error('bench baseline disagrees with kem.decapsulate');
  }
  const xRaw = native ? 'X-Wing hand-written over node:crypto' : 'X-Wing over node:crypto + noble ML-KEM';
  rows.push(
    row(
      'kem',
      'kem.encapsulate x-wing',
      compare(() => kem.encapsulate('x-wing', x.publicKey), baseline.encapsulate),
      xRaw,
      goal,
    ),
  );
  rows.push(
    row(
      'kem',
      'kem.decapsulate x-wing',
      compare(
        () => kem.decapsulate('x-wing', xSeed, xCt),
        () => baseline.decapsulate(xCt),
      ),
      xRaw,
      goal,
    ),
  );
  return rows;
}
