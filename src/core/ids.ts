// Key and slot ids (SPEC §2): derived from the inputs and the keystore RNG, so a fixed seed and clock
// reproduce them exactly while production ids are unpredictable.
import { createHash } from 'node:crypto';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { base32, fromBase32 } from './encoding.js';

export function newKeyId(app: string, purpose: string, createdAt: number, rng: Rng): string {
  const time = new Uint8Array(8);
  new DataView(time.buffer).setBigUint64(0, BigInt(createdAt), false);
  const digest = createHash('sha256')
    .update('coffer:key-id:v1\0')
    .update(app)
    .update('\0')
    .update(purpose)
    .update('\0')
    .update(time)
    .update(rng.randomBytes(16))
    .digest();
  return `k_${base32(digest.subarray(0, 16))}`;
}

export function keyIdBytes(id: string): Uint8Array {
  const bytes = fromBase32(id.slice(2));
  if (!id.startsWith('k_') || bytes.length !== 16) throw new CofferError('EINVAL', 'malformed key id');
  return bytes;
}

export function keyIdFromBytes(bytes: Uint8Array): string {
  return `k_${base32(bytes)}`;
}

export function newSlotId(rng: Rng): string {
  return `s_${base32(rng.randomBytes(10))}`;
}
