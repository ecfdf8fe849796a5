// HChaCha20 (draft-irtf-cfrg-xchacha-03 §2.2): the draft's §2.2.1 vector, and agreement on random
// inputs with an independent straight-from-the-draft implementation kept here as the reference (the
// production path is @noble/ciphers' unrolled core behind a byte adapter, so the two share no code).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { loadJson, nonEmpty } from '../testing/vectors.js';
import { fromHex, toHex } from './bytes.js';
import { hchacha20 } from './hchacha20.js';

const rotl = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0;

function quarterRound(s: Uint32Array, a: number, b: number, c: number, d: number): void {
  s[a] = (s[a]! + s[b]!) >>> 0;
  s[d] = rotl(s[d]! ^ s[a]!, 16);
  s[c] = (s[c]! + s[d]!) >>> 0;
  s[b] = rotl(s[b]! ^ s[c]!, 12);
  s[a] = (s[a]! + s[b]!) >>> 0;
  s[d] = rotl(s[d]! ^ s[a]!, 8);
  s[c] = (s[c]! + s[d]!) >>> 0;
  s[b] = rotl(s[b]! ^ s[c]!, 7);
}

/** §2.2: ChaCha20 state from constants, key, 16-byte nonce; 20 rounds; words 0..3 ‖ 12..15, no add. */
function referenceHChaCha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const kv = new DataView(key.buffer, key.byteOffset, 32);
  const nv = new DataView(nonce16.buffer, nonce16.byteOffset, 16);
  const s = new Uint32Array(16);
  s.set([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
  for (let i = 0; i < 8; i++) s[4 + i] = kv.getUint32(i * 4, true);
  for (let i = 0; i < 4; i++) s[12 + i] = nv.getUint32(i * 4, true);
  for (let round = 0; round < 10; round++) {
    quarterRound(s, 0, 4, 8, 12);
    quarterRound(s, 1, 5, 9, 13);
    quarterRound(s, 2, 6, 10, 14);
    quarterRound(s, 3, 7, 11, 15);
    quarterRound(s, 0, 5, 10, 15);
    quarterRound(s, 1, 6, 11, 12);
    quarterRound(s, 2, 7, 8, 13);
    quarterRound(s, 3, 4, 9, 14);
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) {
    ov.setUint32(i * 4, s[i]!, true);
    ov.setUint32(16 + i * 4, s[12 + i]!, true);
  }
  return out;
}

interface HChaChaVector {
  id: string;
  key: string;
  nonce: string;
  subkey: string;
}

test('draft-irtf-cfrg-xchacha-03 §2.2.1: HChaCha20 test vector (production and reference)', () => {
  const file = loadJson<{ hchacha20: HChaChaVector[] }>('rfc/xchacha20poly1305_draft.json');
  const cases = nonEmpty('hchacha20', file.hchacha20);
  for (const v of cases) {
    assert.equal(toHex(hchacha20(fromHex(v.key), fromHex(v.nonce))), v.subkey, v.id);
    assert.equal(toHex(referenceHChaCha20(fromHex(v.key), fromHex(v.nonce))), v.subkey, v.id);
  }
});

test('HChaCha20 equals the reference on random keys and nonces, at any buffer offset', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.integer({ min: 0, max: 7 }),
      (key, nonce, offset) => {
        // Misaligned views: the adapter must copy before taking Uint32Array views.
        const backing = new Uint8Array(offset + 48);
        backing.set(key, offset);
        backing.set(nonce, offset + 32);
        const k = backing.subarray(offset, offset + 32);
        const n = backing.subarray(offset + 32, offset + 48);
        const before = toHex(backing);
        assert.equal(toHex(hchacha20(k, n)), toHex(referenceHChaCha20(key, nonce)));
        assert.equal(toHex(backing), before, 'inputs are left untouched');
      },
    ),
    { numRuns: 300 },
  );
});
