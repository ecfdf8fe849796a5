// The namespaces of the client's operations surface (client/surface.ts): HD seeds (/v1/hd), backups
// (/v1/backup), rotation (/v1/rotation/due, confirm-rotation, emergency-rotate) and tokens
// (/v1/tokens). Each is a thin mapping of one method to one route, over the CofferClient's transport.
import type { BackupResult } from '../backup/create.js';
import type { BackupOperations, BackupRequest, RestoreRequest } from '../backup/operations.js';
import type { RestoreReport } from '../backup/restore.js';
import type { Incident, TokenInfo, TokenOperations, TokenSpec } from '../core/surface.js';
import type { KeyInfo } from '../core/types.js';
import { CofferError } from '../errors.js';
import type { AccountInfo, NextKey } from '../hd/accounts.js';
import type { HdOperations } from '../hd/operations.js';
import type { AccountAlgorithm, AccountChain, SeedInfo } from '../hd/records.js';
import type { CreateSeedSpec, DeriveKeySpec, ImportSeedSpec } from '../hd/wallet.js';
import type { RotationEvent } from '../rotation/events.js';
import type { RotationOperations } from '../rotation/operations.js';
import type { TickReport } from '../rotation/scheduler.js';
import { assertBytes, fromBase64, toBase64 } from './bytes.js';

export interface Call {
  json?: unknown;
  raw?: Uint8Array;
  headers?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
}

/** How a namespace reaches the daemon: one JSON request (path under /v1). */
export type JsonRequest = <T>(method: string, path: string, call?: Call) => Promise<T>;

function segment(name: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 128)
    throw new CofferError('EINVAL', `${name} must be a non-empty string`);
  return encodeURIComponent(value);
}

export function keyPath(id: string): string {
  return `/keys/${segment('key id', id)}`;
}

function seedPath(seedId: string): string {
  return `/hd/seeds/${segment('seed id', seedId)}`;
}

function accountPath(seedId: string, coinType: number, account: number): string {
  for (const [name, value] of [
    ['coinType', coinType],
    ['account', account],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new CofferError('EINVAL', `${name} must be a whole number`);
  }
  return `${seedPath(seedId)}/accounts/${coinType}/${account}`;
}

export class HdClient implements HdOperations {
  readonly #json: JsonRequest;
  constructor(json: JsonRequest) {
    this.#json = json;
  }
  createSeed(spec: CreateSeedSpec): Promise<{ seed: SeedInfo; mnemonic: string }> {
    return this.#json('POST', '/hd/seeds', { json: spec });
  }
  importSeed(spec: ImportSeedSpec): Promise<SeedInfo> {
    return this.#json('POST', '/hd/seeds/import', { json: spec });
  }
  getSeed(seedId: string): Promise<SeedInfo> {
    return this.#json('GET', seedPath(seedId));
  }
  async listSeeds(filter: { app?: string } = {}): Promise<SeedInfo[]> {
    return (await this.#json<{ seeds: SeedInfo[] }>('GET', '/hd/seeds', { query: filter })).seeds;
  }
  destroySeed(seedId: string, options: { reason?: string } = {}): Promise<SeedInfo> {
    return this.#json('POST', `${seedPath(seedId)}/destroy`, { json: options });
  }
  async xpub(seedId: string, path?: string): Promise<string> {
    return (await this.#json<{ xpub: string }>('GET', `${seedPath(seedId)}/xpub`, { query: { path } })).xpub;
  }
  deriveKey(seedId: string, spec: DeriveKeySpec): Promise<KeyInfo> {
    return this.#json('POST', `${seedPath(seedId)}/derive`, { json: spec });
  }
  async derivedKeys(seedId: string): Promise<KeyInfo[]> {
    return (await this.#json<{ keys: KeyInfo[] }>('GET', `${seedPath(seedId)}/keys`)).keys;
  }
  createAccount(
    seedId: string,
    spec: { coinType: number; account?: number; algorithm?: AccountAlgorithm; purpose?: string },
  ): Promise<AccountInfo> {
    return this.#json('POST', `${seedPath(seedId)}/accounts`, { json: spec });
  }
  getAccount(seedId: string, coinType: number, account = 0): Promise<AccountInfo> {
    return this.#json('GET', accountPath(seedId, coinType, account));
  }
  nextKey(
    seedId: string,
    spec: { coinType: number; account?: number; chain?: AccountChain },
  ): Promise<NextKey> {
    if (typeof spec !== 'object' || spec === null) throw new CofferError('EINVAL', 'spec must be an object');
    return this.#json('POST', `${accountPath(seedId, spec.coinType, spec.account ?? 0)}/next`, {
      json: spec.chain !== undefined ? { chain: spec.chain } : {},
    });
  }
}

export class BackupClient implements BackupOperations {
  readonly #json: JsonRequest;
  constructor(json: JsonRequest) {
    this.#json = json;
  }
  async create(request: BackupRequest): Promise<BackupResult & { backup: Uint8Array }> {
    const r = await this.#json<BackupResult & { backup: string }>('POST', '/backup', { json: request });
    return { ...r, backup: fromBase64(r.backup) };
  }
  restore(backup: Uint8Array, options: RestoreRequest = {}): Promise<RestoreReport> {
    assertBytes('backup', backup);
    return this.#json('POST', '/backup/restore', { json: { backup: toBase64(backup), ...options } });
  }
}

export class RotationClient implements RotationOperations {
  readonly #json: JsonRequest;
  constructor(json: JsonRequest) {
    this.#json = json;
  }
  due(): Promise<TickReport> {
    return this.#json('POST', '/rotation/due');
  }
  confirm(keyId: string): Promise<RotationEvent> {
    return this.#json('POST', `${keyPath(keyId)}/confirm-rotation`);
  }
  emergency(keyId: string, incident: Incident): Promise<RotationEvent> {
    return this.#json('POST', `${keyPath(keyId)}/emergency-rotate`, { json: { incident } });
  }
}

export class TokenClient implements TokenOperations {
  readonly #json: JsonRequest;
  constructor(json: JsonRequest) {
    this.#json = json;
  }
  create(spec: TokenSpec): Promise<{ id: string; token: string }> {
    return this.#json('POST', '/tokens', { json: spec });
  }
  async list(): Promise<TokenInfo[]> {
    return (await this.#json<{ tokens: TokenInfo[] }>('GET', '/tokens')).tokens;
  }
  async revoke(id: string): Promise<void> {
    await this.#json('DELETE', `/tokens/${segment('token id', id)}`);
  }
}
