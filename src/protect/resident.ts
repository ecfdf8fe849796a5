// What the keystore core needs from a device that keeps signing keys inside it (SPEC §5.5): the
// interface core/resident.ts programs against, so the core never names a concrete token. PKCS#11 is
// the one implementation today (protect/pkcs11/resident-device.ts); loading it is deferred to first
// use, so a keystore without resident keys never loads the pkcs11js addon.
import { CofferError } from '../errors.js';

/** The token resident keys live in (a contract: `Keystore.open({ …, pkcs11: { module, tokenLabel, pin } })`). */
export interface Pkcs11TokenConfig {
  /** Absolute path of the vendor's PKCS#11 library. */
  module: string;
  tokenLabel: string;
  /** User PIN; kept in memory by the open keystore handle only, never stored. */
  pin: string;
}

export type ResidentKeyAlgorithm = 'ed25519' | 'ecdsa-p256';

/** One logged-in session on a device holding resident key pairs. */
export interface ResidentKeyDevice {
  /** The device's identity, recorded with every key it holds and checked before each use. */
  readonly info: { readonly serial: string; readonly label: string };
  /** Generates a key pair inside the device; `handleId` is what the core stores to find it again. */
  generate(alg: ResidentKeyAlgorithm, label: string): Promise<{ handleId: string; publicKey: Uint8Array }>;
  /** Signs with a resident private key: the raw signature (64 bytes for both algorithms). */
  sign(handleId: string, message: Uint8Array): Promise<Uint8Array>;
  /** Deletes a key pair; false when it was already gone. */
  destroy(handleId: string): Promise<boolean>;
  /** Whether the session still works (after an EUNAVAIL: a missing key, or the device pulled?). */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

const TOKEN_FIELDS = new Set(['module', 'tokenLabel', 'pin']);

/** Validates a token config fully (EINVAL) without opening the device. */
export async function validateTokenConfig(value: unknown): Promise<Pkcs11TokenConfig> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CofferError('EINVAL', 'pkcs11 must be an object { module, tokenLabel, pin }');
  }
  for (const field of Object.keys(value)) {
    if (!TOKEN_FIELDS.has(field)) {
      throw new CofferError('EINVAL', `pkcs11 has an unknown field ${JSON.stringify(field.slice(0, 32))}`);
    }
  }
  const validate: (options: unknown) => void = (await import('./pkcs11/token.js')).validateTokenOptions;
  validate(value);
  const { module, tokenLabel, pin } = value as Pkcs11TokenConfig;
  return { module, tokenLabel, pin };
}

/** Opens and logs in to the device a token config names (loads the PKCS#11 module on first call). */
export async function openResidentDevice(config: Pkcs11TokenConfig): Promise<ResidentKeyDevice> {
  const { openPkcs11ResidentDevice } = await import('./pkcs11/resident-device.js');
  return openPkcs11ResidentDevice(config);
}
