// The HD operations of the shared surface (CofferOperations.hd, client/surface.ts): HdWallet
// implements them on a keystore in this process, the client's `hd` namespace over the daemon's
// /v1/hd routes. Types only.
import type { KeyInfo } from '../core/types.js';
import type { AccountInfo, NextKey } from './accounts.js';
import type { AccountAlgorithm, AccountChain, SeedInfo } from './records.js';
import type { CreateSeedSpec, DeriveKeySpec, ImportSeedSpec } from './wallet.js';

export interface HdOperations {
  /** A new seed from fresh entropy; its mnemonic is returned this once and never stored. */
  createSeed(spec: CreateSeedSpec): Promise<{ seed: SeedInfo; mnemonic: string }>;
  importSeed(spec: ImportSeedSpec): Promise<SeedInfo>;
  getSeed(seedId: string): Promise<SeedInfo>;
  listSeeds(filter?: { app?: string }): Promise<SeedInfo[]>;
  destroySeed(seedId: string, options?: { reason?: string }): Promise<SeedInfo>;
  /** The BIP-32 extended public key at `path` (default the master, `m`). */
  xpub(seedId: string, path?: string): Promise<string>;
  /** Derives the key at `path` into the keystore (idempotent). */
  deriveKey(seedId: string, spec: DeriveKeySpec): Promise<KeyInfo>;
  derivedKeys(seedId: string): Promise<KeyInfo[]>;
  createAccount(
    seedId: string,
    spec: { coinType: number; account?: number; algorithm?: AccountAlgorithm; purpose?: string },
  ): Promise<AccountInfo>;
  getAccount(seedId: string, coinType: number, account?: number): Promise<AccountInfo>;
  nextKey(
    seedId: string,
    spec: { coinType: number; account?: number; chain?: AccountChain },
  ): Promise<NextKey>;
}
