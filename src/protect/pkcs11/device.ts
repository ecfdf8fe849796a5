// The PKCS#11 DeviceKeystore (SPEC §5): AEAD under an AES-256 key that never leaves the token.
// Two ciphertext layouts (SPEC "PKCS#11 protector"):
//   CKM_AES_GCM           iv(12) ‖ ct ‖ tag(16)          — GCM runs inside the token, AAD as given.
//   CKM_AES_KEY_WRAP_PAD  wdek(40) ‖ nonce(12) ‖ ct ‖ tag(16)
//       for tokens without GCM: a fresh 32-byte data key is wrapped inside the token with RFC 5649,
//       and the payload is AES-256-GCM'd in process under that data key with associated data
//       "coffer:pkcs11-kwp:v1" ‖ 0x00 ‖ wdek ‖ aad, so the caller's AAD stays authenticated and the
//       payload is bound to its wrapped key; only the token can recover the data key.
import * as aead from '../../crypto/aead.js';
import { assertBytes, concatBytes, utf8, wipe } from '../../crypto/bytes.js';
import { systemRng } from '../../crypto/rng.js';
import { CofferError } from '../../errors.js';
import type { DeviceKeystore, ProtectorCapabilities } from '../types.js';
import { CKA, CKK, CKM, CKO } from './constants.js';
import { type Handle, loadBinding, type Pkcs11Lib } from './module.js';
import { type Pkcs11Token, readAttribute } from './token.js';

export type DeviceMechanism = 'CKM_AES_GCM' | 'CKM_AES_KEY_WRAP_PAD';
export const DEVICE_MECHANISMS: readonly DeviceMechanism[] = ['CKM_AES_GCM', 'CKM_AES_KEY_WRAP_PAD'];

export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
/** RFC 5649 output for a 32-byte key: 32 bytes padded to a multiple of 8, plus the 8-byte AIV block. */
export const WRAPPED_DEK_LENGTH = 40;
const DEK_LENGTH = 32;
/** KEKs wrap 32-byte master keys; HSMs often cap single-part operations far below this. */
export const MAX_PLAINTEXT = 1 << 20;
const KWP_DOMAIN = utf8.encode('coffer:pkcs11-kwp:v1\0');

/** The token key a device uses: its session handle and the identifiers that name it in messages. */
export interface TokenKey {
  handle: Handle;
  label: string;
  idHex: string;
}

/** Buffer view over caller bytes, no copy. pkcs11js hands a NULL pointer to the token for an
 * empty Buffer, which tokens reject (CKR_ARGUMENTS_BAD), so empty input gets a zero-length view
 * into a real allocation. */
function view(bytes: Uint8Array): Buffer {
  if (bytes.length === 0) return Buffer.alloc(1).subarray(0, 0);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function kwpAad(wrapped: Uint8Array, aad: Uint8Array): Uint8Array {
  return concatBytes(KWP_DOMAIN, wrapped, aad);
}

/** Session-object template for the data key around C_WrapKey/C_UnwrapKey: never on the token,
 * private to logged-in sessions, readable by this process only for the in-process AEAD. */
function dataKeyTemplate(value?: Buffer): { type: number; value: number | boolean | Buffer }[] {
  const template: { type: number; value: number | boolean | Buffer }[] = [
    { type: CKA.CLASS, value: CKO.SECRET_KEY },
    { type: CKA.KEY_TYPE, value: CKK.GENERIC_SECRET },
    { type: CKA.TOKEN, value: false },
    { type: CKA.PRIVATE, value: true },
    { type: CKA.SENSITIVE, value: false },
    { type: CKA.EXTRACTABLE, value: true },
  ];
  if (value !== undefined) template.push({ type: CKA.VALUE, value });
  return template;
}

function destroyQuietly(lib: Pkcs11Lib, session: Handle, object: Handle): void {
  try {
    lib.C_DestroyObject(session, object);
  } catch {
    // A session object dies with its session anyway; the original error is the one to report.
  }
}

export class Pkcs11Device implements DeviceKeystore {
  readonly mechanism: DeviceMechanism;
  readonly #token: Pkcs11Token;
  readonly #key: TokenKey;
  readonly #capabilities: ProtectorCapabilities;

  constructor(
    token: Pkcs11Token,
    key: TokenKey,
    mechanism: DeviceMechanism,
    capabilities: ProtectorCapabilities,
  ) {
    this.#token = token;
    this.#key = key;
    this.mechanism = mechanism;
    this.#capabilities = Object.freeze({ ...capabilities });
  }

  get #keyName(): string {
    return `'${this.#key.label}' (CKA_ID ${this.#key.idHex}) on token '${this.#token.info.label}'`;
  }

  capabilities(): ProtectorCapabilities {
    return { ...this.#capabilities };
  }

  async encrypt(plain: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    assertBytes('plain', plain);
    assertBytes('aad', aad);
    if (plain.length > MAX_PLAINTEXT) {
      throw new CofferError('E2BIG', `PKCS#11: plaintext over ${MAX_PLAINTEXT} bytes`);
    }
    return this.mechanism === 'CKM_AES_GCM' ? this.#gcmEncrypt(plain, aad) : this.#kwpEncrypt(plain, aad);
  }

  async decrypt(cipher: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    assertBytes('cipher', cipher);
    assertBytes('aad', aad);
    if (cipher.length > MAX_PLAINTEXT + WRAPPED_DEK_LENGTH + IV_LENGTH + TAG_LENGTH) {
      throw new CofferError('E2BIG', 'PKCS#11: ciphertext over the size bound');
    }
    return this.mechanism === 'CKM_AES_GCM' ? this.#gcmDecrypt(cipher, aad) : this.#kwpDecrypt(cipher, aad);
  }

  async close(): Promise<void> {
    await this.#token.close();
  }

  /**
   * C_EncryptInit/C_DecryptInit with CK_GCM_PARAMS as PKCS#11 v2.40-errata / v3.0 define it (with
   * ulIvBits), the only layout pkcs11js passes. Modules built against the pre-errata header, which
   * lacks ulIvBits, cannot be served this way; for those, force CKM_AES_KEY_WRAP_PAD.
   */
  #gcmInit(lib: Pkcs11Lib, session: Handle, iv: Buffer, aad: Uint8Array, encrypt: boolean): void {
    const mechanism = {
      mechanism: CKM.AES_GCM,
      parameter: {
        type: loadBinding().CK_PARAMS_AES_GCM_v240,
        iv,
        ivBits: IV_LENGTH * 8,
        aad: view(aad),
        tagBits: TAG_LENGTH * 8,
      },
    };
    if (encrypt) lib.C_EncryptInit(session, mechanism, this.#key.handle);
    else lib.C_DecryptInit(session, mechanism, this.#key.handle);
  }

  async #gcmEncrypt(plain: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const iv = Buffer.from(systemRng.randomBytes(IV_LENGTH));
    const out = Buffer.alloc(plain.length + TAG_LENGTH);
    try {
      const sealed = await this.#token.run(
        { action: `encrypt with token key ${this.#keyName}`, keyName: this.#keyName },
        async (lib, session) => {
          this.#gcmInit(lib, session, iv, aad, true);
          return lib.C_EncryptAsync(session, view(plain), out);
        },
      );
      if (sealed.length !== plain.length + TAG_LENGTH) {
        throw new CofferError(
          'EUNAVAIL',
          `PKCS#11: token returned ${sealed.length} bytes for GCM, expected ${plain.length + TAG_LENGTH}`,
        );
      }
      return concatBytes(iv, sealed);
    } finally {
      wipe(out);
    }
  }

  async #gcmDecrypt(cipher: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    if (cipher.length < IV_LENGTH + TAG_LENGTH) {
      throw new CofferError('EBADMSG', 'PKCS#11: ciphertext too short for iv ‖ ct ‖ tag');
    }
    const iv = Buffer.from(cipher.subarray(0, IV_LENGTH));
    const body = view(cipher.subarray(IV_LENGTH));
    // Tokens size the single-part output by the input (tag included), so the buffer is that long.
    const out = Buffer.alloc(body.length);
    try {
      const plain = await this.#token.run(
        { action: `decrypt with token key ${this.#keyName}`, authenticates: true, keyName: this.#keyName },
        async (lib, session) => {
          this.#gcmInit(lib, session, iv, aad, false);
          return lib.C_DecryptAsync(session, body, out);
        },
      );
      if (plain.length !== body.length - TAG_LENGTH) {
        throw new CofferError('EBADMSG', 'PKCS#11: token returned a plaintext of the wrong length');
      }
      return Uint8Array.from(plain);
    } finally {
      wipe(out);
    }
  }

  async #kwpEncrypt(plain: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const dek = view(systemRng.randomBytes(DEK_LENGTH)); // a view, so wipe() clears the only copy
    const nonce = systemRng.randomBytes(IV_LENGTH);
    try {
      const wrapped = await this.#token.run(
        { action: `wrap a data key with token key ${this.#keyName}`, keyName: this.#keyName },
        async (lib, session) => {
          const object = lib.C_CreateObject(session, dataKeyTemplate(dek));
          try {
            const out = await lib.C_WrapKeyAsync(
              session,
              { mechanism: CKM.AES_KEY_WRAP_PAD },
              this.#key.handle,
              object,
              Buffer.alloc(WRAPPED_DEK_LENGTH + 16),
            );
            return Uint8Array.from(out);
          } finally {
            destroyQuietly(lib, session, object);
          }
        },
      );
      if (wrapped.length !== WRAPPED_DEK_LENGTH) {
        throw new CofferError(
          'EUNAVAIL',
          `PKCS#11: token wrapped a 32-byte key into ${wrapped.length} bytes, expected ${WRAPPED_DEK_LENGTH}`,
        );
      }
      const sealed = aead.encrypt('aes-256-gcm', dek, nonce, plain, kwpAad(wrapped, aad));
      return concatBytes(wrapped, nonce, sealed);
    } finally {
      wipe(dek);
    }
  }

  async #kwpDecrypt(cipher: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    if (cipher.length < WRAPPED_DEK_LENGTH + IV_LENGTH + TAG_LENGTH) {
      throw new CofferError('EBADMSG', 'PKCS#11: ciphertext too short for wdek ‖ nonce ‖ ct ‖ tag');
    }
    const wrapped = cipher.subarray(0, WRAPPED_DEK_LENGTH);
    const nonce = cipher.subarray(WRAPPED_DEK_LENGTH, WRAPPED_DEK_LENGTH + IV_LENGTH);
    const sealed = cipher.subarray(WRAPPED_DEK_LENGTH + IV_LENGTH);
    const dek = await this.#token.run(
      {
        action: `unwrap a data key with token key ${this.#keyName}`,
        authenticates: true,
        keyName: this.#keyName,
      },
      async (lib, session) => {
        const object = await lib.C_UnwrapKeyAsync(
          session,
          { mechanism: CKM.AES_KEY_WRAP_PAD },
          this.#key.handle,
          Buffer.from(wrapped),
          dataKeyTemplate(),
        );
        try {
          return readAttribute(lib, session, object, CKA.VALUE);
        } finally {
          destroyQuietly(lib, session, object);
        }
      },
    );
    try {
      if (dek.length !== DEK_LENGTH) {
        throw new CofferError('EBADMSG', 'PKCS#11: unwrapped data key has the wrong length');
      }
      return aead.decrypt('aes-256-gcm', dek, nonce, sealed, kwpAad(wrapped, aad));
    } finally {
      wipe(dek);
    }
  }
}
