// ECDSA signature encodings (SPEC "Signatures", DER option): Coffer's signatures are IEEE P1363
// r ‖ s (64 bytes for P-256 and secp256k1); OpenSSL, X.509, CMS and Java want the DER
// ECDSA-Sig-Value of RFC 3279 §2.2.3, SEQUENCE { r INTEGER, s INTEGER }. These convert between the
// two. The parser is strict DER (asn1.ts): one encoding per signature, so no malleability by
// re-encoding, and r, s must fit the 32-byte scalar size.
import { assertBytes } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import { DerReader, encodeSequence, encodeUnsignedInteger } from './asn1.js';

/** Byte length of r and of s for the supported curves (both 256-bit). */
export const ECDSA_SCALAR_LENGTH = 32;
/** Longest DER ECDSA-Sig-Value for 32-byte scalars: 2 + 2 × (2 + 33). */
export const ECDSA_DER_MAX_LENGTH = 72;

/** r ‖ s (64 bytes) → DER SEQUENCE { INTEGER r, INTEGER s }. */
export function ecdsaSignatureToDer(signature: Uint8Array): Uint8Array {
  assertBytes('signature', signature);
  if (signature.length !== 2 * ECDSA_SCALAR_LENGTH) {
    throw new CofferError(
      'EINVAL',
      `signature must be ${2 * ECDSA_SCALAR_LENGTH} bytes r ‖ s, got ${signature.length}`,
    );
  }
  return encodeSequence(
    encodeUnsignedInteger(signature.subarray(0, ECDSA_SCALAR_LENGTH)),
    encodeUnsignedInteger(signature.subarray(ECDSA_SCALAR_LENGTH)),
  );
}

/**
 * Strict DER ECDSA-Sig-Value → r ‖ s (64 bytes). EINVAL for BER forms, negative or non-minimal
 * integers, values wider than 32 bytes, trailing bytes. Range checks against the group order
 * (0 < r, s < n) are the verifier's job, so a well-formed zero converts and then fails to verify.
 */
export function ecdsaSignatureFromDer(der: Uint8Array): Uint8Array {
  assertBytes('der', der);
  if (der.length > ECDSA_DER_MAX_LENGTH) {
    throw new CofferError('EINVAL', `DER ECDSA signature longer than ${ECDSA_DER_MAX_LENGTH} bytes`);
  }
  const outer = new DerReader(der);
  const seq = outer.sequence();
  outer.end();
  const r = seq.unsignedInteger();
  const s = seq.unsignedInteger();
  seq.end();
  const out = new Uint8Array(2 * ECDSA_SCALAR_LENGTH);
  for (const [value, offset] of [
    [r, 0],
    [s, ECDSA_SCALAR_LENGTH],
  ] as const) {
    if (value.length > ECDSA_SCALAR_LENGTH) {
      throw new CofferError('EINVAL', `DER ECDSA signature integer wider than ${ECDSA_SCALAR_LENGTH} bytes`);
    }
    out.set(value, offset + ECDSA_SCALAR_LENGTH - value.length);
  }
  return out;
}
