// Protector config objects (a contract: DESIGN §5 and the protectors issue) and the driver registry.
// Drivers other than the passphrase one are imported on first use, so a process that never touches a
// TPM or a token never loads pkcs11js or spawns tpm2-tools.
import { CofferError } from '../errors.js';
import type { ProtectorDriver } from '../protect/types.js';

export interface PassphraseProtectorConfig {
  type: 'passphrase';
  passphrase: string;
  /** Passphrase KDF parameters for a new slot (default Argon2id at the library default). */
  kdf?: Record<string, unknown>;
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
  module: string;
  tokenLabel: string;
  pin: string;
  keyLabel: string;
}

export type ProtectorConfig =
  | PassphraseProtectorConfig
  | KeyringProtectorConfig
  | Tpm2ProtectorConfig
  | Pkcs11ProtectorConfig;
export type ProtectorType = ProtectorConfig['type'];
export const PROTECTOR_TYPES: readonly ProtectorType[] = ['passphrase', 'keyring', 'tpm2', 'pkcs11'];

/** Fields never written to a keyslot record. */
const SECRET_FIELDS = new Set(['passphrase', 'pin']);

export function assertProtectorConfig(config: unknown): asserts config is ProtectorConfig {
  if (typeof config !== 'object' || config === null)
    throw new CofferError('EINVAL', 'protector must be an object');
  const type = (config as { type?: unknown }).type;
  if (typeof type !== 'string' || !(PROTECTOR_TYPES as readonly string[]).includes(type)) {
    throw new CofferError('EINVAL', `protector type must be one of ${PROTECTOR_TYPES.join(', ')}`);
  }
  const c = config as Record<string, unknown>;
  const requireString = (field: string) => {
    if (typeof c[field] !== 'string' || (c[field] as string).length === 0) {
      throw new CofferError('EINVAL', `${type} protector needs a non-empty string ${field}`);
    }
  };
  if (type === 'passphrase') requireString('passphrase');
  if (type === 'keyring') ['service', 'account'].forEach(requireString);
  if (type === 'pkcs11') ['module', 'tokenLabel', 'pin', 'keyLabel'].forEach(requireString);
  if (type === 'tpm2' && c.tcti !== undefined) requireString('tcti');
}

/** The config as stored in a slot record: everything but passphrases and PINs. */
export function publicConfig(config: ProtectorConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([field]) => !SECRET_FIELDS.has(field)));
}

/** Whether a stored slot was made for this config (same keyring entry, same token key, …). */
export function slotMatches(config: ProtectorConfig, stored: Record<string, unknown>): boolean {
  for (const [field, value] of Object.entries(publicConfig(config))) {
    // The type is matched on the slot itself; KDF params of a new slot say nothing about which slot
    // to open. A passphrase config thus matches every passphrase slot: each is tried in turn.
    if (field === 'kdf' || field === 'type') continue;
    if (JSON.stringify(stored[field]) !== JSON.stringify(value)) return false;
  }
  return true;
}

// biome-ignore lint/suspicious/noExplicitAny: drivers are typed by their own config; the registry is keyed by type.
type AnyDriver = ProtectorDriver<any>;

export async function driverFor(type: ProtectorType): Promise<AnyDriver> {
  switch (type) {
    case 'passphrase':
      return (await import('../protect/passphrase.js')).passphraseDriver;
    case 'keyring':
      return (await import('../protect/keyring/index.js')).keyringDriver;
    case 'tpm2':
      return (await import('../protect/tpm2/index.js')).tpm2Driver;
    case 'pkcs11':
      return (await import('../protect/pkcs11/index.js')).pkcs11Driver;
  }
}
