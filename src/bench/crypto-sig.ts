// Signature benchmarks for `npm run bench`: Coffer's sig.sign / sig.verify against the fastest raw
// call the same implementation offers — node:crypto with a KeyObject prepared once, or noble with
// its expanded key prepared once — so the ratio measures Coffer's overhead (validation, cache
// lookup, output copies), which the goal caps at 10% on the native path.
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { nativeSupport } from '../crypto/features.js';
import * as sig from '../crypto/sig.js';
import { type BenchRow, compare, opsPerSecond, row } from './harness.js';

const MESSAGE = new Uint8Array(64).fill(0x5a);
const GOAL = 0.9;

/** The same PKCS#8 framings sig-*.ts use, so the baseline holds the very key Coffer holds. */
const PKCS8_PREFIX: Readonly<Record<Exclude<sig.SigAlgorithm, 'ml-dsa-65'>, string>> = {
  ed25519: '302e020100300506032b657004220420',
  'ecdsa-p256': '3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420',
  secp256k1: '303e020100301006072a8648ce3d020106052b8104000a042730250201010420',
};
const MLDSA_PKCS8_PREFIX = '3034020100300b060960864801650304031204228020';

function nativeKeys(alg: sig.SigAlgorithm, secretKey: Uint8Array): { priv: KeyObject; pub: KeyObject } {
  const prefix = alg === 'ml-dsa-65' ? MLDSA_PKCS8_PREFIX : PKCS8_PREFIX[alg];
  const priv = createPrivateKey({
    key: Buffer.concat([Buffer.from(prefix, 'hex'), secretKey]),
    format: 'der',
    type: 'pkcs8',
  });
  return { priv, pub: createPublicKey(priv) };
}

function isNative(alg: sig.SigAlgorithm): boolean {
  switch (alg) {
    case 'ed25519':
      return nativeSupport.ed25519;
    case 'ecdsa-p256':
      return nativeSupport.p256;
    case 'secp256k1':
      return nativeSupport.secp256k1;
    case 'ml-dsa-65':
      return nativeSupport.mlDsa65;
  }
}

/** Sign and verify throughput for one algorithm against its raw baseline. */
function benchAlgorithm(alg: sig.SigAlgorithm): BenchRow[] {
  const { secretKey, publicKey } = sig.keygen(alg);
  const signature = sig.sign(alg, secretKey, MESSAGE);
  const native = isNative(alg);
  let rawSign: () => unknown;
  let rawVerify: () => unknown;
  let baseline: string;
  if (native) {
    const { priv, pub } = nativeKeys(alg, secretKey);
    const digest = alg === 'ecdsa-p256' || alg === 'secp256k1' ? 'sha256' : null;
    const opts = { dsaEncoding: 'ieee-p1363' as const };
    rawSign = () => nodeSign(digest, MESSAGE, { key: priv, ...opts });
    rawVerify = () => nodeVerify(digest, MESSAGE, { key: pub, ...opts }, signature);
    baseline = 'node:crypto sign/verify with a prepared KeyObject';
  } else {
    // Only ML-DSA lacks a native path on supported Nodes; compare with noble on a pre-expanded key.
    const expanded = ml_dsa65.keygen(secretKey);
    rawSign = () => ml_dsa65.sign(MESSAGE, expanded.secretKey);
    rawVerify = () => ml_dsa65.verify(signature, MESSAGE, expanded.publicKey);
    baseline = '@noble/post-quantum with a pre-expanded key';
  }
  const slow = alg === 'ml-dsa-65' || alg === 'secp256k1';
  const settings = slow ? { rounds: 3, ms: 300 } : { rounds: 5, ms: 200 };
  const goal = native ? GOAL : undefined;
  // What the cache saves: a sign with every prepared key dropped first (cold path).
  const cold = opsPerSecond(() => {
    sig.clearKeyCache();
    sig.sign(alg, secretKey, MESSAGE);
  }, 200);
  const signResult = compare(() => sig.sign(alg, secretKey, MESSAGE), rawSign, settings);
  const verifyResult = compare(() => sig.verify(alg, publicKey, MESSAGE, signature), rawVerify, settings);
  const impl = native ? 'native' : 'noble';
  return [
    row('sig', `sig.sign ${alg} 64 B (${impl})`, signResult, baseline, goal, {
      coldOpsPerSec: Math.round(cold),
    }),
    row('sig', `sig.verify ${alg} 64 B (${impl})`, verifyResult, baseline, goal),
  ];
}

export async function benchSig(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const alg of sig.SIG_ALGORITHMS) rows.push(...benchAlgorithm(alg));
  return rows;
}
