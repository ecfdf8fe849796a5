// The record barrier (SPEC §4): every record value is AES-256-GCM-sealed under the barrier key with
// its own record key as associated data, so flipped bytes or a record copied elsewhere fail (EBADMSG).

import { sealWithNonceAfter } from '../crypto/aead.js';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { textDecoder, textEncoder } from './encoding.js';
import { openWithKey } from './master-key.js';

const BARRIER_VERSION = 0x01;

function recordAad(recordKey: string): Uint8Array {
  return textEncoder.encode(`coffer:record:v1|${recordKey}`);
}

export function sealRecord(barrierKey: Uint8Array, recordKey: string, value: unknown, rng: Rng): Uint8Array {
  // version ‖ nonce ‖ ciphertext ‖ tag built in place: one allocation per record (issue 14).
  const out = sealWithNonceAfter(
    barrierKey,
    textEncoder.encode(JSON.stringify(value)),
    recordAad(recordKey),
    (n) => rng.randomBytes(n),
    1,
  );
  out[0] = BARRIER_VERSION;
  return out;
}

export function openRecord<T>(barrierKey: Uint8Array, recordKey: string, bytes: Uint8Array): T {
  if (bytes[0] !== BARRIER_VERSION)
    throw new CofferError('EBADMSG', `record ${recordKey}: unknown barrier version`);
  let plain: Uint8Array;
  try {
    plain = openWithKey(barrierKey, bytes.subarray(1), recordAad(recordKey));
  } catch (error) {
    if (error instanceof CofferError && error.code === 'EBADMSG') {
      throw new CofferError('EBADMSG', `record ${recordKey} failed authentication (tampered or moved)`);
    }
    throw error;
  }
  try {
    return JSON.parse(textDecoder.decode(plain)) as T;
  } catch {
    // Authenticated but not JSON can only be a bug of ours, never an attacker's edit.
    throw new CofferError('EINTERNAL', `record ${recordKey} is authenticated but not JSON`);
  }
}
