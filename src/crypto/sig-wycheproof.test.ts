// Wycheproof (C2SP, vectors/wycheproof) verify vectors for Ed25519, ECDSA secp256k1 (P1363 r ‖ s)
// and ML-DSA-65, through the public API and through each implementation path available in this
// Node. Case counts are asserted so a truncated file cannot pass.
//
// "acceptable" cases: none of these three files has any (asserted below). Were one added, the rule
// is that acceptable may go either way but must return a boolean, never throw — that is what
// `checkAcceptable` asserts, so a new file version keeps working without silently passing.
// Differences from Wycheproof's labels, by design and asserted exactly:
// - secp256k1: Coffer enforces low-S, so every case Wycheproof calls valid with s > n/2 verifies
//   false (and is shown to verify true without the low-S rule, so that is the only reason).
// - ML-DSA-65: a context over 255 bytes, or a public key of the wrong length, is an invalid
//   *argument* → EINVAL (Wycheproof: invalid); see the error contract in sig.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  forEachWycheproofCase,
  loadJson,
  type WycheproofCase,
  type WycheproofFile,
} from '../testing/vectors.js';
import { fromHex, toHex } from './bytes.js';
import { cryptoImplementations, nativeSupport } from './features.js';
import * as sig from './sig.js';
import type { SigBackend } from './sig-backend.js';
import { CURVES, secp256k1Native, secp256k1Noble } from './sig-ecdsa.js';
import { ed25519Native, ed25519Noble } from './sig-ed25519.js';
import { mlDsa65Native, mlDsa65Noble } from './sig-mldsa.js';

interface SigCase extends WycheproofCase {
  msg: string;
  sig: string;
  ctx?: string;
}

type Verifier = (
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  context?: Uint8Array,
) => boolean;

/** The public API plus each backend (given the signature-length rule sig.verify applies first). */
function verifiers(alg: sig.SigAlgorithm, backends: SigBackend[]): [string, Verifier][] {
  const out: [string, Verifier][] = [
    [
      'sig.verify',
      (pk, m, s, context) => sig.verify(alg, pk, m, s, context === undefined ? undefined : { context }),
    ],
  ];
  for (const backend of backends) {
    out.push([
      backend.implementation,
      (pk, m, s, context) => s.length === sig.SIG_LENGTHS[alg].signature && backend.verify(pk, m, s, context),
    ]);
  }
  return out;
}

function checkAcceptable(result: unknown): void {
  assert.equal(typeof result, 'boolean');
}

function countResults(file: string): Record<string, number> {
  const data = loadJson<WycheproofFile<SigCase>>(file);
  const counts: Record<string, number> = { valid: 0, invalid: 0, acceptable: 0 };
  for (const group of data.testGroups)
    for (const t of group.tests) counts[t.result] = (counts[t.result] ?? 0) + 1;
  return counts;
}

test('Wycheproof ed25519_test.json: 151 cases (88 valid, 63 invalid, 0 acceptable), all paths', () => {
  assert.deepEqual(countResults('wycheproof/ed25519_test.json'), { valid: 88, invalid: 63, acceptable: 0 });
  const paths = verifiers('ed25519', [ed25519Native, ed25519Noble]);
  for (const [name, verify] of paths) {
    const n = forEachWycheproofCase<SigCase>('wycheproof/ed25519_test.json', (t, group) => {
      const pk = fromHex((group.publicKey as { pk: string }).pk);
      const result = verify(pk, fromHex(t.msg), fromHex(t.sig));
      if (t.result === 'acceptable') return checkAcceptable(result);
      assert.equal(result, t.result === 'valid', `${name} tcId ${t.tcId}: ${t.comment}`);
    });
    assert.equal(n, 151);
  }
});

test('Wycheproof ecdsa_secp256k1_sha256_p1363_test.json: 252 cases; valid high-S cases are rejected (low-S rule)', () => {
  assert.deepEqual(countResults('wycheproof/ecdsa_secp256k1_sha256_p1363_test.json'), {
    valid: 167,
    invalid: 85,
    acceptable: 0,
  });
  const half = CURVES.secp256k1.halfOrder;
  for (const [name, verify] of verifiers('secp256k1', [secp256k1Native, secp256k1Noble])) {
    let highSValid = 0;
    let lowSValid = 0;
    const n = forEachWycheproofCase<SigCase>(
      'wycheproof/ecdsa_secp256k1_sha256_p1363_test.json',
      (t, group) => {
        const pk = fromHex((group.publicKey as { uncompressed: string }).uncompressed);
        const message = fromHex(t.msg);
        const signature = fromHex(t.sig);
        const result = verify(pk, message, signature);
        if (t.result === 'acceptable') return checkAcceptable(result);
        if (t.result === 'invalid')
          return assert.equal(result, false, `${name} tcId ${t.tcId}: ${t.comment}`);
        const high = signature.length === 64 && BigInt(`0x${toHex(signature.subarray(32))}`) > half;
        if (high) {
          highSValid++;
          assert.equal(result, false, `${name} tcId ${t.tcId}: high-S must be refused`);
          // Without the low-S rule the same signature is valid: high-S is the only reason for false.
          assert.equal(secp256k1.verify(signature, message, pk, { lowS: false }), true, `tcId ${t.tcId}`);
        } else {
          lowSValid++;
          assert.equal(result, true, `${name} tcId ${t.tcId}: ${t.comment}`);
        }
      },
    );
    assert.equal(n, 252);
    assert.equal(highSValid, 72, `${name}: valid high-S cases`);
    assert.equal(lowSValid, 95, `${name}: valid low-S cases`);
  }
});

test('Wycheproof mldsa_65_verify_test.json: 210 cases (79 valid, 131 invalid, 0 acceptable), contexts and bad lengths', () => {
  assert.deepEqual(countResults('wycheproof/mldsa_65_verify_test.json'), {
    valid: 79,
    invalid: 131,
    acceptable: 0,
  });
  const backends = nativeSupport.mlDsa65 ? [mlDsa65Native, mlDsa65Noble] : [mlDsa65Noble];
  for (const [name, verify] of verifiers('ml-dsa-65', backends)) {
    let einval = 0;
    let withContext = 0;
    const n = forEachWycheproofCase<SigCase>('wycheproof/mldsa_65_verify_test.json', (t, group) => {
      const pk = fromHex(group.publicKey as string);
      const context = t.ctx === undefined ? undefined : fromHex(t.ctx);
      const message = fromHex(t.msg);
      const signature = fromHex(t.sig);
      if (pk.length !== 1952 || (context !== undefined && context.length > 255)) {
        // Argument validation lives in sig.verify, in front of every backend.
        assert.equal(t.result, 'invalid', `tcId ${t.tcId}`);
        const options = context === undefined ? undefined : { context };
        assert.throws(() => sig.verify('ml-dsa-65', pk, message, signature, options), { code: 'EINVAL' });
        einval++;
        return;
      }
      if (context !== undefined && context.length > 0) withContext++;
      const result = verify(pk, message, signature, context);
      if (t.result === 'acceptable') return checkAcceptable(result);
      assert.equal(result, t.result === 'valid', `${name} tcId ${t.tcId}: ${t.comment}`);
    });
    assert.equal(n, 210);
    // 4 wrong-length public keys + 5 contexts of 256 bytes.
    assert.equal(einval, 9, `${name}: EINVAL cases`);
    assert.ok(withContext >= 2, 'the file exercises non-empty contexts');
  }
});

test('ML-DSA-65 runs natively exactly when this Node has it (Node 20: noble; Node ≥ 24.7: OpenSSL)', () => {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  assert.equal(nativeSupport.mlDsa65, major > 24 || (major === 24 && minor >= 7), 'feature detection');
  const report = cryptoImplementations()['ml-dsa-65'];
  if (nativeSupport.mlDsa65) {
    assert.equal(report, nativeSupport.mlDsa65Context ? 'node:crypto' : 'node:crypto + @noble/post-quantum');
    assert.equal(sig.sign('ml-dsa-65', new Uint8Array(32), new Uint8Array(0)).length, 3309);
  } else {
    assert.equal(report, '@noble/post-quantum');
  }
});
