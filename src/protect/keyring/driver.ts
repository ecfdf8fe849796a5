// The OS keyring protector (SPEC §5, SPEC §5 "keyring"): a random 32-byte wrapping key lives in the
// OS credential store under exactly the configured (service, account); the keyslot state holds only a
// key check value, so a deleted entry (ENOENT), a locked store (ELOCKED) and an entry replaced by
// someone else (EBADMSG) are told apart before any ciphertext is touched. Encryption is AES-256-GCM
// in this process: the key is read into memory, so the protector is honest about being exportable.
import { assertBytes, equalBytes, fromHex, toHex, utf8, wipe } from '../../crypto/bytes.js';
import { hmac } from '../../crypto/mac.js';
import { type Rng, systemRng } from '../../crypto/rng.js';
import { CofferError } from '../../errors.js';
import { InProcessAeadDevice } from '../aead-device.js';
import {
  assertProtectorContext,
  type DeviceKeystore,
  type ProtectorCapabilities,
  type ProtectorContext,
  type ProtectorDriver,
  type ProtectorState,
} from '../types.js';
import { KeyringEntry } from './backend.js';

/** The config object is a contract: outside checks look the entry up by exactly these two strings. */
export interface KeyringConfig {
  type: 'keyring';
  service: string;
  account: string;
}

/** What the keyslot record stores for this protector: nothing secret. */
export interface KeyringState extends ProtectorState {
  version: 1;
  algorithm: 'aes-256-gcm';
  /** hex(HMAC-SHA256(key, "coffer:keyring:kcv:v1")[0..16]): identifies the key, reveals nothing of it. */
  kcv: string;
}

const KEY_LENGTH = 32;
/** A keyslot wraps a 32-byte master key; 1 MiB leaves room for any future use and bounds memory. */
const MAX_PLAINTEXT = 1 << 20;
/** docs/errors.md: metadata strings are at most 256 bytes. */
const MAX_NAME_BYTES = 256;
const KCV_LABEL = utf8.encode('coffer:keyring:kcv:v1');
const KCV_LENGTH = 16;
const DEFAULT_TIMEOUT_MS = 120_000;

const CAPABILITIES: ProtectorCapabilities = Object.freeze({
  hardwareBacked: false, // the OS store is software; the key is decrypted into this process
  nonExportable: false, // any process of this user that the store trusts can read the entry
  persistent: true, // keyutils (lost at reboot) is refused, so the entry is on disk
  userPresence: false, // the store may prompt to unlock, but not for each use
});

function validateName(field: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new CofferError('EINVAL', `keyring ${field} must be a non-empty string`);
  }
  // Control characters (NUL above all) are cut or rejected differently by each OS store.
  if (/\p{Cc}/u.test(value))
    throw new CofferError('EINVAL', `keyring ${field} must not contain control characters`);
  if (utf8.encode(value).length > MAX_NAME_BYTES) {
    throw new CofferError('E2BIG', `keyring ${field} must be at most ${MAX_NAME_BYTES} UTF-8 bytes`);
  }
}

/** Checks a keyring config completely (names, lengths, unknown fields) without touching the store. */
export function validateKeyringConfig(config: unknown): asserts config is KeyringConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new CofferError('EINVAL', 'keyring config must be an object');
  }
  const c = config as Record<string, unknown>;
  if (c.type !== 'keyring') throw new CofferError('EINVAL', "keyring config type must be 'keyring'");
  for (const key of Object.keys(c)) {
    if (key !== 'type' && key !== 'service' && key !== 'account') {
      throw new CofferError('EINVAL', `keyring config has an unknown field ${JSON.stringify(key)}`);
    }
  }
  validateName('service', c.service);
  validateName('account', c.account);
}

function parseState(state: unknown): { kcv: Uint8Array } {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new CofferError('EINVAL', 'keyring state must be an object');
  }
  const s = state as Record<string, unknown>;
  if (s.version !== 1) throw new CofferError('EINVAL', 'keyring state version must be 1');
  if (s.algorithm !== 'aes-256-gcm')
    throw new CofferError('EINVAL', "keyring state algorithm must be 'aes-256-gcm'");
  if (typeof s.kcv !== 'string' || !/^[0-9a-f]{32}$/.test(s.kcv)) {
    throw new CofferError('EINVAL', 'keyring state kcv must be 32 lowercase hex digits');
  }
  return { kcv: fromHex(s.kcv) };
}

/** Key check value (SPEC §5): a PRF of a constant under the key, so it leaks nothing about the key. */
export function keyCheckValue(key: Uint8Array): Uint8Array {
  assertBytes('key', key, KEY_LENGTH);
  const full = hmac('sha256', key, KCV_LABEL);
  const kcv = full.slice(0, KCV_LENGTH);
  wipe(full);
  return kcv;
}

function entryName(config: KeyringConfig): string {
  return `keyring entry service=${JSON.stringify(config.service)} account=${JSON.stringify(config.account)}`;
}

function openDevice(key: Uint8Array, rng: Rng): DeviceKeystore {
  return new InProcessAeadDevice(key, {
    name: 'keyring',
    capabilities: CAPABILITIES,
    rng,
    maxPlaintext: MAX_PLAINTEXT,
  });
}

export interface KeyringDriverOptions {
  /**
   * Deadline for one OS store call, unlock prompts included (default 120 s). A daemon with no one
   * at the screen may want it short.
   */
  timeoutMs?: number;
  /** Source of keys and nonces; the OS CSPRNG unless deterministic test mode supplies its DRBG. */
  rng?: Rng;
}

/** Reads the entry and checks it is the key this slot was created with. */
async function readKey(entry: KeyringEntry, config: KeyringConfig, kcv: Uint8Array): Promise<Uint8Array> {
  const key = await entry.read();
  if (key === null) {
    throw new CofferError(
      'ENOENT',
      `no ${entryName(config)} in the OS keyring (deleted or never created): unlock through another keyslot, ` +
        'then remove this slot and add a new keyring slot',
    );
  }
  let check: Uint8Array | undefined;
  try {
    check = key.length === KEY_LENGTH ? keyCheckValue(key) : undefined;
    if (check === undefined || !equalBytes(check, kcv)) {
      throw new CofferError(
        'EBADMSG',
        `the ${entryName(config)} holds a different key than this keyslot was created with (replaced or ` +
          'overwritten): unlock through another keyslot',
      );
    }
  } catch (error) {
    wipe(key);
    throw error;
  } finally {
    wipe(check);
  }
  return key;
}

/** Builds the keyring driver; `keyringDriver` below is the default instance. */
export function createKeyringDriver(options: KeyringDriverOptions = {}): ProtectorDriver<KeyringConfig> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 3_600_000) {
    throw new CofferError('EINVAL', 'timeoutMs must be an integer from 100 to 3600000');
  }
  const rng = options.rng ?? systemRng;
  if (typeof rng !== 'object' || rng === null || typeof rng.randomBytes !== 'function') {
    throw new CofferError('EINVAL', 'rng must implement the Rng interface');
  }
  const bind = (config: KeyringConfig) => KeyringEntry.bind(config.service, config.account, { timeoutMs });

  return Object.freeze({
    type: 'keyring' as const,

    async create(config: KeyringConfig, context: ProtectorContext) {
      validateKeyringConfig(config);
      assertProtectorContext(context);
      const entry = await bind(config);
      // Another keystore's key may live under these names: never overwrite it.
      const existing = await entry.read();
      if (existing !== null) {
        wipe(existing);
        throw new CofferError(
          'EALREADY',
          `an ${entryName(config)} already exists in the OS keyring; choose another service/account ` +
            '(it may hold another keystore’s key, so Coffer will not overwrite it)',
        );
      }
      const key = rng.randomBytes(KEY_LENGTH);
      try {
        await entry.write(key);
        // Read back: proves the store kept it, and catches a concurrent writer between read and write.
        const stored = await entry.read();
        const same = stored !== null && equalBytes(stored, key);
        wipe(stored ?? undefined);
        if (!same) {
          throw new CofferError(
            'ECONFLICT',
            `the ${entryName(config)} changed while it was being created (another writer?); nothing was deleted`,
          );
        }
        const kcv = keyCheckValue(key);
        const state: KeyringState = { version: 1, algorithm: 'aes-256-gcm', kcv: toHex(kcv) };
        return { device: openDevice(key, rng), state };
      } catch (error) {
        wipe(key);
        throw error;
      }
    },

    async open(config: KeyringConfig, state: ProtectorState, context: ProtectorContext) {
      validateKeyringConfig(config);
      const { kcv } = parseState(state);
      assertProtectorContext(context);
      const entry = await bind(config);
      return openDevice(await readKey(entry, config, kcv), rng);
    },

    async destroy(config: KeyringConfig, state: ProtectorState, context: ProtectorContext) {
      validateKeyringConfig(config);
      const { kcv } = parseState(state);
      assertProtectorContext(context);
      const entry = await bind(config);
      let key: Uint8Array;
      try {
        key = await readKey(entry, config, kcv);
      } catch (error) {
        // Already gone is the goal of destroy; a different key is someone else's to keep.
        if (error instanceof CofferError && error.code === 'ENOENT') return;
        if (error instanceof CofferError && error.code === 'EBADMSG') {
          throw new CofferError(
            'EPERM',
            `refusing to delete the ${entryName(config)}: it holds a key this keyslot did not create`,
            { cause: error },
          );
        }
        throw error;
      }
      wipe(key);
      await entry.remove();
    },
  });
}

export const keyringDriver: ProtectorDriver<KeyringConfig> = createKeyringDriver();
