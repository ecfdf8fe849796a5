// HD seeds in the keystore (SPEC §2 "HD seeds", SPEC "HD seeds"): a BIP-39 seed is created from
// fresh entropy (its mnemonic is returned exactly once, for the user's paper backup) or imported from
// a mnemonic, and kept as a sealed record. Child keys derived by path (BIP-32 for secp256k1, SLIP-10
// for Ed25519) become ordinary, non-exportable keystore keys whose labels name the seed and the path;
// from then on they are used through the Keystore like any other key. Built on the public Keystore
// API: sealed records (`ext/hd/…`) and the dangerous import path, which is the only way in for
// secret material the keystore did not generate itself.
import { createHash } from 'node:crypto';
import { b64, base32 } from '../core/encoding.js';
import { keyIdFromBytes } from '../core/ids.js';
import type { Keystore } from '../core/keystore.js';
import { assertMetadataString, assertName, validateCreateSpec } from '../core/names.js';
import type { KeyInfo } from '../core/types.js';
import { bip32FromSeed } from '../crypto/bip32.js';
import {
  BIP39_LANGUAGES,
  type Bip39Language,
  entropyToMnemonic,
  mnemonicToEntropy,
  mnemonicToSeed,
  WORD_COUNTS,
} from '../crypto/bip39.js';
import { assertOneOf, wipe } from '../crypto/bytes.js';
import { formatPath, isHardened, parsePath } from '../crypto/hd-path.js';
import { type Rng, systemRng } from '../crypto/rng.js';
import { slip10 } from '../crypto/slip10.js';
import { CofferError } from '../errors.js';
import { type AccountInfo, createAccount, getAccount, type NextKey, nextKey } from './accounts.js';
import {
  type AccountAlgorithm,
  type AccountChain,
  assertFields,
  assertSeedId,
  HD_NAMESPACE,
  readSeedRecord,
  type SeedInfo,
  type SeedRecord,
  seedInfo,
  seedRecordName,
} from './records.js';

export interface HdOptions {
  /** Randomness for new entropy and seed ids (default: the OS CSPRNG). A seeded RNG marks seeds insecure. */
  rng?: Rng;
  /** Clock in milliseconds for record timestamps (default Date.now). */
  clock?: () => number;
}

export interface CreateSeedSpec {
  app: string;
  purpose: string;
  /** 12, 15, 18, 21 or 24 (default 24: 256 bits of entropy). */
  words?: number;
  language?: Bip39Language;
  /** Optional BIP-39 passphrase ("25th word"); not stored — it is needed again only to re-import. */
  passphrase?: string;
  label?: string;
}

export interface ImportSeedSpec {
  app: string;
  purpose: string;
  mnemonic: string;
  language?: Bip39Language;
  passphrase?: string;
  label?: string;
}

export interface DeriveKeySpec {
  /** Absolute path, e.g. `m/44'/0'/0'/0/1`; Ed25519 paths must be hardened throughout (SLIP-10). */
  path: string;
  /** secp256k1 (BIP-32, default) or ed25519 (SLIP-10). */
  algorithm?: AccountAlgorithm;
  /** Keystore purpose of the derived key (default: the seed's purpose); the app is the seed's. */
  purpose?: string;
  labels?: Record<string, string>;
  backupAllowed?: boolean;
}

/** Labels the HD layer sets on every derived key (callers cannot set these themselves). */
export const HD_LABELS = { seed: 'hd-seed', path: 'hd-path', scheme: 'hd-scheme' } as const;

const CREATE_FIELDS = ['app', 'purpose', 'words', 'language', 'passphrase', 'label'];
const IMPORT_FIELDS = ['app', 'purpose', 'mnemonic', 'language', 'passphrase', 'label'];
const DERIVE_FIELDS = ['path', 'algorithm', 'purpose', 'labels', 'backupAllowed'];

function assertCommon(spec: CreateSeedSpec | ImportSeedSpec): void {
  assertName('app', spec.app);
  assertName('purpose', spec.purpose);
  if (spec.language !== undefined) assertOneOf('language', spec.language, BIP39_LANGUAGES);
  if (spec.passphrase !== undefined && typeof spec.passphrase !== 'string') {
    throw new CofferError('EINVAL', 'passphrase must be a string');
  }
  if (spec.label !== undefined) assertMetadataString('label', spec.label);
}

/**
 * The id of the key derived from `seedId` at `path` with `algorithm`: a hash of public values, so the
 * same derivation always lands on the same key id and a repeated or concurrent derive finds the key
 * already there instead of creating a twin. Seed ids are random per keystore, so ids do not link
 * keystores that imported the same mnemonic.
 */
export function derivedKeyId(seedId: string, algorithm: AccountAlgorithm, path: string): string {
  const digest = createHash('sha256')
    .update(`coffer:hd-key-id:v1\0${seedId}\0${algorithm}\0${path}`)
    .digest();
  return keyIdFromBytes(digest.subarray(0, 16));
}

export class HdWallet {
  readonly #ks: Keystore;
  readonly #rng: Rng;
  readonly #clock: () => number;

  constructor(ks: Keystore, options: HdOptions = {}) {
    if (typeof ks !== 'object' || ks === null) throw new CofferError('EINVAL', 'a Keystore is required');
    assertFields('options', options, ['rng', 'clock']);
    if (options.clock !== undefined && typeof options.clock !== 'function') {
      throw new CofferError('EINVAL', 'clock must be a function');
    }
    this.#ks = ks;
    this.#rng = options.rng ?? systemRng;
    this.#clock = options.clock ?? Date.now;
  }

  /** @internal for accounts.ts */
  get keystore(): Keystore {
    return this.#ks;
  }

  /** @internal */
  now(): number {
    return this.#clock();
  }

  /** A new seed from fresh entropy. The mnemonic is returned here once and never stored. */
  async createSeed(spec: CreateSeedSpec): Promise<{ seed: SeedInfo; mnemonic: string }> {
    assertFields('seed spec', spec, CREATE_FIELDS);
    assertCommon(spec);
    const words = spec.words ?? 24;
    if (!(WORD_COUNTS as readonly unknown[]).includes(words)) {
      throw new CofferError('EINVAL', 'words must be 12, 15, 18, 21 or 24');
    }
    const language = spec.language ?? 'english';
    const entropy = this.#rng.randomBytes((words / 3) * 4);
    let mnemonic: string;
    try {
      mnemonic = entropyToMnemonic(entropy, language);
    } finally {
      wipe(entropy);
    }
    const seed = await this.#store(spec, mnemonic, language, words, 'generated');
    return { seed, mnemonic };
  }

  /** Imports a seed from a mnemonic (EINVAL for a bad word or checksum: never a silently wrong wallet). */
  async importSeed(spec: ImportSeedSpec): Promise<SeedInfo> {
    assertFields('seed spec', spec, IMPORT_FIELDS);
    assertCommon(spec);
    const language = spec.language ?? 'english';
    if (typeof spec.mnemonic !== 'string') throw new CofferError('EINVAL', 'mnemonic must be a string');
    const entropy = mnemonicToEntropy(spec.mnemonic, language);
    const words = (entropy.length * 3) / 4;
    wipe(entropy);
    return this.#store(spec, spec.mnemonic, language, words, 'imported');
  }

  async #store(
    spec: CreateSeedSpec | ImportSeedSpec,
    mnemonic: string,
    language: Bip39Language,
    words: number,
    source: SeedRecord['source'],
  ): Promise<SeedInfo> {
    const seed = mnemonicToSeed(mnemonic, spec.passphrase ?? '');
    let record: SeedRecord;
    try {
      const master = bip32FromSeed(seed);
      const fingerprint = master.fingerprint.toString(16).padStart(8, '0');
      master.wipe();
      const id = `hd_${base32(this.#rng.randomBytes(16))}`;
      record = {
        format: 'coffer-hd-seed',
        version: 1,
        id,
        app: spec.app,
        purpose: spec.purpose,
        ...(spec.label !== undefined ? { label: spec.label } : {}),
        source,
        words,
        language,
        passphrase: (spec.passphrase ?? '') !== '',
        fingerprint,
        createdAt: this.#clock(),
        seed: b64.encode(seed),
        ...(this.#rng.insecure ? { insecure: true as const } : {}),
      };
    } finally {
      wipe(seed);
    }
    await this.#ks.writeRecords(
      HD_NAMESPACE,
      [{ name: seedRecordName(record.id), value: record, expectRevision: 0 }],
      [{ event: 'hd.seed.create', details: { seed: record.id, source, words, app: record.app } }],
    );
    return seedInfo(record);
  }

  async getSeed(seedId: string): Promise<SeedInfo> {
    return seedInfo((await readSeedRecord(this.#ks, seedId)).record);
  }

  async listSeeds(filter: { app?: string } = {}): Promise<SeedInfo[]> {
    assertFields('filter', filter, ['app']);
    if (filter.app !== undefined) assertName('app', filter.app);
    const records = await this.#ks.listRecords<SeedRecord>(HD_NAMESPACE, 'seed/');
    return records
      .map((r) => seedInfo(r.value))
      .filter((info) => filter.app === undefined || info.app === filter.app);
  }

  /**
   * Wipes the seed (its record keeps the metadata). Keys already derived stay: they are ordinary keys
   * with their own lifecycle. Nothing new can be derived afterwards.
   */
  async destroySeed(seedId: string, options: { reason?: string } = {}): Promise<SeedInfo> {
    assertSeedId(seedId);
    assertFields('options', options, ['reason']);
    if (options.reason !== undefined) assertMetadataString('reason', options.reason);
    for (;;) {
      const { record, revision } = await readSeedRecord(this.#ks, seedId);
      if (record.seed === undefined)
        throw new CofferError('EALREADY', `HD seed ${seedId} is already destroyed`);
      const { seed: _wiped, ...rest } = record;
      const next: SeedRecord = { ...rest, destroyedAt: this.#clock() };
      try {
        await this.#ks.writeRecords(
          HD_NAMESPACE,
          [{ name: seedRecordName(seedId), value: next, expectRevision: revision }],
          [
            {
              event: 'hd.seed.destroy',
              details: { seed: seedId, ...(options.reason ? { reason: options.reason } : {}) },
            },
          ],
        );
        return seedInfo(next);
      } catch (error) {
        if (!(error instanceof CofferError && error.code === 'ECONFLICT')) throw error;
      }
    }
  }

  /** Runs `use` with the bytes of a seed record already read, wiping them afterwards; EKEYREVOKED when destroyed. */
  #withSeed<T>(record: SeedRecord, use: (seed: Uint8Array) => T): T {
    if (record.seed === undefined) throw new CofferError('EKEYREVOKED', `HD seed ${record.id} was destroyed`);
    const seed = b64.decode(record.seed);
    try {
      if (seed.length !== 64)
        throw new CofferError('EBADMSG', `HD seed record ${record.id} holds a malformed seed`);
      return use(seed);
    } finally {
      wipe(seed);
    }
  }

  /** The BIP-32 xpub at `path` (default the master, `m`): for watch-only wallets. */
  async xpub(seedId: string, path = 'm'): Promise<string> {
    assertSeedId(seedId);
    const { absolute } = parsePath(path);
    if (!absolute) throw new CofferError('EINVAL', "path must start at the master key: 'm/…'");
    const { record } = await readSeedRecord(this.#ks, seedId);
    return this.#withSeed(record, (seed) => {
      const master = bip32FromSeed(seed);
      const node = master.derive(path);
      master.wipe();
      const xpub = node.xpub;
      node.wipe();
      return xpub;
    });
  }

  /**
   * Derives the key at `path` into the keystore as an ordinary non-exportable key (labels `hd-seed`,
   * `hd-path`, `hd-scheme`). Idempotent: deriving the same path again returns the existing key.
   */
  async deriveKey(seedId: string, spec: DeriveKeySpec): Promise<KeyInfo> {
    assertSeedId(seedId);
    assertFields('derive spec', spec, DERIVE_FIELDS);
    const algorithm = spec.algorithm ?? 'secp256k1';
    assertOneOf('algorithm', algorithm, ['secp256k1', 'ed25519'] as const);
    const { absolute, indices } = parsePath(spec.path);
    if (!absolute) throw new CofferError('EINVAL', "path must start at the master key: 'm/…'");
    if (algorithm === 'ed25519' && !indices.every(isHardened)) {
      throw new CofferError(
        'EINVAL',
        "ed25519 keys derive through hardened indices only (SLIP-10): mark each with '",
      );
    }
    const path = formatPath(indices);
    for (const key of Object.keys(spec.labels ?? {})) {
      if ((Object.values(HD_LABELS) as string[]).includes(key)) {
        throw new CofferError('EINVAL', `label ${key} is set by the HD layer`);
      }
    }
    const { record } = await readSeedRecord(this.#ks, seedId);
    const valid = validateCreateSpec({
      app: record.app,
      purpose: spec.purpose ?? record.purpose,
      algorithm,
      uses: ['sign', 'verify'],
      labels: {
        ...spec.labels,
        [HD_LABELS.seed]: seedId,
        [HD_LABELS.path]: path,
        [HD_LABELS.scheme]: algorithm === 'ed25519' ? 'slip10' : 'bip32',
      },
      ...(spec.backupAllowed !== undefined ? { backupAllowed: spec.backupAllowed } : {}),
    });
    const id = derivedKeyId(seedId, algorithm, path);
    const existing = await this.#existing(id);
    if (existing) return existing;
    // The record read above, not a second read: one storage round trip and one barrier open per derive.
    const { secret, publicKey } = this.#withSeed(record, (seed) => {
      if (algorithm === 'ed25519') {
        const key = slip10('ed25519', seed, path);
        wipe(key.chainCode);
        return { secret: key.privateKey, publicKey: key.publicKey };
      }
      const master = bip32FromSeed(seed);
      const node = master.derive(path);
      master.wipe();
      const out = { secret: node.privateKey!, publicKey: node.publicKey };
      node.wipe();
      return out;
    });
    const now = this.#clock();
    const info: KeyInfo = {
      id,
      app: valid.app,
      purpose: valid.purpose,
      algorithm,
      uses: valid.uses,
      labels: valid.labels,
      state: 'active',
      createdAt: now,
      updatedAt: now,
      primaryVersion: 1,
      minDecryptionVersion: 1,
      versions: [{ version: 1, state: 'active', createdAt: now }],
      ...(record.insecure || this.#rng.insecure ? { insecure: true } : {}),
      ...(valid.backupAllowed === false ? { backupAllowed: false as const } : {}),
      history: [],
    };
    try {
      await this.#ks.dangerouslyImportKeyMaterial(
        [{ info, versions: [{ version: 1, secret, publicKey }], usage: {} }],
        'fail',
      );
    } catch (error) {
      // A concurrent derive of the same path won the race: same id, same material — use its key.
      if (error instanceof CofferError && error.code === 'EALREADY') {
        const raced = await this.#existing(id);
        if (raced) return raced;
      }
      throw error;
    } finally {
      wipe(secret);
    }
    await this.#ks.appendAudit([
      { event: 'hd.derive', keyId: id, details: { seed: seedId, path, algorithm, purpose: valid.purpose } },
    ]);
    return this.#ks.getKey(id);
  }

  async #existing(id: string): Promise<KeyInfo | undefined> {
    try {
      return await this.#ks.getKey(id);
    } catch (error) {
      if (error instanceof CofferError && error.code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Keys derived from this seed (by their `hd-seed` label), in storage order. */
  async derivedKeys(seedId: string): Promise<KeyInfo[]> {
    const { record } = await readSeedRecord(this.#ks, seedId);
    const keys = await this.#ks.listKeys({ app: record.app });
    return keys.filter((k) => k.labels[HD_LABELS.seed] === seedId);
  }

  // ---- BIP-44 accounts (accounts.ts) ----

  createAccount(
    seedId: string,
    spec: { coinType: number; account?: number; algorithm?: AccountAlgorithm; purpose?: string },
  ): Promise<AccountInfo> {
    return createAccount(this, seedId, spec);
  }

  getAccount(seedId: string, coinType: number, account = 0): Promise<AccountInfo> {
    return getAccount(this, seedId, coinType, account);
  }

  /** The next unused receiving (or change) key of an account; never hands out the same index twice. */
  nextKey(
    seedId: string,
    spec: { coinType: number; account?: number; chain?: AccountChain },
  ): Promise<NextKey> {
    return nextKey(this, seedId, spec);
  }
}
