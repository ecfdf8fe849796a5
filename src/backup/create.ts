// createBackup (SPEC §11): exports the selected keys with their secrets, encodes them as payload
// records, compresses, and writes preamble ‖ sealed chunks ‖ checksum to a file or a stream.
// A file is written to a temporary name, fsync'd and renamed, so a crash never leaves a half backup
// under the final name. Secret buffers are wiped as soon as they are encoded or encrypted.
import { createHash, randomBytes as osRandomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { deflateRaw } from 'node:zlib';
import type { ExportFilter } from '../core/dangerous-material.js';
import type { Keystore } from '../core/keystore.js';
import { assertKeyId, assertName } from '../core/names.js';
import { concatBytes, wipe } from '../crypto/bytes.js';
import type { Passphrase, PassphraseKdfParams } from '../crypto/passphrase-kdf.js';
import { type Rng, systemRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import {
  type BackupHeader,
  type BackupKind,
  type BackupSelection,
  DEFAULT_CHUNK_SIZE,
  encodePreamble,
  FORMAT_VERSION,
  MAX_CHUNK_SIZE,
  MAX_PAYLOAD_BYTES,
  MIN_CHUNK_SIZE,
  type RecipientHeader,
} from './format.js';
import { inspectBackup } from './inspect.js';
import { encodeEndRecord, encodeItemRecord, encodeKeychainRecord, encodeKeyRecord } from './payload.js';
import {
  assertBackupPassphrase,
  assertRecipientId,
  parseCofferPublicKeyString,
  parseXWingPublicKey,
  wrapToPassphrase,
  wrapToXWing,
  type XWingRecipient,
} from './recipients.js';
import { payloadKey, sealChunks } from './stream.js';

const deflateRawAsync = promisify(deflateRaw);

export interface BackupProgress {
  phase: 'export' | 'write' | 'read' | 'decrypt' | 'restore';
  done: number;
  /** Known for every phase but export. */
  total?: number;
}

export interface RecipientOption {
  /** X-Wing public key: raw 1216 bytes, SPKI DER/PEM, or a `coffer1:xwing:…` string. Default: read from this keystore. */
  publicKey?: string | Uint8Array;
  keyId: string;
  /** Required with publicKey; default the key's primary version when read from this keystore. */
  version?: number;
}

export interface CreateBackupOptions {
  /** A file path (written atomically, mode 0600) or a Writable (not ended by createBackup). */
  out: string | Writable;
  passphrase?: Passphrase;
  /** Passphrase KDF parameters (default Argon2id 64 MiB, t = 3). */
  kdf?: PassphraseKdfParams;
  /** An X-Wing recipient: an object, or a `coffer1:xwing:<keyId>:<version>:<b64url>` string. */
  recipient?: RecipientOption | string;
  /**
   * Incremental: a store generation, the path of the backup this one builds on, or that backup's
   * header fields (as `inspectBackup` gives them) when its file is elsewhere.
   */
  since?: number | string | BackupBase;
  app?: string;
  purpose?: string;
  keyIds?: string[];
  /** Plaintext bytes per chunk, a power of two from 1 KiB to 1 MiB (default 64 KiB). */
  chunkSize?: number;
  onProgress?: (progress: BackupProgress) => void;
}

/** The base of an incremental backup, described by its header instead of its file. */
export interface BackupBase {
  generation: number;
  backupId?: string;
  /** Checked against this keystore when given: a base of another store is refused. */
  storeId?: string;
}

export interface BackupResult {
  kind: BackupKind;
  keyCount: number;
  /** Keychain items in the backup (SPEC §11.5: full backups, and selections by app only). */
  itemCount: number;
  generation: number;
  baseGeneration?: number;
  backupId: string;
  /** Size of the backup file in bytes. */
  bytes: number;
}

/** Everything that determines a backup's bytes; `encodeBackup` is pure, for vectors and tests. */
export interface BackupParts {
  header: Omit<BackupHeader, 'payload' | 'recipient' | 'fileKey'>;
  recipient: RecipientHeader;
  wrappedFileKey: Uint8Array;
  fileKey: Uint8Array;
  /** Uncompressed payload length, and the payload compressed with raw deflate. */
  payloadBytes: number;
  compressed: Uint8Array;
  chunkSize: number;
}

/** Yields preamble, sealed chunks and the SHA-256 checksum over everything before it. */
export function* encodeBackup(parts: BackupParts): Generator<Uint8Array> {
  const header: BackupHeader = {
    ...parts.header,
    payload: {
      compression: 'deflate-raw',
      bytes: parts.payloadBytes,
      aead: 'aes-256-gcm',
      chunkSize: parts.chunkSize,
    },
    recipient: parts.recipient,
    fileKey: Buffer.from(parts.wrappedFileKey).toString('base64'),
  };
  const preamble = encodePreamble(header);
  const hash = createHash('sha256');
  hash.update(preamble);
  yield preamble;
  const key = payloadKey(parts.fileKey, header.backupId);
  try {
    for (const chunk of sealChunks(key, preamble, parts.compressed, parts.chunkSize)) {
      hash.update(chunk);
      yield chunk;
    }
  } finally {
    wipe(key);
  }
  yield new Uint8Array(hash.digest());
}

function isWritable(value: unknown): value is Writable {
  return typeof value === 'object' && value !== null && typeof (value as Writable).write === 'function';
}

interface Checked {
  out: string | Writable;
  kind: BackupKind;
  filter: ExportFilter;
  selection?: BackupSelection;
  since?: number | string | BackupBase;
  passphrase?: { passphrase: Passphrase; kdf: PassphraseKdfParams };
  recipient?: RecipientOption | XWingRecipient;
  chunkSize: number;
  onProgress?: (progress: BackupProgress) => void;
}

function checkOptions(options: CreateBackupOptions): Checked {
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'options must be an object');
  const { out } = options;
  if (!(typeof out === 'string' && out.length > 0) && !isWritable(out)) {
    throw new CofferError('EINVAL', 'out must be a file path or a Writable stream');
  }
  const hasPassphrase = options.passphrase !== undefined;
  const hasRecipient = options.recipient !== undefined;
  if (hasPassphrase === hasRecipient) {
    throw new CofferError('EINVAL', 'give exactly one of passphrase or recipient: who may open the backup');
  }
  if (options.kdf !== undefined && !hasPassphrase)
    throw new CofferError('EINVAL', 'kdf goes with a passphrase');
  let recipient: Checked['recipient'];
  if (typeof options.recipient === 'string') {
    recipient = parseCofferPublicKeyString(options.recipient);
    if (!recipient) {
      throw new CofferError(
        'EINVAL',
        'a recipient string must look like coffer1:xwing:<keyId>:<version>:<key>[:<checksum>]',
      );
    }
  } else if (hasRecipient) {
    const r = options.recipient;
    if (typeof r !== 'object' || r === null)
      throw new CofferError('EINVAL', 'recipient must be an object or string');
    assertRecipientId(r.keyId, r.version ?? 1);
    if (r.publicKey !== undefined) {
      if (r.version === undefined)
        throw new CofferError('EINVAL', 'recipient.version goes with recipient.publicKey');
      recipient = { keyId: r.keyId, version: r.version, publicKey: parseXWingPublicKey(r.publicKey) };
    } else {
      recipient = { keyId: r.keyId, ...(r.version !== undefined ? { version: r.version } : {}) };
    }
  }
  const filter: ExportFilter = {};
  const selection: BackupSelection = {};
  if (options.app !== undefined) {
    assertName('app', options.app);
    filter.app = selection.app = options.app;
  }
  if (options.purpose !== undefined) {
    assertName('purpose', options.purpose);
    filter.purpose = selection.purpose = options.purpose;
  }
  if (options.keyIds !== undefined) {
    if (!Array.isArray(options.keyIds) || options.keyIds.length === 0 || options.keyIds.length > 100_000) {
      throw new CofferError('EINVAL', 'keyIds must be a non-empty array of at most 100000 key ids');
    }
    for (const id of options.keyIds) assertKeyId(id);
    filter.ids = [...new Set(options.keyIds)];
    selection.keys = filter.ids.length;
  }
  const { since } = options;
  if (since !== undefined) {
    const generation = (g: unknown) => typeof g === 'number' && Number.isSafeInteger(g) && g >= 0;
    const okBase =
      typeof since === 'object' &&
      since !== null &&
      generation(since.generation) &&
      (since.backupId === undefined || (typeof since.backupId === 'string' && since.backupId.length > 0)) &&
      (since.storeId === undefined || typeof since.storeId === 'string');
    if (!generation(since) && !okBase && !(typeof since === 'string' && since.length > 0)) {
      throw new CofferError(
        'EINVAL',
        'since must be a store generation (integer ≥ 0), a backup file path, or { generation, backupId? }',
      );
    }
  }
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (
    !Number.isSafeInteger(chunkSize) ||
    chunkSize < MIN_CHUNK_SIZE ||
    chunkSize > MAX_CHUNK_SIZE ||
    (chunkSize & (chunkSize - 1)) !== 0
  ) {
    throw new CofferError('EINVAL', 'chunkSize must be a power of two from 1024 to 1048576');
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new CofferError('EINVAL', 'onProgress must be a function');
  }
  const filtered = Object.keys(selection).length > 0;
  return {
    out,
    kind: since !== undefined ? 'incremental' : filtered ? 'selective' : 'full',
    filter,
    ...(filtered ? { selection } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(hasPassphrase
      ? {
          passphrase: {
            passphrase: options.passphrase!,
            kdf: assertBackupPassphrase(options.passphrase, options.kdf),
          },
        }
      : {}),
    ...(recipient ? { recipient } : {}),
    chunkSize,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
}

async function resolveRecipient(ks: Keystore, r: RecipientOption | XWingRecipient): Promise<XWingRecipient> {
  if (r.publicKey instanceof Uint8Array && r.version !== undefined) {
    return { keyId: r.keyId, version: r.version, publicKey: r.publicKey };
  }
  const info = await ks.getKey(r.keyId);
  if (info.algorithm !== 'x-wing') {
    throw new CofferError(
      'EINVAL',
      `key ${r.keyId} is ${info.algorithm}: a backup recipient must be an X-Wing key`,
    );
  }
  const version = r.version ?? info.primaryVersion;
  const publicKey = (await ks.publicKey(r.keyId, 'raw', { version })) as Uint8Array;
  return { keyId: r.keyId, version, publicKey };
}

/** Ids of the selection that an incremental backup leaves to its base (SPEC §11.5). */
async function requiredFromBase(
  ks: Keystore,
  filter: ExportFilter,
  exported: Set<string>,
): Promise<string[]> {
  const all = filter.app !== undefined ? await ks.listKeys({ app: filter.app }) : await ks.listKeys();
  return all
    .filter(
      (k) =>
        (filter.purpose === undefined || k.purpose === filter.purpose) &&
        (filter.ids === undefined || filter.ids.includes(k.id)) &&
        k.backupAllowed !== false &&
        !exported.has(k.id),
    )
    .map((k) => k.id);
}

async function writeOut(out: string | Writable, pieces: Iterable<Uint8Array>, onPiece: (n: number) => void) {
  let bytes = 0;
  if (typeof out === 'string') {
    const temp = join(dirname(out), `.${basename(out)}.${osRandomBytes(6).toString('hex')}.tmp`);
    let fd: number;
    try {
      fd = openSync(temp, 'wx', 0o600);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CofferError(
        code === 'ENOENT' ? 'ENOENT' : code === 'EACCES' || code === 'EPERM' ? 'EPERM' : 'EUNAVAIL',
        `cannot write a backup next to ${out}: ${code ?? (error as Error).message}`,
      );
    }
    try {
      for (const piece of pieces) {
        let written = 0;
        while (written < piece.length) written += writeSync(fd, piece, written);
        bytes += piece.length;
        onPiece(bytes);
      }
      fsyncSync(fd);
      closeSync(fd);
      renameSync(temp, out);
    } catch (error) {
      try {
        closeSync(fd);
      } catch {}
      rmSync(temp, { force: true });
      throw error;
    }
    try {
      const dirFd = openSync(dirname(out), 'r');
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    } catch {
      // Directory fsync is unsupported on some platforms; the file itself is already durable.
    }
    return bytes;
  }
  for (const piece of pieces) {
    const copy = Uint8Array.from(piece);
    await new Promise<void>((resolve, reject) => {
      out.write(copy, (error) => (error ? reject(error) : resolve()));
    });
    bytes += piece.length;
    onPiece(bytes);
  }
  return bytes;
}

/** Writes an encrypted backup of the selected keys (SPEC §11). */
export async function createBackup(
  ks: Keystore,
  options: CreateBackupOptions,
  rng: Rng = systemRng,
): Promise<BackupResult> {
  const o = checkOptions(options);
  let baseGeneration: number | undefined;
  let baseBackupId: string | undefined;
  if (typeof o.since === 'string') {
    const base = await inspectBackup(o.since);
    if (base.storeId !== ks.id) {
      throw new CofferError(
        'EINVAL',
        `${o.since} is a backup of another keystore (${base.storeId}), not ${ks.id}`,
      );
    }
    baseGeneration = base.generation;
    baseBackupId = base.backupId;
  } else if (typeof o.since === 'number') {
    baseGeneration = o.since;
  } else if (o.since !== undefined) {
    if (o.since.storeId !== undefined && o.since.storeId !== ks.id) {
      throw new CofferError(
        'EINVAL',
        `the base backup is of another keystore (${o.since.storeId}), not ${ks.id}`,
      );
    }
    baseGeneration = o.since.generation;
    baseBackupId = o.since.backupId;
  }
  const recipientKey = o.recipient ? await resolveRecipient(ks, o.recipient) : undefined;
  // Read before exporting: anything that changes during the export has a later revision, so the
  // next incremental (since this generation) includes it again.
  const generation = await ks.generation();
  if (baseGeneration !== undefined && baseGeneration > generation) {
    throw new CofferError(
      'EINVAL',
      `since (${baseGeneration}) is after the store's generation ${generation}`,
    );
  }
  const filter: ExportFilter = {
    ...o.filter,
    ...(baseGeneration !== undefined ? { sinceGeneration: baseGeneration } : {}),
  };

  const parts: Uint8Array[] = [];
  const itemParts: Uint8Array[] = [];
  const secrets: Uint8Array[] = [];
  const exported = new Set<string>();
  let payload: Uint8Array | undefined;
  let compressed: Uint8Array | undefined;
  const fileKey = rng.randomBytes(32);
  try {
    for await (const key of ks.dangerouslyExportKeyMaterial(filter)) {
      for (const v of key.versions) if (v.secret) secrets.push(v.secret);
      parts.push(...encodeKeyRecord(key));
      exported.add(key.info.id);
      o.onProgress?.({ phase: 'export', done: exported.size });
    }
    const requires = o.kind === 'incremental' ? await requiredFromBase(ks, o.filter, exported) : [];
    // Items (SPEC §11.5): in full backups and in selections by app (the access group) alone.
    let itemCount = 0;
    if (o.filter.purpose === undefined && o.filter.ids === undefined) {
      const items = await ks.keychain.dangerouslyExportItems({
        ...(o.filter.app !== undefined ? { group: o.filter.app } : {}),
        ...(baseGeneration !== undefined ? { sinceGeneration: baseGeneration } : {}),
      });
      if (items) {
        for (const k of items.keychain.classKeys) secrets.push(k.key);
        if (o.kind === 'incremental') requires.push(...items.requires);
        if (items.keychain.items.length > 0) {
          parts.push(...encodeKeychainRecord(items.keychain));
          // Item records are ciphertext straight from storage: concatenated, never wiped in place.
          for (const item of items.keychain.items) itemParts.push(...encodeItemRecord(item));
          itemCount = items.keychain.items.length;
        }
        o.onProgress?.({ phase: 'export', done: exported.size + itemCount });
      }
    }
    itemParts.push(...encodeEndRecord({ keyCount: exported.size, itemCount, requires }));
    payload = concatBytes(...parts, ...itemParts);
    wipe(...secrets);
    if (payload.length > MAX_PAYLOAD_BYTES)
      throw new CofferError('E2BIG', 'backup payload over 2 GiB: select fewer keys');
    const deflated = await deflateRawAsync(payload, { level: 6 });
    compressed = new Uint8Array(deflated.buffer, deflated.byteOffset, deflated.byteLength);

    const backupId = Buffer.from(rng.randomBytes(16)).toString('base64url');
    const wrap = o.passphrase
      ? await wrapToPassphrase(fileKey, backupId, o.passphrase.passphrase, o.passphrase.kdf, rng)
      : wrapToXWing(fileKey, backupId, recipientKey!, rng);
    const header: BackupParts['header'] = {
      format: 'coffer-backup',
      version: FORMAT_VERSION,
      backupId,
      kind: o.kind,
      storeId: ks.id,
      createdAt: Date.now(),
      generation,
      ...(baseGeneration !== undefined ? { baseGeneration } : {}),
      ...(baseBackupId !== undefined ? { baseBackupId } : {}),
      ...(o.selection ? { selection: o.selection } : {}),
      keyCount: exported.size,
      itemCount,
    };
    const chunks = Math.max(1, Math.ceil(compressed.length / o.chunkSize));
    const bytes = await writeOut(
      o.out,
      encodeBackup({
        header,
        recipient: wrap.recipient,
        wrappedFileKey: wrap.wrapped,
        fileKey,
        payloadBytes: payload.length,
        compressed,
        chunkSize: o.chunkSize,
      }),
      (written) => o.onProgress?.({ phase: 'write', done: written, total: compressed!.length + chunks * 16 }),
    );
    return {
      kind: o.kind,
      keyCount: exported.size,
      itemCount,
      generation,
      ...(baseGeneration !== undefined ? { baseGeneration } : {}),
      backupId,
      bytes,
    };
  } finally {
    wipe(fileKey, payload, compressed, ...secrets);
    for (const part of parts) wipe(part);
  }
}
