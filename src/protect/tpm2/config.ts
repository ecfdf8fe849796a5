// Config and keyslot-state codecs of the TPM 2.0 protector (SPEC "TPM 2.0 protector"). Everything here
// is pure validation: the driver calls it before it spawns any tool, so bad input is EINVAL and no TPM
// work happens. The config object is a contract ({ type: 'tpm2', tcti?, pcrs? }); the state is what the
// keyslot record persists and carries no secret (the sealed private blob is encrypted by the TPM).

import { decodeBase64 } from '../../base64.js';
import { CofferError } from '../../errors.js';
import { isPlainObject } from '../../plain-object.js';

export interface Tpm2Config {
  type: 'tpm2';
  /** TCTI string for tpm2-tools (`device:/dev/tpmrm0`, `swtpm:host=…,port=…`, `tabrmd`); default: theirs. */
  tcti?: string;
  /** PCRs the KEK is bound to: `'sha256:0,7'` (tpm2-tools syntax, banks joined by `+`) or `[0, 7]` (sha256). */
  pcrs?: string | number[];
}

export const PCR_BANKS = ['sha1', 'sha256', 'sha384', 'sha512'] as const;
export type PcrBank = (typeof PCR_BANKS)[number];

/** PC Client platforms have 24 PCRs (TCG PC Client Platform TPM Profile §4.6.1). */
export const PCR_COUNT = 24;

export interface PcrBankSelection {
  bank: PcrBank;
  /** Ascending, without duplicates, each in [0, 23]. */
  pcrs: readonly number[];
}

/** Canonical, non-empty selection: banks in PCR_BANKS order, each bank at most once. */
export type PcrSelection = readonly PcrBankSelection[];

export interface ParsedTpm2Config {
  tcti: string | undefined;
  pcrs: PcrSelection | null;
}

/** Identifies the fixed primary-key template (SPEC: "Storage primary"); the driver maps it to tool args. */
export const PRIMARY_TEMPLATE = 'ecc-p256-aes128cfb-v1';

export interface Tpm2State {
  version: 1;
  hierarchy: 'owner';
  template: typeof PRIMARY_TEMPLATE;
  /** Canonical PCR selection string, or null when the object is not PCR-bound. */
  pcrs: string | null;
  /** Hex PolicyPCR digest (sha256) the sealed object requires, or null. Informative: the TPM enforces it. */
  policyDigest: string | null;
  /** Base64 of the sealed object's TPM2B_PUBLIC. */
  sealedPublic: string;
  /** Base64 of the sealed object's TPM2B_PRIVATE (encrypted under the storage primary). */
  sealedPrivate: string;
}

const CONFIG_KEYS = new Set(['type', 'tcti', 'pcrs']);
const STATE_KEYS = [
  'version',
  'hierarchy',
  'template',
  'pcrs',
  'policyDigest',
  'sealedPublic',
  'sealedPrivate',
] as const;
const MAX_TCTI_LENGTH = 256;
// A TCTI is `name` or `name:conf` (tss2-tctildr); printable ASCII only, and it cannot start with '-' so
// even when passed with -T it can never be read as an option.
const TCTI_PATTERN = /^[A-Za-z0-9_./][A-Za-z0-9_./-]*(:[\x20-\x7e]*)?$/;
const PCR_INDEX_PATTERN = /^(0|[1-9][0-9]?)$/;
/** Sealed blobs are ~100–200 bytes; anything near this bound is not a tpm2-tools blob. */
const MAX_BLOB_BYTES = 2048;

function invalid(message: string): CofferError {
  return new CofferError('EINVAL', message);
}

function isBank(value: string): value is PcrBank {
  return (PCR_BANKS as readonly string[]).includes(value);
}

function canonicalIndices(name: string, indices: readonly unknown[]): number[] {
  if (indices.length === 0)
    throw invalid(`${name} must select at least one PCR (omit it for no PCR binding)`);
  if (indices.length > 64) throw invalid(`${name} lists too many PCRs`);
  const out = new Set<number>();
  for (const index of indices) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= PCR_COUNT) {
      throw invalid(`${name}: PCR indices must be integers from 0 to ${PCR_COUNT - 1}`);
    }
    out.add(index);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * Parses the `pcrs` option. Accepted forms: a number array (sha256 bank), or a tpm2-tools selection
 * string `bank:i,j[+bank:k]` with bank ∈ sha1|sha256|sha384|sha512 and decimal indices 0–23. Indices
 * are sorted and de-duplicated; a bank named twice, an empty list or anything else is EINVAL.
 */
export function parsePcrSelection(value: unknown, name = 'pcrs'): PcrSelection {
  if (Array.isArray(value)) return [{ bank: 'sha256', pcrs: canonicalIndices(name, value) }];
  if (typeof value !== 'string') {
    throw invalid(`${name} must be a string like 'sha256:0,7' or an array of PCR indices`);
  }
  if (value.length === 0 || value.length > 512) {
    throw invalid(`${name} must be a non-empty selection like 'sha256:0,7'`);
  }
  const byBank = new Map<PcrBank, number[]>();
  for (const part of value.split('+')) {
    const colon = part.indexOf(':');
    const bank = colon < 0 ? part : part.slice(0, colon);
    if (!isBank(bank)) throw invalid(`${name}: PCR bank must be one of ${PCR_BANKS.join(', ')}`);
    if (colon < 0 || colon === part.length - 1) throw invalid(`${name}: bank ${bank} lists no PCRs`);
    if (byBank.has(bank)) throw invalid(`${name}: bank ${bank} is listed twice`);
    const indices = part
      .slice(colon + 1)
      .split(',')
      .map((text) => {
        if (!PCR_INDEX_PATTERN.test(text)) throw invalid(`${name}: '${text.slice(0, 8)}' is not a PCR index`);
        return Number(text);
      });
    byBank.set(bank, canonicalIndices(name, indices));
  }
  return PCR_BANKS.filter((bank) => byBank.has(bank)).map((bank) => ({ bank, pcrs: byBank.get(bank) ?? [] }));
}

/** The canonical tpm2-tools form, e.g. `sha256:0,7+sha384:1`: what the state stores and tools receive. */
export function formatPcrSelection(selection: PcrSelection): string {
  return selection.map(({ bank, pcrs }) => `${bank}:${pcrs.join(',')}`).join('+');
}

/** Validates the config object completely (unknown keys included) before any TPM work. */
export function parseConfig(config: unknown): ParsedTpm2Config {
  if (!isPlainObject(config)) throw invalid('tpm2 protector config must be an object');
  if (config.type !== 'tpm2') throw invalid("tpm2 protector config must have type 'tpm2'");
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.has(key))
      throw invalid(`tpm2 protector config has an unknown option '${key.slice(0, 32)}'`);
  }
  let tcti: string | undefined;
  if (config.tcti !== undefined) {
    if (
      typeof config.tcti !== 'string' ||
      config.tcti.length > MAX_TCTI_LENGTH ||
      !TCTI_PATTERN.test(config.tcti)
    ) {
      throw invalid(
        `tcti must be a TCTI string such as 'device:/dev/tpmrm0' or 'swtpm:host=127.0.0.1,port=2321' (at most ${MAX_TCTI_LENGTH} printable characters)`,
      );
    }
    tcti = config.tcti;
  }
  const pcrs = config.pcrs === undefined ? null : parsePcrSelection(config.pcrs);
  return { tcti, pcrs };
}

function decodeBlob(name: string, value: unknown): Uint8Array {
  if (typeof value !== 'string' || value.length === 0 || value.length > (MAX_BLOB_BYTES * 4) / 3 + 4) {
    throw invalid(`tpm2 keyslot state: ${name} must be a non-empty base64 string`);
  }
  let bytes: Buffer;
  try {
    const decoded = decodeBase64(value, 'base64', name);
    bytes = Buffer.from(decoded.buffer, decoded.byteOffset, decoded.byteLength);
  } catch {
    throw invalid(`tpm2 keyslot state: ${name} is not canonical base64`);
  }
  // Both blobs are TPM2B structures: a big-endian uint16 size, then exactly that many bytes.
  if (bytes.length < 3 || bytes.readUInt16BE(0) !== bytes.length - 2) {
    throw invalid(`tpm2 keyslot state: ${name} is not a TPM2B structure`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export interface ParsedTpm2State {
  state: Tpm2State;
  pcrs: PcrSelection | null;
  sealedPublic: Uint8Array;
  sealedPrivate: Uint8Array;
}

/** Strictly parses a persisted state (after a JSON round trip): exact keys, canonical encodings. */
export function parseState(value: unknown): ParsedTpm2State {
  if (!isPlainObject(value)) throw invalid('tpm2 keyslot state must be an object');
  const keys = Object.keys(value).sort();
  if (keys.join(',') !== [...STATE_KEYS].sort().join(',')) {
    throw invalid(`tpm2 keyslot state must have exactly the fields ${STATE_KEYS.join(', ')}`);
  }
  if (value.version !== 1) throw invalid('tpm2 keyslot state has an unsupported version');
  if (value.hierarchy !== 'owner') throw invalid("tpm2 keyslot state: hierarchy must be 'owner'");
  if (value.template !== PRIMARY_TEMPLATE) {
    throw invalid(`tpm2 keyslot state: unknown primary template (expected ${PRIMARY_TEMPLATE})`);
  }
  let pcrs: PcrSelection | null = null;
  if (value.pcrs !== null) {
    pcrs = parsePcrSelection(value.pcrs, 'tpm2 keyslot state pcrs');
    if (formatPcrSelection(pcrs) !== value.pcrs) throw invalid('tpm2 keyslot state: pcrs is not canonical');
    if (typeof value.policyDigest !== 'string' || !/^[0-9a-f]{64}$/.test(value.policyDigest)) {
      throw invalid('tpm2 keyslot state: a PCR-bound slot needs a 32-byte hex policyDigest');
    }
  } else if (value.policyDigest !== null) {
    throw invalid('tpm2 keyslot state: policyDigest must be null when no PCRs are bound');
  }
  const sealedPublic = decodeBlob('sealedPublic', value.sealedPublic);
  const sealedPrivate = decodeBlob('sealedPrivate', value.sealedPrivate);
  const state: Tpm2State = {
    version: 1,
    hierarchy: 'owner',
    template: PRIMARY_TEMPLATE,
    pcrs: pcrs === null ? null : formatPcrSelection(pcrs),
    policyDigest: value.policyDigest as string | null,
    sealedPublic: value.sealedPublic as string,
    sealedPrivate: value.sealedPrivate as string,
  };
  return { state, pcrs, sealedPublic, sealedPrivate };
}

/** Builds the JSON-safe state the driver returns from create. */
export function buildState(
  pcrs: PcrSelection | null,
  policyDigest: Uint8Array | null,
  sealedPublic: Uint8Array,
  sealedPrivate: Uint8Array,
): Tpm2State {
  return {
    version: 1,
    hierarchy: 'owner',
    template: PRIMARY_TEMPLATE,
    pcrs: pcrs === null ? null : formatPcrSelection(pcrs),
    policyDigest: policyDigest === null ? null : Buffer.from(policyDigest).toString('hex'),
    sealedPublic: Buffer.from(sealedPublic).toString('base64'),
    sealedPrivate: Buffer.from(sealedPrivate).toString('base64'),
  };
}
