// The device shared by the protectors whose wrapping key ends up in this process (passphrase, OS
// keyring, TPM 2.0 after unsealing): AES-256-GCM under that key, output nonce(12) ‖ ciphertext ‖
// tag(16) (SPEC §5), the key wiped by close(). Only the custody of the key differs between them,
// so the cipher, the closed state and the size bounds live here once.
import * as aead from '../crypto/aead.js';
import { assertBytes, wipe } from '../crypto/bytes.js';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import type { DeviceKeystore, ProtectorCapabilities } from './types.js';

export const NONCE_LENGTH = aead.NONCE_LENGTH['aes-256-gcm'];
export const TAG_LENGTH = aead.TAG_LENGTH;

export interface InProcessAeadOptions {
  /** Protector type, used in messages ("keyring protector is closed"). */
  name: string;
  capabilities: ProtectorCapabilities;
  /** Source of nonces: the OS CSPRNG unless deterministic test mode supplies its DRBG. */
  rng: Rng;
  /** Largest plaintext accepted (E2BIG above); a ciphertext may be NONCE_LENGTH + TAG_LENGTH longer. */
  maxPlaintext?: number;
  /** Largest associated data accepted (E2BIG above). */
  maxAad?: number;
}

function checkBytes(what: string, value: unknown, max: number | undefined): asserts value is Uint8Array {
  assertBytes(what, value);
  if (max !== undefined && value.length > max) throw new CofferError('E2BIG', `${what} is over ${max} bytes`);
}

/** Takes ownership of `key` (32 bytes): the caller must not wipe or reuse it. */
export class InProcessAeadDevice implements DeviceKeystore {
  #key: Uint8Array | undefined;
  readonly #options: Readonly<InProcessAeadOptions>;
  readonly #capabilities: Readonly<ProtectorCapabilities>;

  constructor(key: Uint8Array, options: InProcessAeadOptions) {
    assertBytes('key', key, aead.KEY_LENGTH);
    this.#key = key;
    this.#options = { ...options };
    this.#capabilities = Object.freeze({ ...options.capabilities });
  }

  #liveKey(): Uint8Array {
    if (this.#key === undefined) {
      throw new CofferError('EUNAVAIL', `${this.#options.name} protector is closed`);
    }
    return this.#key;
  }

  async encrypt(plain: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const { maxPlaintext, maxAad, rng } = this.#options;
    checkBytes('plaintext', plain, maxPlaintext);
    checkBytes('aad', aad, maxAad);
    // A random 96-bit nonce per call: a slot encrypts a handful of master keys in its life, far
    // below the 2^32 messages NIST SP 800-38D §8.3 allows for random GCM nonces under one key.
    return aead.sealWithNonce(this.#liveKey(), plain, aad, (n) => rng.randomBytes(n));
  }

  async decrypt(cipher: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const { maxPlaintext, maxAad } = this.#options;
    checkBytes(
      'ciphertext',
      cipher,
      maxPlaintext === undefined ? undefined : maxPlaintext + NONCE_LENGTH + TAG_LENGTH,
    );
    checkBytes('aad', aad, maxAad);
    // A wrong key (wrong passphrase, replaced entry) lands here as an authentication failure: EBADMSG.
    return aead.openWithNonce(this.#liveKey(), cipher, aad);
  }

  capabilities(): ProtectorCapabilities {
    return { ...this.#capabilities };
  }

  async close(): Promise<void> {
    wipe(this.#key);
    this.#key = undefined;
  }
}
