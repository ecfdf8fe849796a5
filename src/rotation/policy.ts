// Rotation policy defaults and the effective policy of a key (SPEC §13.1). Defaults follow the cryptoperiods of NIST SP 800-57 Part 1 Rev. 5
// §5.3.6 (Table 1); a key's own `rotation` fields override them one by one. Pure functions only: the
// scheduler decides *when* from these numbers.

import { KEY_ALGORITHMS, type KeyAlgorithm, type KeyInfo, type RotationPolicy } from '../core/types.js';
import { CofferError } from '../errors.js';

export const DAY_MS = 86_400_000;
export const YEAR_MS = 365 * DAY_MS;

/** The fully resolved policy the scheduler works with. */
export interface EffectivePolicy {
  intervalMs: number;
  advanceWarningMs: number;
  gracePeriodMs: number;
  /** undefined: no use limit. */
  maxUses?: number;
  requireConfirmation: boolean;
  /** Which fields came from the key's own policy (the rest are defaults). */
  overridden: (keyof RotationPolicy)[];
}

interface AlgorithmDefaults {
  intervalMs: number;
  gracePeriodMs: number;
  maxUses?: number;
  /** SP 800-57 key type the numbers come from, for the SPEC table and error messages. */
  keyType: string;
}

/** Default advance warning: 30 days, but never more than a tenth of the interval. */
export const DEFAULT_ADVANCE_WARNING_MS = 30 * DAY_MS;
export const ADVANCE_WARNING_FRACTION = 0.1;

/**
 * SP 800-38D §8.3: with random 96-bit nonces one AES-GCM key must not be used for more than 2^32
 * encryptions. Half of it leaves room for counts not yet flushed and for uses between two ticks.
 */
export const AES_GCM_MAX_USES = 2 ** 31;

const SIGNATURE: AlgorithmDefaults = {
  // Private signature key: cryptoperiod 1–3 years (Table 1); we take the short end. The public
  // verification key lives "several years", so old versions keep verifying for two more years.
  intervalMs: YEAR_MS,
  gracePeriodMs: 2 * YEAR_MS,
  keyType: 'private signature key (1–3 y); public signature-verification key (several years)',
};

const SYMMETRIC_ENCRYPTION: Omit<AlgorithmDefaults, 'maxUses'> = {
  // Symmetric data-encryption / key-wrapping key: OUP ≤ 2 years, RUP ≤ OUP + 3 years.
  intervalMs: 2 * YEAR_MS,
  gracePeriodMs: 3 * YEAR_MS,
  keyType: 'symmetric data-encryption / key-wrapping key (OUP ≤ 2 y, RUP ≤ OUP + 3 y)',
};

export const ALGORITHM_DEFAULTS: Readonly<Record<KeyAlgorithm, AlgorithmDefaults>> = {
  ed25519: SIGNATURE,
  'ecdsa-p256': SIGNATURE,
  secp256k1: SIGNATURE,
  'ml-dsa-65': SIGNATURE,
  'aes-256-gcm': { ...SYMMETRIC_ENCRYPTION, maxUses: AES_GCM_MAX_USES },
  // 192-bit random nonces: no practical per-key message limit, so no default use bound.
  'xchacha20-poly1305': SYMMETRIC_ENCRYPTION,
  'hmac-sha256': {
    // Symmetric authentication key: OUP ≤ 2 years, RUP ≤ OUP + 3 years.
    intervalMs: 2 * YEAR_MS,
    gracePeriodMs: 3 * YEAR_MS,
    keyType: 'symmetric authentication key (OUP ≤ 2 y, RUP ≤ OUP + 3 y)',
  },
  'x-wing': {
    // Key-transport / static key-agreement key pair: public key 1–2 years, private key ≤ 2 years.
    // Senders stop encapsulating to the old public key after one year; the private key then
    // decapsulates for one more year (2 years in all).
    intervalMs: YEAR_MS,
    gracePeriodMs: YEAR_MS,
    keyType: 'key-transport / key-agreement key pair (public 1–2 y, private ≤ 2 y)',
  },
};

/** The key's policy with every field resolved (key's own fields first, then the table above). */
export function effectivePolicy(key: Pick<KeyInfo, 'algorithm' | 'rotation'>): EffectivePolicy {
  if (typeof key !== 'object' || key === null) throw new CofferError('EINVAL', 'key must be an object');
  if (!(KEY_ALGORITHMS as readonly string[]).includes(key.algorithm)) {
    throw new CofferError('EINVAL', `unknown algorithm; one of ${KEY_ALGORITHMS.join(', ')}`);
  }
  const own: RotationPolicy = key.rotation ?? {};
  const defaults = ALGORITHM_DEFAULTS[key.algorithm];
  const intervalMs = own.intervalMs ?? defaults.intervalMs;
  const advanceWarningMs =
    own.advanceWarningMs ??
    Math.min(DEFAULT_ADVANCE_WARNING_MS, Math.floor(intervalMs * ADVANCE_WARNING_FRACTION));
  const maxUses = own.maxUses ?? defaults.maxUses;
  const overridden = (Object.keys(own) as (keyof RotationPolicy)[]).filter((k) => own[k] !== undefined);
  return {
    intervalMs,
    advanceWarningMs,
    gracePeriodMs: own.gracePeriodMs ?? defaults.gracePeriodMs,
    ...(maxUses !== undefined ? { maxUses } : {}),
    requireConfirmation: own.requireConfirmation ?? false,
    overridden,
  };
}

/** When the key's primary version is due for rotation by time (its createdAt plus the interval). */
export function dueAt(key: KeyInfo, policy: EffectivePolicy): number {
  const primary = key.versions.find((v) => v.version === key.primaryVersion);
  if (!primary) throw new CofferError('EINTERNAL', `key ${key.id} has no primary version record`);
  return primary.createdAt + policy.intervalMs;
}

/** When the advance warning for the current primary is due; undefined when warnings are off. */
export function warnAt(key: KeyInfo, policy: EffectivePolicy): number | undefined {
  if (policy.advanceWarningMs <= 0) return undefined;
  return dueAt(key, policy) - policy.advanceWarningMs;
}

/**
 * When a superseded version stops processing: the keystore's own `graceEndsAt` when it stamped one
 * (the key had an explicit gracePeriodMs at rotation), else deactivation plus the effective grace.
 * Undefined for versions never deactivated (primary, pre-active) and for compromised or destroyed ones,
 * which already refuse every operation.
 */
export function graceEnd(version: KeyInfo['versions'][number], policy: EffectivePolicy): number | undefined {
  if (version.state !== 'deactivated') return undefined;
  if (version.graceEndsAt !== undefined) return version.graceEndsAt;
  if (version.deactivatedAt === undefined) return undefined;
  return version.deactivatedAt + policy.gracePeriodMs;
}
