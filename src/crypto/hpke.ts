// HPKE base mode, single shot (RFC 9180 §5.1, §6.1) for one suite: KEM MLKEM768-X25519 = X-Wing
// (0x647a, draft-ietf-hpke-pq), KDF HKDF-SHA256 (0x0001), AEAD ChaCha20-Poly1305 (0x0003) — the
// suite of age's post-quantum recipient (SPEC §14.12). The receiver's decapsulation is a callback,
// so a keystore-held X-Wing key opens without its seed ever reaching this code.
//
// X-Wing is not a DH-based KEM: Encap/Decap are X-Wing's own and its 32-byte shared secret enters
// the key schedule as is (draft-ietf-hpke-pq §3). No PSK, no exporter, one message per context.
import { createHmac } from 'node:crypto';
import { CofferError } from '../errors.js';
import * as aead from './aead.js';
import { assertBytes, concatBytes, wipe } from './bytes.js';
import { keyInput } from './held-keys.js';
import * as kem from './kem.js';

export const HPKE_XWING_SUITE = Object.freeze({ kem: 0x647a, kdf: 0x0001, aead: 0x0003 });
/** Nenc of X-Wing: the 1120-byte ciphertext; Npk 1216. */
export const HPKE_XWING_ENC_LENGTH = 1120;
const NK = 32;
const NN = 12;
const NH = 32;
const TAG = 16;

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
const i2osp2 = (n: number): Uint8Array => Uint8Array.of(n >>> 8, n & 0xff);

const SUITE_ID = concatBytes(
  enc('HPKE'),
  i2osp2(HPKE_XWING_SUITE.kem),
  i2osp2(HPKE_XWING_SUITE.kdf),
  i2osp2(HPKE_XWING_SUITE.aead),
);
const VERSION = enc('HPKE-v1');

function extract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  // RFC 5869 §2.2: an absent salt is HashLen zero bytes (HMAC pads an empty key the same way).
  const key = salt.length === 0 ? new Uint8Array(NH) : salt;
  return new Uint8Array(createHmac('sha256', keyInput(key)).update(ikm).digest());
}

function expand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  // Every length here is ≤ HashLen, so one HMAC block T(1) = HMAC(PRK, info ‖ 0x01) suffices.
  const t = createHmac('sha256', keyInput(prk)).update(info).update(Uint8Array.of(1)).digest();
  return new Uint8Array(t.subarray(0, length));
}

const labeledExtract = (salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array =>
  extract(salt, concatBytes(VERSION, SUITE_ID, enc(label), ikm));

const labeledExpand = (prk: Uint8Array, label: string, info: Uint8Array, length: number): Uint8Array =>
  expand(prk, concatBytes(i2osp2(length), VERSION, SUITE_ID, enc(label), info), length);

/** KeySchedule(mode_base, shared_secret, info, psk = "", psk_id = "") → (key, base_nonce). */
function keySchedule(sharedSecret: Uint8Array, info: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const empty = new Uint8Array(0);
  const pskIdHash = labeledExtract(empty, 'psk_id_hash', empty);
  const infoHash = labeledExtract(empty, 'info_hash', info);
  const context = concatBytes(Uint8Array.of(0x00), pskIdHash, infoHash);
  const secret = labeledExtract(sharedSecret, 'secret', empty);
  try {
    return {
      key: labeledExpand(secret, 'key', context, NK),
      nonce: labeledExpand(secret, 'base_nonce', context, NN),
    };
  } finally {
    wipe(secret);
  }
}

/** Decapsulates an X-Wing ciphertext: the keystore's `decapsulate`, or `kem.decapsulate` with a seed. */
export type XWingDecapsulate = (enc: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/**
 * SealBase(pkR, info, aad, pt) → { enc, ciphertext }. `eseed` (64 bytes) makes the encapsulation
 * deterministic, for vectors only.
 */
export function sealBase(
  publicKey: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  eseed?: Uint8Array,
): { enc: Uint8Array; ciphertext: Uint8Array } {
  assertBytes('info', info);
  assertBytes('aad', aad);
  assertBytes('plaintext', plaintext);
  const { ciphertext: encapsulated, sharedSecret } = kem.encapsulate('x-wing', publicKey, eseed);
  const { key, nonce } = keySchedule(sharedSecret, info);
  try {
    return { enc: encapsulated, ciphertext: aead.encrypt('chacha20-poly1305', key, nonce, plaintext, aad) };
  } finally {
    wipe(sharedSecret, key, nonce);
  }
}

/** OpenBase(enc, skR, info, aad, ct) with skR behind `decapsulate`; EBADMSG when the AEAD fails. */
export async function openBase(
  decapsulate: XWingDecapsulate,
  encapsulated: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  assertBytes('enc', encapsulated, HPKE_XWING_ENC_LENGTH);
  assertBytes('info', info);
  assertBytes('aad', aad);
  assertBytes('ciphertext', ciphertext);
  if (ciphertext.length < TAG) throw new CofferError('EBADMSG', 'HPKE ciphertext shorter than its tag');
  const sharedSecret = await decapsulate(encapsulated);
  assertBytes('decapsulated shared secret', sharedSecret, 32);
  const { key, nonce } = keySchedule(sharedSecret, info);
  try {
    return aead.decrypt('chacha20-poly1305', key, nonce, ciphertext, aad);
  } finally {
    wipe(sharedSecret, key, nonce);
  }
}
