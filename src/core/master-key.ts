// The keystore master key and the subkeys derived from it (SPEC §3). Holding all derived keys in one
// object lets lock() wipe them together.
import * as aead from '../crypto/aead.js';
import { wipe } from '../crypto/bytes.js';
import { hkdf } from '../crypto/kdf.js';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { textEncoder } from './encoding.js';

export const MASTER_KEY_LENGTH = 32;

export class MasterKeys {
  readonly barrier: Uint8Array;
  readonly keyWrap: Uint8Array;
  readonly audit: Uint8Array;
  readonly slotMac: Uint8Array;
  #master: Uint8Array;
  #wiped = false;

  constructor(master: Uint8Array, storeId: Uint8Array) {
    if (master.length !== MASTER_KEY_LENGTH)
      throw new CofferError('EBADMSG', 'master key has the wrong length');
    this.#master = Uint8Array.from(master);
    const derive = (info: string) => hkdf('sha256', this.#master, storeId, textEncoder.encode(info), 32);
    this.barrier = derive('coffer:barrier:v1');
    this.keyWrap = derive('coffer:key-wrap:v1');
    this.audit = derive('coffer:audit:v1');
    this.slotMac = derive('coffer:slot-mac:v1');
  }

  /** The raw master key, for wrapping into a new keyslot only. */
  get master(): Uint8Array {
    if (this.#wiped) throw new CofferError('ELOCKED', 'the keystore is locked');
    return this.#master;
  }

  wipe(): void {
    this.#wiped = true;
    wipe(this.#master, this.barrier, this.keyWrap, this.audit, this.slotMac);
  }
}

/** AES-256-GCM with a random nonce: nonce ‖ ciphertext ‖ tag. */
export function sealWithKey(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, rng: Rng): Uint8Array {
  const nonce = rng.randomBytes(12);
  const body = aead.encrypt('aes-256-gcm', key, nonce, plaintext, aad);
  const out = new Uint8Array(12 + body.length);
  out.set(nonce, 0);
  out.set(body, 12);
  return out;
}

export function openWithKey(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  if (sealed.length < 12 + 16) throw new CofferError('EBADMSG', 'wrapped data is too short');
  return aead.decrypt('aes-256-gcm', key, sealed.subarray(0, 12), sealed.subarray(12), aad);
}
