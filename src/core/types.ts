// The key model of SPEC §2: algorithms, uses, states, versions, policies and the public KeyInfo
// shape returned by the Keystore API.

export const KEY_ALGORITHMS = [
  'ed25519',
  'ecdsa-p256',
  'secp256k1',
  'ml-dsa-65',
  'aes-256-gcm',
  'xchacha20-poly1305',
  'x-wing',
  'hmac-sha256',
] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export type SignatureAlgorithm = 'ed25519' | 'ecdsa-p256' | 'secp256k1' | 'ml-dsa-65';
export type SealAlgorithm = 'aes-256-gcm' | 'xchacha20-poly1305';

export const KEY_USES = [
  'sign',
  'verify',
  'seal',
  'unseal',
  'encapsulate',
  'decapsulate',
  'derive',
  'wrap',
  'mac',
] as const;
export type KeyUse = (typeof KEY_USES)[number];

/** Uses each algorithm can have, and the default set when `uses` is not given. */
export const ALGORITHM_USES: Readonly<Record<KeyAlgorithm, readonly KeyUse[]>> = {
  ed25519: ['sign', 'verify'],
  'ecdsa-p256': ['sign', 'verify'],
  secp256k1: ['sign', 'verify'],
  'ml-dsa-65': ['sign', 'verify'],
  'aes-256-gcm': ['seal', 'unseal', 'wrap'],
  'xchacha20-poly1305': ['seal', 'unseal', 'wrap'],
  'x-wing': ['encapsulate', 'decapsulate', 'seal', 'unseal'],
  'hmac-sha256': ['mac', 'verify'],
};

export const KEY_STATES = [
  'pre-active',
  'active',
  'suspended',
  'deactivated',
  'compromised',
  'destroyed',
] as const;
export type KeyState = (typeof KEY_STATES)[number];

export interface Transition {
  at: number;
  actor: string;
  from: KeyState;
  to: KeyState;
  reason?: string;
  /** Set when the transition concerns one version rather than the whole key. */
  version?: number;
}

export interface RotationPolicy {
  /** Rotate every this many milliseconds. */
  intervalMs?: number;
  /** Warn this long before a rotation is due. */
  advanceWarningMs?: number;
  /** How long a deactivated version keeps processing after rotation. */
  gracePeriodMs?: number;
  /** Rotate after this many protect operations on the primary version. */
  maxUses?: number;
  /** Rotation waits for an explicit confirmation. */
  requireConfirmation?: boolean;
}

export interface VersionInfo {
  version: number;
  state: KeyState;
  createdAt: number;
  /** Set once the version was superseded by rotation. */
  deactivatedAt?: number;
  /** After this instant a deactivated version no longer processes (EKEYEXPIRED). */
  graceEndsAt?: number;
  compromisedAt?: number;
  destroyedAt?: number;
  /** HSM-resident keys: CKA_ID (hex) of this version's key pair in the token (SPEC §5.5). */
  tokenKeyId?: string;
}

/** Where an HSM-resident key lives (SPEC §5.5); absent for keys wrapped under the master key. */
export interface KeyResidency {
  type: 'pkcs11';
  /** CK_TOKEN_INFO label and serial of the token holding every version's key pair. */
  tokenLabel: string;
  tokenSerial: string;
}

/** The metadata record of one key (SPEC §4 `…/meta`), also the shape returned to callers. */
export interface KeyInfo {
  id: string;
  app: string;
  purpose: string;
  algorithm: KeyAlgorithm;
  uses: KeyUse[];
  labels: Record<string, string>;
  state: KeyState;
  createdAt: number;
  updatedAt: number;
  /** For a pre-active key: when it becomes active by itself. */
  activatesAt?: number;
  primaryVersion: number;
  minDecryptionVersion: number;
  versions: VersionInfo[];
  rotation?: RotationPolicy;
  /** Created under deterministic test mode: never to be trusted. */
  insecure?: boolean;
  /** False when the key's policy keeps it out of encrypted backups (default: allowed). */
  backupAllowed?: false;
  /** Created `syncable: true`: may become a keychain item whose material travels to the user's devices, encrypted (SPEC §16). */
  syncable?: true;
  /** Set for HSM-resident keys: the private halves live in this token, never in the store. */
  residency?: KeyResidency;
  /**
   * Where the key material came from (absent: generated here). `imported`: a private key brought in
   * with importKey, non-exportable from then on; `trust-anchor`: a public key only, for verification
   * (SPEC §14.15).
   */
  origin?: KeyOrigin;
  history: Transition[];
}

export type KeyOrigin = 'imported' | 'trust-anchor';

export interface CreateKeySpec {
  app: string;
  purpose: string;
  algorithm: KeyAlgorithm;
  uses?: KeyUse[];
  labels?: Record<string, string>;
  rotation?: RotationPolicy;
  /** Create pre-active; it activates at `activatesAt` (ms) or on an explicit activate(). */
  preActive?: boolean;
  /** Keep this key out of encrypted backups (default: backups include it). */
  backupAllowed?: boolean;
  /** May be a keychain item of kind `key` and later sync, encrypted, to the user's devices (SPEC §16). */
  syncable?: boolean;
  activatesAt?: number;
  /**
   * 'pkcs11': generate the key pair inside the keystore's PKCS#11 token (ed25519 and ecdsa-p256
   * only); the private key never exists in this process (SPEC §5.5).
   */
  residency?: 'pkcs11';
}

/** The bounds listed in docs/errors.md. */
export const LIMITS = {
  signMessageBytes: 1 << 20,
  sealPayloadBytes: 16 << 20,
  metadataStringBytes: 256,
  labelsPerKey: 32,
  versionsPerKey: 10_000,
  historyEntries: 1000,
} as const;
