// Protector config objects — the one place they are typed (docs/protectors.md) — their validation, how a
// config is matched to stored keyslots, and the driver registry. Drivers other than the passphrase
// one are imported on first use, so a process that never touches a TPM or a token never loads
// pkcs11js or spawns tpm2-tools.
import { CofferError } from '../errors.js';
import { formatPcrSelection, parsePcrSelection, parseConfig as parseTpm2Config } from './tpm2/config.js';
import type {
  KeyringProtectorConfig,
  PassphraseProtectorConfig,
  Pkcs11ProtectorConfig,
  ProtectorConfig,
  ProtectorDriver,
  Tpm2ProtectorConfig,
} from './types.js';

export type {
  KeyringProtectorConfig,
  PassphraseProtectorConfig,
  Pkcs11ProtectorConfig,
  ProtectorConfig,
  Tpm2ProtectorConfig,
};

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
  if (type === 'pkcs11') {
    ['module', 'tokenLabel', 'keyLabel'].forEach(requireString);
    // An empty PIN is how a PIN-pad token (protected authentication path) is opened.
    if (typeof c.pin !== 'string') throw new CofferError('EINVAL', 'pkcs11 protector needs a string pin');
  }
  if (type === 'tpm2' && c.tcti !== undefined) requireString('tcti');
}

/**
 * Validates a config completely — the shape above plus the driver's own rules (passphrase policy,
 * KDF bounds, keyring names, TCTI and PCR syntax, token label sizes) — before any store is opened or
 * platform touched, so a bad config is EINVAL and never mistaken for a slot that fails to open.
 */
export async function validateProtectorConfig(config: unknown): Promise<ProtectorConfig> {
  assertProtectorConfig(config);
  let validate: (config: unknown) => unknown;
  switch (config.type) {
    case 'passphrase':
      validate = (await import('./passphrase.js')).validatePassphraseConfig;
      break;
    case 'keyring':
      validate = (await import('./keyring/index.js')).validateKeyringConfig;
      break;
    case 'tpm2':
      validate = parseTpm2Config;
      break;
    case 'pkcs11':
      validate = (await import('./pkcs11/index.js')).validatePkcs11Config;
      break;
  }
  validate(config);
  return config;
}

/** Canonical PCR selection string, null for none, or a marker that matches nothing when malformed. */
function canonicalPcrs(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  try {
    return formatPcrSelection(parsePcrSelection(value));
  } catch {
    return '\0malformed';
  }
}

/**
 * The config as stored in a slot record: everything but passphrases and PINs, with a PCR selection
 * in its canonical form (so `[7, 0]` and `'sha256:0,7'` name the same slot).
 */
export function publicConfig(config: ProtectorConfig): Record<string, unknown> {
  const out = Object.fromEntries(Object.entries(config).filter(([field]) => !SECRET_FIELDS.has(field)));
  if (config.type === 'tpm2' && config.pcrs !== undefined) out.pcrs = canonicalPcrs(config.pcrs);
  return out;
}

/**
 * Whether a stored slot was made for this config, by the fields that name its platform key: the
 * keyring entry (service, account), the token key (tokenLabel, keyLabel; the module path may move
 * with a vendor update), the PCR selection when one is given (the TCTI may change: tabrmd today,
 * /dev/tpmrm0 tomorrow). A passphrase config matches every passphrase slot: each is tried in turn.
 */
export function slotMatches(config: ProtectorConfig, stored: Record<string, unknown>): boolean {
  switch (config.type) {
    case 'passphrase':
      return true;
    case 'keyring':
      return stored.service === config.service && stored.account === config.account;
    case 'tpm2':
      return config.pcrs === undefined || canonicalPcrs(config.pcrs) === canonicalPcrs(stored.pcrs);
    case 'pkcs11':
      return stored.tokenLabel === config.tokenLabel && stored.keyLabel === config.keyLabel;
  }
}

/**
 * The config handed to the driver to open a slot. A tpm2 config without `pcrs` opens a PCR-bound slot
 * with the slot's own selection (the TPM enforces the policy either way). Nothing else is taken from
 * the slot record: it is not authenticated before unlock, and a TCTI or module path read from it
 * would let whoever can write the store choose what this process loads or runs.
 */
export function openConfig(config: ProtectorConfig, stored: Record<string, unknown>): ProtectorConfig {
  if (config.type === 'tpm2' && config.pcrs === undefined && typeof stored.pcrs === 'string') {
    return { ...config, pcrs: stored.pcrs };
  }
  return config;
}

/**
 * The config that lets a driver delete a removed slot's platform key, built from the slot's
 * authenticated record plus what only the caller knows (the token PIN): undefined when the
 * protector keeps nothing outside the record (passphrase, tpm2) or when a PIN is needed but unknown.
 */
export function destroyConfig(
  type: ProtectorType,
  stored: Record<string, unknown>,
  given: ProtectorConfig | undefined,
  token: { module: string; tokenLabel: string; pin: string } | undefined,
): ProtectorConfig | undefined {
  if (given !== undefined) return given;
  if (type === 'keyring' && typeof stored.service === 'string' && typeof stored.account === 'string') {
    return { type: 'keyring', service: stored.service, account: stored.account };
  }
  if (
    type === 'pkcs11' &&
    token !== undefined &&
    token.tokenLabel === stored.tokenLabel &&
    typeof stored.keyLabel === 'string'
  ) {
    return {
      type: 'pkcs11',
      module: token.module,
      tokenLabel: token.tokenLabel,
      pin: token.pin,
      keyLabel: stored.keyLabel,
    };
  }
  return undefined;
}

/** Whether the protector keeps a key outside the keyslot record that removing the slot should delete. */
export function holdsPlatformKey(type: ProtectorType): boolean {
  return type === 'keyring' || type === 'pkcs11';
}

// biome-ignore lint/suspicious/noExplicitAny: drivers are typed by their own config; the registry is keyed by type.
type AnyDriver = ProtectorDriver<any>;

export async function driverFor(type: ProtectorType): Promise<AnyDriver> {
  switch (type) {
    case 'passphrase':
      return (await import('./passphrase.js')).passphraseDriver;
    case 'keyring':
      return (await import('./keyring/index.js')).keyringDriver;
    case 'tpm2':
      return (await import('./tpm2/index.js')).tpm2Driver;
    case 'pkcs11':
      return (await import('./pkcs11/index.js')).pkcs11Driver;
  }
}
