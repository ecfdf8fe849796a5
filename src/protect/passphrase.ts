// Passphrase protector (SPEC §5): the keyslot's wrapping key is derived from a passphrase with a
// memory-hard KDF (Argon2id by default) over a fresh 32-byte random salt, held only inside the device
// for its lifetime and wiped on close. Device ciphertext (SPEC "passphrase keyslot"):
//   nonce (12 random bytes) ‖ AES-256-GCM ciphertext ‖ tag (16), with the caller's AAD bound.
// The keyslot record stores { v: 1, kdf, salt } — no verifier: a wrong passphrase shows up only as a
// failed decrypt (EBADMSG, which the keystore reports as ELOCKED), so the record gives an attacker
// nothing beyond what the wrapped key itself already offers for offline guessing.
import { fromHex, toHex } from '../crypto/bytes.js';
import {
  assertPassphrase,
  DEFAULT_PASSPHRASE_KDF,
  derivePassphraseKeyAsync,
  PASSPHRASE_KDF_LIMITS,
  type PassphraseKdfParams,
  parsePassphraseKdfParams,
} from '../crypto/passphrase-kdf.js';
import { type Rng, systemRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { isPlainObject } from '../plain-object.js';
import { InProcessAeadDevice } from './aead-device.js';
import {
  assertProtectorContext,
  type DeviceKeystore,
  type PassphraseProtectorConfig,
  type ProtectorCapabilities,
  type ProtectorDriver,
  type ProtectorState,
} from './types.js';

export type { PassphraseProtectorConfig };

/** What the keyslot record keeps (JSON-safe, not secret). */
export type PassphraseState = {
  v: 1;
  kdf: PassphraseKdfParams;
  /** Lowercase hex, 16–64 bytes (32 when written by this driver). */
  salt: string;
};

const PASSPHRASE_STATE_VERSION = 1;
const PASSPHRASE_SALT_LENGTH = 32;
const KEY_LENGTH = 32;

/**
 * Truthful (SPEC §5): the key is derived in this process, so it is neither hardware-backed nor
 * non-exportable; the passphrase and the record survive a reboot; typing the passphrase happens at
 * open, not per use, so there is no per-operation user presence.
 */
const CAPABILITIES: Readonly<ProtectorCapabilities> = Object.freeze({
  hardwareBacked: false,
  nonExportable: false,
  persistent: true,
  userPresence: false,
});

function onlyKeys(what: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new CofferError('EINVAL', `${what}: unknown field "${key}"`);
  }
}

/** Validates a protector config: `{ type: 'passphrase', passphrase, kdf? }` and nothing else. */
function parseConfig(config: unknown): { passphrase: string; kdf: PassphraseKdfParams } {
  if (!isPlainObject(config))
    throw new CofferError('EINVAL', 'passphrase protector config must be an object');
  onlyKeys('passphrase protector config', config, ['type', 'passphrase', 'kdf']);
  if (config.type !== 'passphrase')
    throw new CofferError('EINVAL', 'protector config type must be "passphrase"');
  if (typeof config.passphrase !== 'string') throw new CofferError('EINVAL', 'passphrase must be a string');
  assertPassphrase(config.passphrase);
  const kdf = parsePassphraseKdfParams(config.kdf === undefined ? DEFAULT_PASSPHRASE_KDF : config.kdf);
  return { passphrase: config.passphrase, kdf };
}

/** Checks a passphrase config completely (passphrase policy, KDF bounds) without deriving anything. */
export function validatePassphraseConfig(config: unknown): void {
  parseConfig(config);
}

const HEX = /^(?:[0-9a-f]{2})+$/;

/**
 * Validates state read back from a keyslot record. Everything is checked — version, exact fields,
 * KDF parameters within the floors and ceilings, salt encoding and size — because a tampered record
 * must be refused (EINVAL), not trusted into a weak or ruinously expensive derivation.
 */
export function parsePassphraseState(state: unknown): { kdf: PassphraseKdfParams; salt: Uint8Array } {
  if (!isPlainObject(state)) throw new CofferError('EINVAL', 'passphrase keyslot state must be an object');
  onlyKeys('passphrase keyslot state', state, ['v', 'kdf', 'salt']);
  if (state.v !== PASSPHRASE_STATE_VERSION) {
    throw new CofferError('EINVAL', `passphrase keyslot state version must be ${PASSPHRASE_STATE_VERSION}`);
  }
  const kdf = parsePassphraseKdfParams(state.kdf);
  const { min, max } = PASSPHRASE_KDF_LIMITS.saltBytes;
  const salt = state.salt;
  if (typeof salt !== 'string' || !HEX.test(salt) || salt.length < 2 * min || salt.length > 2 * max) {
    throw new CofferError('EINVAL', `passphrase keyslot salt must be ${min}–${max} bytes of lowercase hex`);
  }
  return { kdf, salt: fromHex(salt) };
}

function openDevice(key: Uint8Array, rng: Rng): DeviceKeystore {
  // A wrong passphrase gives a different key, so it shows up at decrypt as EBADMSG.
  return new InProcessAeadDevice(key, { name: 'passphrase', capabilities: CAPABILITIES, rng });
}

/**
 * Builds the passphrase driver. `rng` supplies salts and nonces: the OS CSPRNG by default; the
 * keystore passes its seeded DRBG only in explicit insecure deterministic test mode (SPEC §2).
 */
export function createPassphraseProtector(
  options: { rng?: Rng } = {},
): ProtectorDriver<PassphraseProtectorConfig> {
  const rng = options.rng ?? systemRng;
  return Object.freeze({
    type: 'passphrase' as const,

    async create(config: PassphraseProtectorConfig, context: unknown) {
      const { passphrase, kdf } = parseConfig(config);
      assertProtectorContext(context);
      // Every create — a new slot or a rewrap — draws a fresh salt, so no two slots share a key.
      const salt = rng.randomBytes(PASSPHRASE_SALT_LENGTH);
      const key = await derivePassphraseKeyAsync(kdf, passphrase, salt, KEY_LENGTH);
      const state: PassphraseState = { v: PASSPHRASE_STATE_VERSION, kdf: { ...kdf }, salt: toHex(salt) };
      return { device: openDevice(key, rng), state: state as ProtectorState };
    },

    async open(config: PassphraseProtectorConfig, state: ProtectorState, context: unknown) {
      const { passphrase } = parseConfig(config);
      assertProtectorContext(context);
      const parsed = parsePassphraseState(state);
      const key = await derivePassphraseKeyAsync(parsed.kdf, passphrase, parsed.salt, KEY_LENGTH);
      return openDevice(key, rng);
    },
    // No destroy: nothing is held outside the keyslot record, so removing the record removes the slot.
  });
}

/** The driver with the OS CSPRNG. */
export const passphraseDriver: ProtectorDriver<PassphraseProtectorConfig> = createPassphraseProtector();
