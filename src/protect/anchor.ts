// Rollback anchors (SPEC §4.2): a small monotonic value kept by a platform outside the store, so an old
// copy of the whole store can be told from the current one. Two kinds of device: a TPM NV counter
// (incremented only, by the TPM itself) and a "blob" place that stores the few bytes the core writes
// (a PKCS#11 data object, an OS keyring item, a file on other storage). The configs are a contract and
// are validated completely before anything is opened; the TPM, token and keyring modules are loaded on
// first use only, like the protector drivers.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { CofferError } from '../errors.js';
import {
  type AnchorConfig,
  type AnchorDevice,
  type BlobAnchor,
  DEFAULT_NV_INDEX,
  type FileAnchorConfig,
  formatNvIndex,
  type KeyringAnchorConfig,
  OWNER_NV_RANGE,
  type Pkcs11AnchorConfig,
  type Tpm2AnchorConfig,
} from './types.js';

export {
  type AnchorConfig,
  type AnchorDevice,
  type BlobAnchor,
  type CounterAnchor,
  DEFAULT_NV_INDEX,
  DEFAULT_SEAL_EVERY_MS,
  type FileAnchorConfig,
  formatNvIndex,
  type KeyringAnchorConfig,
  OWNER_NV_RANGE,
  type Pkcs11AnchorConfig,
  type Tpm2AnchorConfig,
} from './types.js';

const MAX_NAME_BYTES = 256;

const FIELDS: Record<AnchorConfig['type'], readonly string[]> = {
  tpm2: ['type', 'nvIndex', 'tcti', 'name', 'sealEveryMs'],
  pkcs11: ['type', 'module', 'tokenLabel', 'pin', 'label', 'name', 'sealEveryMs'],
  keyring: ['type', 'service', 'account', 'name', 'sealEveryMs'],
  file: ['type', 'path', 'name', 'sealEveryMs'],
};

function text(config: Record<string, unknown>, field: string, what: string): string {
  const value = config[field];
  if (typeof value !== 'string' || value.length === 0)
    throw new CofferError('EINVAL', `${what} anchor needs a non-empty string ${field}`);
  return value;
}

/** The name the store keys this anchor's state by (SPEC §4.2): `name`, or one derived from the config. */
export function anchorName(config: AnchorConfig): string {
  if (config.name !== undefined) return config.name;
  switch (config.type) {
    case 'tpm2':
      return `tpm2:${formatNvIndex(config.nvIndex ?? DEFAULT_NV_INDEX)}`;
    case 'pkcs11':
      return `pkcs11:${config.tokenLabel}/${config.label}`;
    case 'keyring':
      return `keyring:${config.service}/${config.account}`;
    case 'file':
      return `file:${config.path}`;
  }
}

/**
 * Checks an anchor config completely (EINVAL, E2BIG for an over-long name) without touching any
 * platform, and returns it with defaults filled in.
 */
export async function validateAnchorConfig(config: unknown): Promise<AnchorConfig> {
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new CofferError('EINVAL', 'anchor must be an object');
  const c = config as Record<string, unknown>;
  const type = c.type;
  if (type !== 'tpm2' && type !== 'pkcs11' && type !== 'keyring' && type !== 'file')
    throw new CofferError('EINVAL', 'anchor type must be one of tpm2, pkcs11, keyring, file');
  for (const field of Object.keys(c)) {
    if (!FIELDS[type].includes(field))
      throw new CofferError(
        'EINVAL',
        `${type} anchor has an unknown field ${JSON.stringify(field.slice(0, 32))}`,
      );
  }
  if (c.sealEveryMs !== undefined) {
    const ms = c.sealEveryMs;
    if (!Number.isSafeInteger(ms) || (ms as number) < 100 || (ms as number) > 86_400_000)
      throw new CofferError('EINVAL', 'sealEveryMs must be an integer from 100 to 86400000');
  }
  let out: AnchorConfig;
  switch (type) {
    case 'tpm2': {
      const nvIndex = c.nvIndex ?? DEFAULT_NV_INDEX;
      if (
        !Number.isSafeInteger(nvIndex) ||
        (nvIndex as number) < OWNER_NV_RANGE[0] ||
        (nvIndex as number) > OWNER_NV_RANGE[1]
      ) {
        throw new CofferError(
          'EINVAL',
          `tpm2 anchor nvIndex must be in the owner range ${formatNvIndex(OWNER_NV_RANGE[0])}–${formatNvIndex(OWNER_NV_RANGE[1])}`,
        );
      }
      if (c.tcti !== undefined)
        (await import('./tpm2/config.js')).parseConfig({ type: 'tpm2', tcti: c.tcti });
      out = { ...(c as unknown as Tpm2AnchorConfig), nvIndex: nvIndex as number };
      break;
    }
    case 'pkcs11': {
      const token = await import('./pkcs11/token.js');
      const options: (o: unknown) => void = token.validateTokenOptions;
      const label: (name: string, l: unknown) => void = token.validateObjectLabel;
      options({ module: c.module, tokenLabel: c.tokenLabel, pin: c.pin });
      label('label', c.label);
      out = c as unknown as Pkcs11AnchorConfig;
      break;
    }
    case 'keyring': {
      const validate: (o: unknown) => void = (await import('./keyring/driver.js')).validateKeyringConfig;
      validate({ type: 'keyring', service: c.service, account: c.account });
      out = c as unknown as KeyringAnchorConfig;
      break;
    }
    case 'file': {
      const path = text(c, 'path', 'file');
      if (!isAbsolute(path) || path.includes('\0'))
        throw new CofferError('EINVAL', 'file anchor path must be an absolute path');
      out = c as unknown as FileAnchorConfig;
      break;
    }
  }
  if (c.name !== undefined) {
    if (typeof c.name !== 'string' || c.name.length === 0 || /\p{Cc}/u.test(c.name))
      throw new CofferError('EINVAL', 'anchor name must be a non-empty string without control characters');
  }
  if (Buffer.byteLength(anchorName(out)) > MAX_NAME_BYTES)
    throw new CofferError(
      'E2BIG',
      `anchor name must be at most ${MAX_NAME_BYTES} bytes (give a shorter name)`,
    );
  return out;
}

/**
 * An anchor named in one line of configuration (`COFFER_ANCHOR` for the CLI and the daemon,
 * docs/protectors.md): a JSON config object, or the short forms `file:/ABS/PATH`, `tpm2`,
 * `tpm2:0x01800CF0`, `keyring:SERVICE/ACCOUNT`. Returns the config object; validate it with
 * validateAnchorConfig (the PKCS#11 form, which needs a PIN, is JSON only).
 */
export function parseAnchorSpec(text: string): unknown {
  const spec = text.trim();
  if (spec.startsWith('{')) {
    try {
      return JSON.parse(spec);
    } catch {
      throw new CofferError('EINVAL', 'the anchor is not valid JSON');
    }
  }
  if (spec.startsWith('file:')) return { type: 'file', path: spec.slice('file:'.length) };
  if (spec === 'tpm2') return { type: 'tpm2' };
  if (spec.startsWith('tpm2:')) {
    const index = spec.slice('tpm2:'.length);
    if (!/^0x[0-9a-fA-F]{1,8}$/.test(index))
      throw new CofferError('EINVAL', 'tpm2 anchor index must be hex, e.g. tpm2:0x01800CF0');
    return { type: 'tpm2', nvIndex: Number.parseInt(index, 16) };
  }
  if (spec.startsWith('keyring:')) {
    const rest = spec.slice('keyring:'.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) throw new CofferError('EINVAL', 'keyring anchor must be keyring:SERVICE/ACCOUNT');
    return { type: 'keyring', service: rest.slice(0, slash), account: rest.slice(slash + 1) };
  }
  throw new CofferError(
    'EINVAL',
    'anchor must be file:/ABS/PATH, tpm2, tpm2:0xINDEX, keyring:SERVICE/ACCOUNT or a JSON config object',
  );
}

/** Opens the platform behind an anchor config (loading its module on first use). */
export async function openAnchorDevice(config: AnchorConfig): Promise<AnchorDevice> {
  switch (config.type) {
    case 'tpm2':
      return (await import('./tpm2/counter.js')).openTpmCounter(
        config.nvIndex ?? DEFAULT_NV_INDEX,
        config.tcti,
      );
    case 'pkcs11':
      return (await import('./pkcs11/data-object.js')).openDataObjectAnchor(config);
    case 'keyring':
      return (await import('./keyring/anchor.js')).openKeyringAnchor(config.service, config.account);
    case 'file':
      return new FileAnchor(config.path);
  }
}

/** Files larger than this are not anchors (the blob is a few hundred bytes). */
const MAX_FILE_BYTES = 64 * 1024;

/** The anchor blob in a file, replaced atomically: temp → fsync → rename → fsync directory. */
export class FileAnchor implements BlobAnchor {
  readonly kind = 'blob';
  constructor(readonly path: string) {}

  async read(): Promise<Uint8Array | undefined> {
    try {
      const bytes = await readFile(this.path);
      if (bytes.length > MAX_FILE_BYTES)
        throw new CofferError('EBADMSG', `anchor file ${this.path} is not an anchor (too large)`);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (error instanceof CofferError) throw error;
      throw new CofferError(
        'EUNAVAIL',
        `cannot read anchor file ${this.path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    const dir = dirname(this.path);
    const temp = join(dir, `.coffer-anchor-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
      const directory = await open(dir, 'r');
      try {
        await directory.sync();
      } finally {
        await directory.close();
      }
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw new CofferError(
        'EUNAVAIL',
        `cannot write anchor file ${this.path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  }

  async close(): Promise<void> {}
}
