// The keystore master key and the subkeys derived from it (SPEC §3). Holding all derived keys in one
// object lets lock() wipe them together.
import * as aead from '../crypto/aead.js';
import { wipe } from '../crypto/bytes.js';
import { holdKey, releaseKey } from '../crypto/held-keys.js';
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
  /** Record tree root MAC and anchor blobs (SPEC §4.1, §4.2). */
  readonly tree: Uint8Array;
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
    this.tree = derive('coffer:tree:v1');
    // Used for every record, wrap, audit entry and tree root while unlocked (crypto/held-keys.ts).
    for (const key of this.#held()) holdKey(key);
  }

  #held(): Uint8Array[] {
    return [this.barrier, this.keyWrap, this.audit, this.tree];
  }

  /** The raw master key, for wrapping into a new keyslot only. */
  get master(): Uint8Array {
    if (this.#wiped) throw new CofferError('ELOCKED', 'the keystore is locked');
    return this.#master;
  }

  wipe(): void {
    this.#wiped = true;
    for (const key of this.#held()) releaseKey(key);
    wipe(this.#master, this.barrier, this.keyWrap, this.audit, this.slotMac, this.tree);
  }
}

/** AES-256-GCM with a random nonce: nonce ‖ ciphertext ‖ tag (crypto/aead.ts sealWithNonce). */
export function sealWithKey(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, rng: Rng): Uint8Array {
  return aead.sealWithNonce(key, plaintext, aad, (n) => rng.randomBytes(n));
}

export function openWithKey(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  return aead.openWithNonce(key, sealed, aad);
}
