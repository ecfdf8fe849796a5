// The import wrap (SPEC §14.15.3): how a private key travels to the daemon for `importKey` without
// ever being readable on the way — HPKE (RFC 9180 base mode, the X-Wing suite of §14.12) to the
// import key the daemon publishes, bound to the app and purpose it is imported into. Pure: the
// daemon's decapsulation is a callback, like an age identity's.
import { createHash } from 'node:crypto';
import { assertBytes, concatBytes, equalBytes } from '../crypto/bytes.js';
import { HPKE_XWING_ENC_LENGTH, openBase, sealBase, type XWingDecapsulate } from '../crypto/hpke.js';
import { CofferError } from '../errors.js';

const MAGIC = new Uint8Array([0x43, 0x49, 0x57, 0x31]); // "CIW1"
const INFO = new TextEncoder().encode('coffer-import-v1');
const FINGERPRINT = 16;
const TAG = 16;
/** The largest key a wrap carries (an ML-DSA-65 PKCS#8 in its `both` form is 4 KiB and some). */
export const MAX_WRAPPED_KEY = 8 * 1024;
const HEADER = MAGIC.length + FINGERPRINT + HPKE_XWING_ENC_LENGTH;
export const MAX_IMPORT_WRAP = HEADER + MAX_WRAPPED_KEY + TAG;

/** The import key's id: the first 16 bytes of SHA-256 of its X-Wing public key, hex. */
export function importKeyFingerprint(publicKey: Uint8Array): Uint8Array {
  assertBytes('publicKey', publicKey, 1216);
  return new Uint8Array(createHash('sha256').update(publicKey).digest().subarray(0, FINGERPRINT));
}

/** `MAGIC ‖ fingerprint ‖ app ‖ 0x00 ‖ purpose`: a wrap opens only for the destination it names. */
function wrapAad(fingerprint: Uint8Array, app: string, purpose: string): Uint8Array {
  for (const [name, value] of [
    ['app', app],
    ['purpose', purpose],
  ] as const) {
    if (typeof value !== 'string' || value.length === 0 || value.includes('\0'))
      throw new CofferError('EINVAL', `${name} must be a non-empty string without NUL`);
  }
  return concatBytes(MAGIC, fingerprint, new TextEncoder().encode(`${app}\0${purpose}`));
}

/**
 * Wraps `pkcs8` (the key as PKCS#8 DER, SPEC §14.4.1) to the daemon's import key for `app`/`purpose`:
 * `"CIW1" ‖ fingerprint(16) ‖ enc(1120) ‖ ciphertext`. `eseed` (64 bytes) is for vectors only.
 */
export function wrapKeyForImport(
  importPublicKey: Uint8Array,
  destination: { app: string; purpose: string },
  pkcs8: Uint8Array,
  eseed?: Uint8Array,
): Uint8Array {
  assertBytes('pkcs8', pkcs8);
  if (pkcs8.length === 0 || pkcs8.length > MAX_WRAPPED_KEY)
    throw new CofferError('E2BIG', `a wrapped key is 1 to ${MAX_WRAPPED_KEY} bytes`);
  const fingerprint = importKeyFingerprint(importPublicKey);
  const aad = wrapAad(fingerprint, destination.app, destination.purpose);
  const { enc, ciphertext } = sealBase(importPublicKey, INFO, aad, pkcs8, eseed);
  return concatBytes(MAGIC, fingerprint, enc, ciphertext);
}

/**
 * Opens a wrap made for the import key `fingerprint` and the given destination: EINVAL for a
 * malformed wrap or one to another import key (the
 * daemon restarted: fetch its key again), EBADMSG when authentication fails (altered, or made for
 * another app or purpose).
 */
export async function unwrapImportedKey(
  decapsulate: XWingDecapsulate,
  fingerprint: Uint8Array,
  destination: { app: string; purpose: string },
  wrapped: Uint8Array,
): Promise<Uint8Array> {
  assertBytes('wrapped', wrapped);
  if (wrapped.length > MAX_IMPORT_WRAP) throw new CofferError('E2BIG', 'the import wrap is too large');
  if (wrapped.length < HEADER + TAG + 1 || !equalBytes(wrapped.subarray(0, MAGIC.length), MAGIC))
    throw new CofferError('EINVAL', 'not a Coffer import wrap (CIW1)');
  const given = wrapped.subarray(MAGIC.length, MAGIC.length + FINGERPRINT);
  if (!equalBytes(given, fingerprint)) {
    throw new CofferError(
      'EINVAL',
      'the key was wrapped to another import key (the daemon restarted since): fetch the import key again',
    );
  }
  const enc = wrapped.subarray(MAGIC.length + FINGERPRINT, HEADER);
  const aad = wrapAad(fingerprint, destination.app, destination.purpose);
  return openBase(decapsulate, enc, INFO, aad, wrapped.subarray(HEADER));
}
