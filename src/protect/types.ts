// Key-encryption-key custody (SPEC §5). A protector keeps a wrapping key inside a platform keystore
// (passphrase-derived, OS keyring, TPM 2.0, PKCS#11 token) and exposes only encrypt/decrypt with
// associated data, so the keystore's master key can be held in keyslots that any one protector opens.
import type { PassphraseKdfParams } from '../crypto/passphrase-kdf.js';
import { CofferError } from '../errors.js';

export interface ProtectorCapabilities {
  /** The wrapping key lives in dedicated hardware (TPM, HSM), not in this process or on disk. */
  hardwareBacked: boolean;
  /** The wrapping key can never be read out of its keystore, even by this process. */
  nonExportable: boolean;
  /** The wrapping key survives a reboot of the machine. */
  persistent: boolean;
  /** Each use needs a person present (touch, biometric, PIN typed at the device). */
  userPresence: boolean;
}

/** SPEC §5's interface: AEAD under a key the caller never sees. */
export interface DeviceKeystore {
  /** Encrypts `plain` bound to `aad`; the result carries whatever the protector needs to decrypt. */
  encrypt(plain: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Inverse of encrypt; a wrong `aad` or any altered byte → CofferError EBADMSG. */
  decrypt(cipher: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  capabilities(): ProtectorCapabilities;
  /** Releases sessions, handles or child processes (idempotent). */
  close?(): Promise<void>;
}

/** JSON-safe, non-secret data a protector persists in its keyslot record (salts, handles, blobs). */
export type ProtectorState = Record<string, unknown>;

/**
 * Creates or reopens a protector from its config object (a contract: `{ type: 'passphrase', … }`,
 * `{ type: 'keyring', … }`, `{ type: 'tpm2', … }`, `{ type: 'pkcs11', … }`). `create` makes fresh
 * custody material (a new token key, a new sealed TPM object, a new keyring secret) and returns the
 * state to persist; `open` rebuilds the same DeviceKeystore from that state. `destroy` removes the
 * custody material where the platform holds it (keyring entry, token key) when a slot is removed.
 */
export interface ProtectorDriver<Config extends { type: string }> {
  readonly type: Config['type'];
  create(
    config: Config,
    context: ProtectorContext,
  ): Promise<{ device: DeviceKeystore; state: ProtectorState }>;
  open(config: Config, state: ProtectorState, context: ProtectorContext): Promise<DeviceKeystore>;
  destroy?(config: Config, state: ProtectorState, context: ProtectorContext): Promise<void>;
}

export interface ProtectorContext {
  /** The keyslot id this protector serves; drivers may use it to name their platform objects. */
  slotId: string;
}

/** Checks the context a driver was handed (EINVAL): a plain object with a 1–256 character slotId. */
export function assertProtectorContext(context: unknown): asserts context is ProtectorContext {
  const proto = typeof context === 'object' && context !== null ? Object.getPrototypeOf(context) : undefined;
  const slotId = (context as { slotId?: unknown } | null | undefined)?.slotId;
  if (
    (proto !== Object.prototype && proto !== null) ||
    typeof slotId !== 'string' ||
    slotId.length === 0 ||
    slotId.length > 256
  ) {
    throw new CofferError(
      'EINVAL',
      'protector context must be an object with a slotId string of 1 to 256 characters',
    );
  }
}

// ---- Protector configs: the one place they are typed (validated in configs.ts, docs/protectors.md) ----

export interface PassphraseProtectorConfig {
  type: 'passphrase';
  passphrase: string;
  /** KDF for new slots (create / rewrap); defaults to DEFAULT_PASSPHRASE_KDF. Ignored by open. */
  kdf?: PassphraseKdfParams;
}
export interface KeyringProtectorConfig {
  type: 'keyring';
  service: string;
  account: string;
}
export interface Tpm2ProtectorConfig {
  type: 'tpm2';
  tcti?: string;
  pcrs?: string | number[];
}
export interface Pkcs11ProtectorConfig {
  type: 'pkcs11';
  /** Absolute path of the vendor's PKCS#11 library. */
  module: string;
  tokenLabel: string;
  pin: string;
  /** CKA_LABEL of the wrapping key this keyslot creates and uses. */
  keyLabel: string;
}

export type ProtectorConfig =
  | PassphraseProtectorConfig
  | KeyringProtectorConfig
  | Tpm2ProtectorConfig
  | Pkcs11ProtectorConfig;

// ---- Resident keys: what the core needs from a device that keeps signing keys (SPEC §5.5) ----

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
  /** ECDSA over a digest the caller computed (P-256 keys; SPEC §14.2): the raw r ‖ s signature. */
  signDigest(handleId: string, digest: Uint8Array): Promise<Uint8Array>;
  /** Deletes a key pair; false when it was already gone. */
  destroy(handleId: string): Promise<boolean>;
  /** Whether the session still works (after an EUNAVAIL: a missing key, or the device pulled?). */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

// ---- Rollback anchors (SPEC §4.2): configs and the two kinds of device; validated and opened in anchor.ts ----

export interface Tpm2AnchorConfig {
  type: 'tpm2';
  /** NV index of the counter, in the owner range 0x01800000–0x01BFFFFF (default 0x01800CF0). */
  nvIndex?: number;
  tcti?: string;
  name?: string;
  /** Seal writes without changes of their own at least this often (ms, default 60 000). */
  sealEveryMs?: number;
}
export interface Pkcs11AnchorConfig {
  type: 'pkcs11';
  module: string;
  tokenLabel: string;
  pin: string;
  /** CKA_LABEL of the data object. */
  label: string;
  name?: string;
  sealEveryMs?: number;
}
export interface KeyringAnchorConfig {
  type: 'keyring';
  service: string;
  account: string;
  name?: string;
  sealEveryMs?: number;
}
export interface FileAnchorConfig {
  type: 'file';
  /** Absolute path, on storage that whoever can write the store cannot write. */
  path: string;
  name?: string;
  sealEveryMs?: number;
}
export type AnchorConfig = Tpm2AnchorConfig | Pkcs11AnchorConfig | KeyringAnchorConfig | FileAnchorConfig;

export const DEFAULT_NV_INDEX = 0x01800cf0;
export const OWNER_NV_RANGE: readonly [number, number] = [0x01800000, 0x01bfffff];
export const DEFAULT_SEAL_EVERY_MS = 60_000;

/** A TPM NV counter: 'absent' (no such index), 'unwritten' (defined, never incremented) or its value. */
export interface CounterAnchor {
  readonly kind: 'counter';
  read(): Promise<number | 'absent' | 'unwritten'>;
  /** Defines the index (no-op when it already exists as a counter). */
  create(): Promise<void>;
  increment(): Promise<void>;
  close(): Promise<void>;
}

/** A place holding the anchor blob the core writes (SPEC §4.2), undefined when there is none. */
export interface BlobAnchor {
  readonly kind: 'blob';
  read(): Promise<Uint8Array | undefined>;
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export type AnchorDevice = CounterAnchor | BlobAnchor;

export function formatNvIndex(index: number): string {
  return `0x${index.toString(16).padStart(8, '0')}`;
}
