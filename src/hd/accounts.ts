// BIP-44 accounts over an HD seed (bitcoin/bips bip-0044.mediawiki): m/44'/coin'/account'/chain/index
// with chain 0 = receiving, 1 = change. The next index of each chain lives in a sealed record and is
// claimed with compare-and-swap *before* the key is derived, so two concurrent callers (threads,
// processes, daemon instances on one postgres) can never receive the same index. A crash between the
// claim and the derivation leaves a gap, which BIP-44's gap limit (20) tolerates. Ed25519 accounts
// follow SLIP-10, where every level is hardened: m/44'/coin'/account'/chain'/index'.

import type { Keystore } from '../core/keystore.js';
import { assertName } from '../core/names.js';
import type { KeyInfo } from '../core/types.js';
import { assertInteger, assertOneOf } from '../crypto/bytes.js';
import { formatPath, HARDENED_OFFSET } from '../crypto/hd-path.js';
import { CofferError } from '../errors.js';
import {
  type AccountAlgorithm,
  type AccountChain,
  type AccountRecord,
  accountRecordName,
  assertFields,
  HD_NAMESPACE,
  readSeedRecord,
} from './records.js';

/**
 * What account bookkeeping needs from the wallet. HdWallet implements it; declaring it here keeps
 * this module below wallet.ts (which offers accounts as methods) instead of importing it back.
 */
export interface AccountWallet {
  readonly keystore: Keystore;
  now(): number;
  xpub(seedId: string, path?: string): Promise<string>;
  deriveKey(
    seedId: string,
    spec: { path: string; algorithm?: AccountAlgorithm; purpose?: string },
  ): Promise<KeyInfo>;
}

/** The public view of an account record. */
export type AccountInfo = Omit<AccountRecord, 'format' | 'version'>;

export interface NextKey {
  key: KeyInfo;
  chain: AccountChain;
  index: number;
  path: string;
}

const MAX_INDEX = HARDENED_OFFSET - 1;
const MAX_CLAIM_ATTEMPTS = 1000;
const CHAIN_NUMBER: Readonly<Record<AccountChain, number>> = { receive: 0, change: 1 };

function accountInfo(record: AccountRecord): AccountInfo {
  return {
    seed: record.seed,
    coinType: record.coinType,
    account: record.account,
    algorithm: record.algorithm,
    keyPurpose: record.keyPurpose,
    ...(record.xpub ? { xpub: record.xpub } : {}),
    next: { ...record.next },
    createdAt: record.createdAt,
  };
}

/** m/44'/coin'/account'[/chain/index], hardened throughout for Ed25519. */
export function accountPath(
  algorithm: AccountAlgorithm,
  coinType: number,
  account: number,
  leaf?: { chain: AccountChain; index: number },
): string {
  const h = (i: number) => i + HARDENED_OFFSET;
  const indices = [h(44), h(coinType), h(account)];
  if (leaf) {
    const soft = algorithm === 'ed25519' ? h : (i: number) => i;
    indices.push(soft(CHAIN_NUMBER[leaf.chain]), soft(leaf.index));
  }
  return formatPath(indices);
}

function validateCoordinates(coinType: unknown, account: unknown): void {
  assertInteger('coinType', coinType, 0, MAX_INDEX);
  assertInteger('account', account, 0, MAX_INDEX);
}

export async function createAccount(
  wallet: AccountWallet,
  seedId: string,
  spec: { coinType: number; account?: number; algorithm?: AccountAlgorithm; purpose?: string },
): Promise<AccountInfo> {
  assertFields('account spec', spec, ['coinType', 'account', 'algorithm', 'purpose']);
  const account = spec.account ?? 0;
  validateCoordinates(spec.coinType, account);
  const algorithm = spec.algorithm ?? 'secp256k1';
  assertOneOf('algorithm', algorithm, ['secp256k1', 'ed25519'] as const);
  if (spec.purpose !== undefined) assertName('purpose', spec.purpose);
  const { record: seed } = await readSeedRecord(wallet.keystore, seedId);
  const record: AccountRecord = {
    format: 'coffer-hd-account',
    version: 1,
    seed: seedId,
    coinType: spec.coinType,
    account,
    algorithm,
    keyPurpose: spec.purpose ?? seed.purpose,
    ...(algorithm === 'secp256k1'
      ? { xpub: await wallet.xpub(seedId, accountPath(algorithm, spec.coinType, account)) }
      : {}),
    next: { receive: 0, change: 0 },
    createdAt: wallet.now(),
  };
  try {
    await wallet.keystore.writeRecords(
      HD_NAMESPACE,
      [{ name: accountRecordName(seedId, spec.coinType, account), value: record, expectRevision: 0 }],
      [
        {
          event: 'hd.account.create',
          details: { seed: seedId, coinType: spec.coinType, account, algorithm },
        },
      ],
    );
  } catch (error) {
    if (error instanceof CofferError && error.code === 'ECONFLICT') {
      throw new CofferError(
        'EALREADY',
        `account ${spec.coinType}/${account} of seed ${seedId} already exists`,
      );
    }
    throw error;
  }
  return accountInfo(record);
}

async function readAccount(
  wallet: AccountWallet,
  seedId: string,
  coinType: number,
  account: number,
): Promise<{ record: AccountRecord; revision: number }> {
  const found = await wallet.keystore.getRecord<AccountRecord>(
    HD_NAMESPACE,
    accountRecordName(seedId, coinType, account),
  );
  if (!found) throw new CofferError('ENOENT', `no account ${coinType}/${account} for seed ${seedId}`);
  const value = found.value;
  if (value.format !== 'coffer-hd-account' || value.version !== 1 || value.seed !== seedId) {
    throw new CofferError('EBADMSG', `account record ${coinType}/${account} has an unknown format`);
  }
  return { record: value, revision: found.revision };
}

export async function getAccount(
  wallet: AccountWallet,
  seedId: string,
  coinType: number,
  account: number,
): Promise<AccountInfo> {
  validateCoordinates(coinType, account);
  await readSeedRecord(wallet.keystore, seedId);
  return accountInfo((await readAccount(wallet, seedId, coinType, account)).record);
}

/** Claims the next index of a chain (CAS, retried on conflict), then derives its key (idempotent). */
export async function nextKey(
  wallet: AccountWallet,
  seedId: string,
  spec: { coinType: number; account?: number; chain?: AccountChain },
): Promise<NextKey> {
  assertFields('spec', spec, ['coinType', 'account', 'chain']);
  const account = spec.account ?? 0;
  validateCoordinates(spec.coinType, account);
  const chain = spec.chain ?? 'receive';
  assertOneOf('chain', chain, ['receive', 'change'] as const);
  await readSeedRecord(wallet.keystore, seedId);
  for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
    const { record, revision } = await readAccount(wallet, seedId, spec.coinType, account);
    const index = record.next[chain];
    if (!Number.isSafeInteger(index) || index < 0) {
      throw new CofferError('EBADMSG', 'account record holds a malformed index');
    }
    if (index > MAX_INDEX) throw new CofferError('EINVAL', `the ${chain} chain of this account is exhausted`);
    const claimed: AccountRecord = { ...record, next: { ...record.next, [chain]: index + 1 } };
    try {
      await wallet.keystore.writeRecords(HD_NAMESPACE, [
        { name: accountRecordName(seedId, spec.coinType, account), value: claimed, expectRevision: revision },
      ]);
    } catch (error) {
      if (error instanceof CofferError && error.code === 'ECONFLICT') continue;
      throw error;
    }
    const path = accountPath(record.algorithm, spec.coinType, account, { chain, index });
    const key = await wallet.deriveKey(seedId, {
      path,
      algorithm: record.algorithm,
      purpose: record.keyPurpose,
    });
    return { key, chain, index, path };
  }
  throw new CofferError('ECONFLICT', 'could not claim an account index: too much contention, try again');
}
