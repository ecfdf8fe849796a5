// `coffer`: the keystore library (SPEC §2). Apps get key handles and operations, never key bytes.

export {
  type CreateBackupOptions,
  createBackup,
  inspectBackup,
  type RestoreOptions,
  restoreBackup,
} from './backup/index.js';
export type { AuditEntry, AuditReport } from './core/audit.js';
export type { ExportedKey, ExportFilter, ImportMode } from './core/dangerous-material.js';
export type { ProtectorInfo, RemovedProtector } from './core/keyslots.js';
export { Keystore, type OpenOptions } from './core/keystore.js';
export { sealToPublicKey } from './core/operations.js';
export type { PublicKeyFormat } from './core/public-key.js';
export type { Pkcs11TokenConfig } from './core/resident.js';
export { type RollbackDetail, RollbackError, type RollbackKind } from './core/rollback.js';
export {
  type ByteSource,
  ByteStream,
  type SealStreamOptions,
  sealStreamToPublicKey,
  type UnsealStreamOptions,
} from './core/stream-seal.js';
export type {
  KeyOperations,
  SignatureCheck,
  SignatureEncoding,
  TokenInfo,
  TokenSpec,
} from './core/surface.js';
export {
  ALGORITHM_USES,
  type CreateKeySpec,
  KEY_ALGORITHMS,
  KEY_STATES,
  KEY_USES,
  type KeyAlgorithm,
  type KeyInfo,
  type KeyResidency,
  type KeyState,
  type KeyUse,
  LIMITS,
  type RotationPolicy,
  type Transition,
  type VersionInfo,
} from './core/types.js';
export { CofferError, ERROR_CODES, type ErrorCode } from './errors.js';
export { HdWallet, mnemonicPaperBackup } from './hd/index.js';
export type {
  AnchorConfig,
  FileAnchorConfig,
  KeyringAnchorConfig,
  Pkcs11AnchorConfig,
  Tpm2AnchorConfig,
} from './protect/anchor.js';
export type {
  KeyringProtectorConfig,
  PassphraseProtectorConfig,
  Pkcs11ProtectorConfig,
  ProtectorConfig,
  Tpm2ProtectorConfig,
} from './protect/configs.js';
export { openStorage } from './storage/open.js';
export type { Storage } from './storage/types.js';
