// Key and version state rules (DESIGN §3, NIST SP 800-57 Part 1 §7; SPEC §2) as pure functions on
// KeyInfo: which version an operation may use, and which transitions are allowed. The Keystore
// applies a transition to a copy and persists it with compare-and-swap (OpenBao's "change in memory
// then persist" policy pattern), so a failed write leaves nothing half-changed.
import { CofferError } from '../errors.js';
import {
  type KeyInfo,
  type KeyState,
  type KeyUse,
  LIMITS,
  type Transition,
  type VersionInfo,
} from './types.js';

/** The key as it is at `now`: a pre-active key whose activation time has come reads as active. */
export function effectiveKey(info: KeyInfo, now: number): KeyInfo {
  if (info.state === 'pre-active' && info.activatesAt !== undefined && info.activatesAt <= now) {
    return {
      ...info,
      state: 'active',
      versions: info.versions.map((v) => (v.state === 'pre-active' ? { ...v, state: 'active' } : v)),
    };
  }
  return info;
}

function requireUse(info: KeyInfo, use: KeyUse): void {
  if (!info.uses.includes(use)) {
    throw new CofferError('EPERM', `key ${info.id} does not allow ${use} (allowed: ${info.uses.join(', ')})`);
  }
}

/** "key k_… is compromised" / "version 2 of key k_… is destroyed", and what is refused. */
function revokedError(info: KeyInfo, version: number | undefined, state: KeyState, use: KeyUse): CofferError {
  const what = version === undefined ? `key ${info.id}` : `version ${version} of key ${info.id}`;
  return new CofferError('EKEYREVOKED', `${what} is ${state}: ${use} is refused`);
}

/** Version used by a protect operation (sign, seal, encapsulate, mac, data key): the primary. */
export function protectVersion(info: KeyInfo, use: KeyUse, now: number): VersionInfo {
  const key = effectiveKey(info, now);
  requireUse(key, use);
  if (key.state === 'compromised' || key.state === 'destroyed')
    throw revokedError(key, undefined, key.state, use);
  if (key.state !== 'active') {
    throw new CofferError('ESTATE', `key ${key.id} is ${key.state}: ${use} needs an active key`);
  }
  const primary = key.versions.find((v) => v.version === key.primaryVersion);
  if (!primary) throw new CofferError('EINTERNAL', `key ${key.id} has no primary version record`);
  if (primary.state === 'compromised' || primary.state === 'destroyed') {
    throw revokedError(key, primary.version, primary.state, use);
  }
  if (primary.state !== 'active') {
    throw new CofferError(
      'ESTATE',
      `primary version ${primary.version} of key ${key.id} is ${primary.state}`,
    );
  }
  return primary;
}

/** Version used by a process operation (verify, unseal, decapsulate): the named one. */
export function processVersion(info: KeyInfo, use: KeyUse, version: number, now: number): VersionInfo {
  const key = effectiveKey(info, now);
  requireUse(key, use);
  if (key.state === 'compromised' || key.state === 'destroyed')
    throw revokedError(key, undefined, key.state, use);
  if (key.state === 'pre-active') throw new CofferError('ESTATE', `key ${key.id} is pre-active`);
  const found = key.versions.find((v) => v.version === version);
  if (!found) throw new CofferError('ENOENT', `key ${key.id} has no version ${version}`);
  if (found.state === 'compromised' || found.state === 'destroyed') {
    throw revokedError(key, version, found.state, use);
  }
  if (found.state === 'pre-active')
    throw new CofferError('ESTATE', `version ${version} of key ${key.id} is pre-active`);
  if (version < key.minDecryptionVersion) {
    throw new CofferError(
      'EKEYEXPIRED',
      `version ${version} of key ${key.id} is below its minimum decryption version ${key.minDecryptionVersion}`,
    );
  }
  if (found.graceEndsAt !== undefined && now >= found.graceEndsAt) {
    throw new CofferError('EKEYEXPIRED', `the grace period of version ${version} of key ${key.id} has ended`);
  }
  return found;
}

/** Versions a process operation may try, newest first (for verify without a version). */
export function processCandidates(info: KeyInfo, use: KeyUse, now: number): VersionInfo[] {
  const out: VersionInfo[] = [];
  let firstError: unknown;
  for (const v of [...info.versions].sort((a, b) => b.version - a.version)) {
    try {
      out.push(processVersion(info, use, v.version, now));
    } catch (error) {
      firstError ??= error;
    }
  }
  if (out.length === 0) throw firstError ?? new CofferError('ENOENT', `key ${info.id} has no versions`);
  return out;
}

/** The versions a process operation tries: the named one, or every usable one newest first. */
export function versionsToTry(
  info: KeyInfo,
  use: KeyUse,
  version: number | undefined,
  now: number,
): VersionInfo[] {
  return version === undefined
    ? processCandidates(info, use, now)
    : [processVersion(info, use, version, now)];
}

/**
 * Versions whose public key may answer a public verification (SPEC §2 "Public verification"), newest
 * first, or the named one: like a process operation, except that compromised and destroyed keys and
 * versions are not refused — the caller gets their state with the answer. Pre-active keys and
 * versions (nothing was ever signed with them), versions below minDecryptionVersion and past their
 * grace end are refused as for every process operation.
 */
export function publicVerifyVersions(info: KeyInfo, version: number | undefined, now: number): VersionInfo[] {
  const key = effectiveKey(info, now);
  requireUse(key, 'verify');
  if (key.state === 'pre-active') throw new CofferError('ESTATE', `key ${key.id} is pre-active`);
  const check = (v: VersionInfo): VersionInfo => {
    if (v.state === 'pre-active')
      throw new CofferError('ESTATE', `version ${v.version} of key ${key.id} is pre-active`);
    if (v.version < key.minDecryptionVersion) {
      throw new CofferError(
        'EKEYEXPIRED',
        `version ${v.version} of key ${key.id} is below its minimum decryption version ${key.minDecryptionVersion}`,
      );
    }
    if (v.graceEndsAt !== undefined && now >= v.graceEndsAt) {
      throw new CofferError(
        'EKEYEXPIRED',
        `the grace period of version ${v.version} of key ${key.id} has ended`,
      );
    }
    return v;
  };
  if (version !== undefined) {
    const found = key.versions.find((v) => v.version === version);
    if (!found) throw new CofferError('ENOENT', `key ${key.id} has no version ${version}`);
    return [check(found)];
  }
  const out: VersionInfo[] = [];
  let firstError: unknown;
  for (const v of [...key.versions].sort((a, b) => b.version - a.version)) {
    try {
      out.push(check(v));
    } catch (error) {
      firstError ??= error;
    }
  }
  if (out.length === 0) throw firstError ?? new CofferError('ENOENT', `key ${key.id} has no versions`);
  return out;
}

function withHistory(info: KeyInfo, transition: Transition): KeyInfo {
  const history = [...info.history, transition];
  return { ...info, updatedAt: transition.at, history: history.slice(-LIMITS.historyEntries) };
}

export interface Actor {
  actor: string;
  now: number;
}

type KeyAction = 'activate' | 'suspend' | 'resume' | 'revoke' | 'destroy';

const ACTION_TARGET: Record<KeyAction, KeyState> = {
  activate: 'active',
  suspend: 'suspended',
  resume: 'active',
  revoke: 'compromised',
  destroy: 'destroyed',
};

/** Which key states each action may start from. */
const ACTION_FROM: Record<KeyAction, readonly KeyState[]> = {
  activate: ['pre-active'],
  suspend: ['active'],
  resume: ['suspended'],
  revoke: ['pre-active', 'active', 'suspended', 'deactivated'],
  destroy: ['pre-active', 'active', 'suspended', 'deactivated', 'compromised'],
};

/** Applies a key-level state change; versions follow for revoke and destroy. */
export function applyKeyAction(info: KeyInfo, action: KeyAction, who: Actor, reason?: string): KeyInfo {
  const key = effectiveKey(info, who.now);
  const to = ACTION_TARGET[action];
  if (key.state === to) throw new CofferError('EALREADY', `key ${key.id} is already ${to}`);
  if (!ACTION_FROM[action].includes(key.state)) {
    const code = key.state === 'compromised' || key.state === 'destroyed' ? 'EKEYREVOKED' : 'ESTATE';
    throw new CofferError(code, `cannot ${action} key ${key.id}: it is ${key.state}`);
  }
  const at = who.now;
  let versions = key.versions;
  if (action === 'revoke') {
    versions = versions.map((v) =>
      v.state === 'destroyed' || v.state === 'compromised'
        ? v
        : { ...v, state: 'compromised', compromisedAt: at },
    );
  } else if (action === 'destroy') {
    versions = versions.map((v) =>
      v.state === 'destroyed' ? v : { ...v, state: 'destroyed', destroyedAt: at },
    );
  } else if (action === 'activate') {
    versions = versions.map((v) => (v.state === 'pre-active' ? { ...v, state: 'active' } : v));
  }
  const next: KeyInfo = { ...key, state: to, versions };
  if (action === 'activate') delete next.activatesAt;
  return withHistory(next, { at, actor: who.actor, from: info.state, to, ...(reason ? { reason } : {}) });
}

/** Applies a version-level revoke or destroy (the key stays as it is). */
export function applyVersionAction(
  info: KeyInfo,
  action: 'revoke' | 'destroy',
  version: number,
  who: Actor,
  reason?: string,
): KeyInfo {
  const found = info.versions.find((v) => v.version === version);
  if (!found) throw new CofferError('ENOENT', `key ${info.id} has no version ${version}`);
  const to: KeyState = action === 'revoke' ? 'compromised' : 'destroyed';
  if (found.state === to)
    throw new CofferError('EALREADY', `version ${version} of key ${info.id} is already ${to}`);
  if (action === 'revoke' && found.state === 'destroyed') {
    throw new CofferError('EKEYREVOKED', `version ${version} of key ${info.id} is destroyed`);
  }
  const at = who.now;
  const versions = info.versions.map((v) =>
    v.version !== version
      ? v
      : action === 'revoke'
        ? { ...v, state: to, compromisedAt: at }
        : { ...v, state: to, destroyedAt: at },
  );
  return withHistory(
    { ...info, versions },
    { at, actor: who.actor, from: found.state, to, version, ...(reason ? { reason } : {}) },
  );
}

/**
 * Adds version n+1 as primary (SPEC §2). The old primary becomes deactivated with a grace end when the
 * policy sets one; `compromiseOld` (emergency rotation) marks it compromised in the same change.
 */
export function applyRotation(
  info: KeyInfo,
  who: Actor,
  options: { compromiseOld?: boolean; reason?: string } = {},
): KeyInfo {
  const key = effectiveKey(info, who.now);
  if (key.state === 'compromised' || key.state === 'destroyed') {
    throw new CofferError('EKEYREVOKED', `cannot rotate key ${key.id}: it is ${key.state}`);
  }
  if (key.state !== 'active' && key.state !== 'suspended') {
    throw new CofferError('ESTATE', `cannot rotate key ${key.id}: it is ${key.state}`);
  }
  if (key.versions.length >= LIMITS.versionsPerKey) {
    throw new CofferError('E2BIG', `key ${key.id} has reached ${LIMITS.versionsPerKey} versions`);
  }
  const at = who.now;
  const old = key.primaryVersion;
  const newVersion = Math.max(...key.versions.map((v) => v.version)) + 1;
  const grace = key.rotation?.gracePeriodMs;
  const versions: VersionInfo[] = key.versions.map((v) => {
    if (v.version !== old) return v;
    if (options.compromiseOld) return { ...v, state: 'compromised', deactivatedAt: at, compromisedAt: at };
    if (v.state !== 'active' && v.state !== 'suspended') return v;
    return {
      ...v,
      state: 'deactivated',
      deactivatedAt: at,
      ...(grace !== undefined ? { graceEndsAt: at + grace } : {}),
    };
  });
  versions.push({ version: newVersion, state: 'active', createdAt: at });
  let next: KeyInfo = { ...key, primaryVersion: newVersion, versions };
  const oldState = key.versions.find((v) => v.version === old)?.state ?? 'active';
  next = withHistory(next, {
    at,
    actor: who.actor,
    from: oldState,
    to: options.compromiseOld ? 'compromised' : 'deactivated',
    version: old,
    ...(options.reason ? { reason: options.reason } : {}),
  });
  return next;
}

export function applyMinDecryptionVersion(info: KeyInfo, min: number, who: Actor): KeyInfo {
  if (!Number.isSafeInteger(min) || min < 1)
    throw new CofferError('EINVAL', 'minDecryptionVersion must be a positive integer');
  if (min > info.primaryVersion) {
    throw new CofferError(
      'EINVAL',
      `minDecryptionVersion ${min} is above the primary version ${info.primaryVersion}`,
    );
  }
  if (min < info.minDecryptionVersion) {
    throw new CofferError(
      'EINVAL',
      `minDecryptionVersion can only move forward (now ${info.minDecryptionVersion})`,
    );
  }
  if (min === info.minDecryptionVersion)
    throw new CofferError('EALREADY', `minDecryptionVersion is already ${min}`);
  return { ...info, minDecryptionVersion: min, updatedAt: who.now };
}
