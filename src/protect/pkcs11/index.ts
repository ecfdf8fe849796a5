// PKCS#11 custody (SPEC §5): the `{ type: 'pkcs11' }` protector driver, the shared token session
// it is built on, and HSM-resident signing keys for the keystore core. Loaded on first use only
// (core/protectors.ts), so processes without a token never load the pkcs11js native addon.
export { type CkrContext, codeForCkr } from './ckr.js';
export { DEVICE_MECHANISMS, type DeviceMechanism, Pkcs11Device } from './device.js';
export {
  createPkcs11Driver,
  type Pkcs11DriverOptions,
  type Pkcs11ProtectorConfig,
  type Pkcs11ProtectorState,
  pkcs11Driver,
  validatePkcs11Config,
} from './driver.js';
export {
  destroyResidentKey,
  generateResidentKey,
  getResidentPublicKey,
  RESIDENT_ALGORITHMS,
  type ResidentAlgorithm,
  type ResidentKey,
  residentMechanisms,
  signResident,
  signResidentDigest,
} from './resident-keys.js';
export {
  type MechanismRequirement,
  Pkcs11Token,
  type Pkcs11TokenInfo,
  type Pkcs11TokenOptions,
} from './token.js';
