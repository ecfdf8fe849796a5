// The one randomness interface (SPEC §1). Production code uses the OS CSPRNG; the seeded DRBG exists
// only for deterministic test mode and is named `insecureSeededRng` so every use can be found by grep.
import { createHmac, randomFillSync } from 'node:crypto';
import { assertBytes, assertInteger } from './bytes.js';

export interface Rng {
  /** Returns `length` fresh bytes. */
  randomBytes(length: number): Uint8Array;
  /** True only for the seeded test DRBG: callers that must never run on it check this flag. */
  readonly insecure: boolean;
}

const MAX_REQUEST = 1 << 20; // one call never asks for more than 1 MiB; keeps DRBG use bounded

// Small requests (nonces, ids: several per record written) are served from a pool filled 4 KiB at a
// time: one randomFillSync per request was a sixth of a key's creation cost (issue 14). Bytes handed
// out are zeroed in the pool at once, so no copy of them stays behind.
const POOL_BYTES = 4096;
const POOLED_MAX = 64;
const pool = new Uint8Array(POOL_BYTES);
let poolOffset = POOL_BYTES;

export const systemRng: Rng = Object.freeze({
  insecure: false,
  randomBytes(length: number): Uint8Array {
    assertInteger('length', length, 0, MAX_REQUEST);
    if (length > POOLED_MAX) return randomFillSync(new Uint8Array(length));
    if (poolOffset + length > POOL_BYTES) {
      randomFillSync(pool);
      poolOffset = 0;
    }
    const out = pool.slice(poolOffset, poolOffset + length);
    pool.fill(0, poolOffset, poolOffset + length);
    poolOffset += length;
    return out;
  },
});

/**
 * HMAC-DRBG with SHA-256 (NIST SP 800-90A §10.1.2, no reseed, no personalisation) keyed by `seed`.
 * Same seed → same byte stream on every machine. INSECURE by design: only for deterministic test
 * mode, which the keystore refuses unless `insecureDeterministic: true` is passed explicitly.
 */
export function insecureSeededRng(seed: Uint8Array): Rng {
  assertBytes('seed', seed);
  if (seed.length < 16) assertBytes('seed (at least 16 bytes)', seed, 16);
  let key: Buffer = Buffer.alloc(32, 0);
  let value: Buffer = Buffer.alloc(32, 1);
  const hmac = (k: Buffer, ...parts: Uint8Array[]): Buffer => {
    const h = createHmac('sha256', k);
    for (const part of parts) h.update(part);
    return h.digest();
  };
  const update = (provided?: Uint8Array): void => {
    key = hmac(key, value, Uint8Array.of(0), provided ?? new Uint8Array(0));
    value = hmac(key, value);
    if (provided === undefined || provided.length === 0) return;
    key = hmac(key, value, Uint8Array.of(1), provided);
    value = hmac(key, value);
  };
  update(seed);
  return Object.freeze({
    insecure: true,
    randomBytes(length: number): Uint8Array {
      assertInteger('length', length, 0, MAX_REQUEST);
      const out = new Uint8Array(length);
      let offset = 0;
      while (offset < length) {
        value = hmac(key, value);
        out.set(value.subarray(0, Math.min(32, length - offset)), offset);
        offset += 32;
      }
      update();
      return out;
    },
  });
}
