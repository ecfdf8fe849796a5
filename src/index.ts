// `coffer`: the keystore library (DESIGN §3). Apps get key handles and operations, never key bytes.

export type { AuditEntry, AuditReport } from './core/audit.js';
export type { ProtectorInfo } from './core/keyslots.js';
export { Keystore, type OpenOptions } from './core/keystore.js';
export type {
  KeyringProtectorConfig,
  PassphraseProtectorConfig,
  Pkcs11ProtectorConfig,
  ProtectorConfig,
  Tpm2ProtectorConfig,
} from './core/protectors.js';
export type { PublicKeyFormat } from './core/public-key.js';
export {
  ALGORITHM_USES,
  type CreateKeySpec,
  KEY_ALGORITHMS,
  KEY_STATES,
  KEY_USES,
  type KeyAlgorithm,
  type KeyInfo,
  type KeyState,
  type KeyUse,
  LIMITS,
  type RotationPolicy,
  type Transition,
  type VersionInfo,
} from './core/types.js';
export { CofferError, ERROR_CODES, type ErrorCode } from './errors.js';
export { openStorage } from './storage/open.js';
export type { Storage } from './storage/types.js';
