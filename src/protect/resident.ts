// Opening the device that keeps resident signing keys (SPEC §5.5). The interface core/resident.ts
// programs against (ResidentKeyDevice, in types.ts) so the core never names a concrete token. PKCS#11 is
// the one implementation today (protect/pkcs11/resident-device.ts); loading it is deferred to first
// use, so a keystore without resident keys never loads the pkcs11js addon.
import { CofferError } from '../errors.js';
import type { Pkcs11TokenConfig, ResidentKeyAlgorithm, ResidentKeyDevice } from './types.js';

export type { Pkcs11TokenConfig, ResidentKeyAlgorithm, ResidentKeyDevice };

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
