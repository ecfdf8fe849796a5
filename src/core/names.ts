// Validation of caller-supplied names and metadata (SPEC §2, docs/errors.md): every bad input is EINVAL or
// E2BIG before anything is read or written.
import { CofferError } from '../errors.js';
import {
  ALGORITHM_USES,
  type CreateKeySpec,
  KEY_ALGORITHMS,
  type KeyAlgorithm,
  type KeyUse,
  LIMITS,
  type RotationPolicy,
} from './types.js';

/** App, purpose and label-key names: the one definition the daemon's schema and the CLI reuse. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Key ids (SPEC §2): `k_` and 26 lowercase base32 characters. */
export const KEY_ID_PATTERN = /^k_[a-z2-7]{26}$/;
const NAME = NAME_PATTERN;
const KEY_ID = KEY_ID_PATTERN;

export function assertName(kind: 'app' | 'purpose' | 'label key', value: unknown): asserts value is string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new CofferError('EINVAL', `${kind} must match [a-z0-9][a-z0-9._-]{0,63}`);
  }
}

export function assertKeyId(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !KEY_ID.test(value)) {
    throw new CofferError('EINVAL', 'key id must look like k_ followed by 26 base32 characters');
  }
}

export function assertMetadataString(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new CofferError('EINVAL', `${name} must be a string`);
  if (Buffer.byteLength(value, 'utf8') > LIMITS.metadataStringBytes) {
    throw new CofferError('E2BIG', `${name} is longer than ${LIMITS.metadataStringBytes} bytes`);
  }
}

export function assertAlgorithm(value: unknown): asserts value is KeyAlgorithm {
  if (typeof value !== 'string' || !(KEY_ALGORITHMS as readonly string[]).includes(value)) {
    throw new CofferError('EINVAL', `unknown algorithm; one of ${KEY_ALGORITHMS.join(', ')}`);
  }
}

function assertDuration(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new CofferError('EINVAL', `rotation.${name} must be a positive integer`);
  }
}

export function validateRotationPolicy(policy: unknown): RotationPolicy | undefined {
  if (policy === undefined) return undefined;
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
    throw new CofferError('EINVAL', 'rotation must be an object');
  }
  const p = policy as Record<string, unknown>;
  const known = ['intervalMs', 'advanceWarningMs', 'gracePeriodMs', 'maxUses', 'requireConfirmation'];
  for (const field of Object.keys(p)) {
    if (!known.includes(field)) throw new CofferError('EINVAL', `unknown rotation field ${field}`);
  }
  assertDuration('intervalMs', p.intervalMs);
  assertDuration('advanceWarningMs', p.advanceWarningMs);
  assertDuration('gracePeriodMs', p.gracePeriodMs);
  assertDuration('maxUses', p.maxUses);
  if (p.requireConfirmation !== undefined && typeof p.requireConfirmation !== 'boolean') {
    throw new CofferError('EINVAL', 'rotation.requireConfirmation must be a boolean');
  }
  return { ...(p as RotationPolicy) };
}

/** Validates a createKey spec completely and returns it normalised (default uses filled in). */
export function validateCreateSpec(
  spec: unknown,
): Required<Pick<CreateKeySpec, 'app' | 'purpose' | 'algorithm' | 'uses' | 'labels'>> & CreateKeySpec {
  if (typeof spec !== 'object' || spec === null)
    throw new CofferError('EINVAL', 'key spec must be an object');
  const s = spec as Record<string, unknown>;
  const known = [
    'app',
    'purpose',
    'algorithm',
    'uses',
    'labels',
    'rotation',
    'preActive',
    'activatesAt',
    'backupAllowed',
    'syncable',
    'residency',
  ];
  for (const field of Object.keys(s)) {
    if (!known.includes(field)) throw new CofferError('EINVAL', `unknown key spec field ${field}`);
  }
  assertName('app', s.app);
  assertName('purpose', s.purpose);
  assertAlgorithm(s.algorithm);
  const allowed = ALGORITHM_USES[s.algorithm];
  let uses: KeyUse[];
  if (s.uses === undefined) {
    uses = [...allowed];
  } else {
    if (!Array.isArray(s.uses) || s.uses.length === 0)
      throw new CofferError('EINVAL', 'uses must be a non-empty array');
    for (const use of s.uses) {
      if (!allowed.includes(use as KeyUse)) {
        throw new CofferError(
          'EINVAL',
          `use ${String(use)} is not possible with ${s.algorithm} (${allowed.join(', ')})`,
        );
      }
    }
    uses = [...new Set(s.uses as KeyUse[])];
  }
  const labels: Record<string, string> = {};
  if (s.labels !== undefined) {
    if (typeof s.labels !== 'object' || s.labels === null || Array.isArray(s.labels)) {
      throw new CofferError('EINVAL', 'labels must be an object of strings');
    }
    const entries = Object.entries(s.labels as Record<string, unknown>);
    if (entries.length > LIMITS.labelsPerKey)
      throw new CofferError('E2BIG', `at most ${LIMITS.labelsPerKey} labels per key`);
    for (const [key, value] of entries) {
      assertName('label key', key);
      assertMetadataString(`label ${key}`, value);
      labels[key] = value;
    }
  }
  if (s.preActive !== undefined && typeof s.preActive !== 'boolean') {
    throw new CofferError('EINVAL', 'preActive must be a boolean');
  }
  if (
    s.activatesAt !== undefined &&
    (typeof s.activatesAt !== 'number' || !Number.isSafeInteger(s.activatesAt))
  ) {
    throw new CofferError('EINVAL', 'activatesAt must be a time in milliseconds');
  }
  if (s.backupAllowed !== undefined && typeof s.backupAllowed !== 'boolean') {
    throw new CofferError('EINVAL', 'backupAllowed must be a boolean');
  }
  if (s.syncable !== undefined && typeof s.syncable !== 'boolean') {
    throw new CofferError('EINVAL', 'syncable must be a boolean');
  }
  if (s.syncable === true && s.residency !== undefined) {
    throw new CofferError(
      'EINVAL',
      'an HSM-resident key cannot be syncable: its private half never leaves the token',
    );
  }
  if (s.residency !== undefined) {
    if (s.residency !== 'pkcs11') throw new CofferError('EINVAL', "residency must be 'pkcs11'");
    if (s.algorithm !== 'ed25519' && s.algorithm !== 'ecdsa-p256') {
      throw new CofferError(
        'EINVAL',
        `HSM-resident keys are ed25519 or ecdsa-p256 (PKCS#11 tokens sign those), not ${s.algorithm}`,
      );
    }
  }
  const rotation = validateRotationPolicy(s.rotation);
  return {
    app: s.app,
    purpose: s.purpose,
    algorithm: s.algorithm,
    uses,
    labels,
    ...(rotation ? { rotation } : {}),
    ...(s.preActive || s.activatesAt !== undefined ? { preActive: true } : {}),
    ...(s.activatesAt !== undefined ? { activatesAt: s.activatesAt as number } : {}),
    ...(s.backupAllowed === false ? { backupAllowed: false } : {}),
    ...(s.residency === 'pkcs11' ? { residency: 'pkcs11' as const } : {}),
    ...(s.syncable === true ? { syncable: true } : {}),
  };
}
