// Plaintext padding of item bodies (SPEC §16.2): a record's size must not tell a password's length.
// Power-of-two buckets from 256 bytes hide small bodies completely; Padmé above 4 KiB bounds overhead.
import { CofferError } from '../errors.js';

const MIN_BUCKET = 256;
const POWER_OF_TWO_UP_TO = 4096;

/** Padmé (PURBs, PETS 2019): round n up so only O(log log n) bits of it remain. */
export function padme(n: number): number {
  if (n < 2) return n;
  const e = Math.floor(Math.log2(n));
  const s = Math.floor(Math.log2(e)) + 1;
  const z = e - s;
  const mask = 2 ** z;
  return Math.ceil(n / mask) * mask;
}

/** The padded size P(n) of SPEC §16.2 for n bytes (length prefix included). */
export function paddedSize(n: number): number {
  if (n <= MIN_BUCKET) return MIN_BUCKET;
  if (n <= POWER_OF_TWO_UP_TO) return 2 ** Math.ceil(Math.log2(n));
  return padme(n);
}

/** `u32 length ‖ body ‖ zeros` up to P(4 + length). */
export function pad(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(paddedSize(4 + body.length));
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, 4);
  return out;
}

/** The body of a padded plaintext; anything but the exact layout above is EBADMSG. */
export function unpad(padded: Uint8Array): Uint8Array {
  if (padded.length < 4) throw new CofferError('EBADMSG', 'item body: padding too short');
  const length = new DataView(padded.buffer, padded.byteOffset, padded.byteLength).getUint32(0, false);
  if (length > padded.length - 4 || paddedSize(4 + length) !== padded.length)
    throw new CofferError('EBADMSG', 'item body: padding does not match its length');
  for (let i = 4 + length; i < padded.length; i++) {
    if (padded[i] !== 0) throw new CofferError('EBADMSG', 'item body: non-zero padding');
  }
  return padded.subarray(4, 4 + length);
}
