// The sealed records of the HD layer (SPEC "HD seeds"): `ext/hd/seed/<seedId>` holds one BIP-39
// seed and its public metadata, `ext/hd/account/<seedId>/<coin>/<account>` one BIP-44 account with
// its next receive / change indices. Every record sits inside the keystore's record barrier
// (AES-256-GCM under the barrier key, the record key as associated data), so a seed is readable only
// while the keystore is unlocked and a record copied to another name fails to open.
import type { Keystore } from '../core/keystore.js';
import { CofferError } from '../errors.js';

export const HD_NAMESPACE = 'hd';
export const SEED_ID = /^hd_[a-z2-7]{26}$/;

export type SeedSource = 'generated' | 'imported';

/** `ext/hd/seed/<id>` (format 1). `seed` is absent once the seed was destroyed. */
export interface SeedRecord {
  format: 'coffer-hd-seed';
  version: 1;
  id: string;
  app: string;
  purpose: string;
  label?: string;
  source: SeedSource;
  /** Word count and language of the mnemonic the seed came from (the words themselves are not kept). */
  words: number;
  language: string;
  /** Whether a BIP-39 passphrase went into the seed (the passphrase itself is not kept). */
  passphrase: boolean;
  /** BIP-32 master key fingerprint (8 hex digits): public, lets a user match the seed to a wallet. */
  fingerprint: string;
  createdAt: number;
  /** base64 of the 64-byte BIP-39 seed; absent once destroyed. */
  seed?: string;
  destroyedAt?: number;
  /** Created with a seeded (insecure) RNG in deterministic test mode. */
  insecure?: true;
}

/**
 * The public view of a seed record (never the seed). Spelled out rather than derived from SeedRecord on
 * purpose: it is an allow-list, so a field later added to the sealed record is not public by default.
 */
export interface SeedInfo {
  id: string;
  app: string;
  purpose: string;
  label?: string;
  source: SeedSource;
  words: number;
  language: string;
  passphrase: boolean;
  fingerprint: string;
  createdAt: number;
  state: 'active' | 'destroyed';
  destroyedAt?: number;
  insecure?: true;
}

export type AccountChain = 'receive' | 'change';
export type AccountAlgorithm = 'secp256k1' | 'ed25519';

/** `ext/hd/account/<seedId>/<coinType>/<account>` (format 1). */
export interface AccountRecord {
  format: 'coffer-hd-account';
  version: 1;
  seed: string;
  coinType: number;
  account: number;
  algorithm: AccountAlgorithm;
  /** Keystore purpose of the keys the account hands out. */
  keyPurpose: string;
  /** BIP-32 xpub of m/44'/coin'/account' (secp256k1 accounts only: Ed25519 has no public derivation). */
  xpub?: string;
  /** The next unused index per chain: indices below it were handed out (or lost to a crash). */
  next: Record<AccountChain, number>;
  createdAt: number;
}

export function seedRecordName(seedId: string): string {
  return `seed/${seedId}`;
}

export function accountRecordName(seedId: string, coinType: number, account: number): string {
  return `account/${seedId}/${coinType}/${account}`;
}

export function assertSeedId(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !SEED_ID.test(value)) {
    throw new CofferError('EINVAL', 'seed id must look like hd_ followed by 26 base32 characters');
  }
}

/** EINVAL unless `spec` is a plain object whose keys are all in `known`. */
export function assertFields(name: string, spec: unknown, known: string[]): void {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new CofferError('EINVAL', `${name} must be an object`);
  }
  for (const field of Object.keys(spec)) {
    if (!known.includes(field)) throw new CofferError('EINVAL', `unknown ${name} field ${field}`);
  }
}

export function seedInfo(record: SeedRecord): SeedInfo {
  return {
    id: record.id,
    app: record.app,
    purpose: record.purpose,
    ...(record.label !== undefined ? { label: record.label } : {}),
    source: record.source,
    words: record.words,
    language: record.language,
    passphrase: record.passphrase,
    fingerprint: record.fingerprint,
    createdAt: record.createdAt,
    state: record.seed === undefined ? 'destroyed' : 'active',
    ...(record.destroyedAt !== undefined ? { destroyedAt: record.destroyedAt } : {}),
    ...(record.insecure ? { insecure: true as const } : {}),
  };
}

/** Reads a seed record; ENOENT when there is none. Records are authenticated by the barrier. */
export async function readSeedRecord(
  ks: Keystore,
  seedId: string,
): Promise<{ record: SeedRecord; revision: number }> {
  assertSeedId(seedId);
  const found = await ks.getRecord<SeedRecord>(HD_NAMESPACE, seedRecordName(seedId));
  if (!found) throw new CofferError('ENOENT', `no HD seed ${seedId}`);
  if (found.value.format !== 'coffer-hd-seed' || found.value.version !== 1 || found.value.id !== seedId) {
    throw new CofferError('EBADMSG', `HD seed record ${seedId} has an unknown format`);
  }
  return { record: found.value, revision: found.revision };
}
