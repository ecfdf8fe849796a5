// Derivation paths of BIP-32 §"The key tree" / BIP-44 (`m/44'/0'/0'/0/1`) shared by the BIP-32 and
// SLIP-10 code: `'` or `h` (either case) marks a hardened index (index + 2^31). Strict on purpose:
// a typo in a path derives a different, valid-looking key, so anything unusual is EINVAL.
import { CofferError } from '../errors.js';

export const HARDENED_OFFSET = 0x8000_0000;
/** BIP-32 serialises depth in one byte. */
export const MAX_DEPTH = 255;
const MAX_PATH_CHARS = 4096;
const SEGMENT = /^(0|[1-9][0-9]{0,9})(['hH]?)$/;

export interface ParsedPath {
  /** True when the path starts at the master key (`m/…` or `m`). */
  absolute: boolean;
  indices: number[];
}

/** Parses `m/…` (absolute) or `0/1'` (relative); each index is < 2^31 before hardening. */
export function parsePath(path: unknown): ParsedPath {
  if (typeof path !== 'string') throw new CofferError('EINVAL', 'path must be a string');
  if (path.length > MAX_PATH_CHARS) throw new CofferError('E2BIG', 'path is too long');
  const parts = path.split('/');
  const absolute = parts[0] === 'm';
  const segments = absolute ? parts.slice(1) : parts;
  if (!absolute && path.length === 0) throw new CofferError('EINVAL', 'path must not be empty');
  if (segments.length > MAX_DEPTH) throw new CofferError('EINVAL', `a path has at most ${MAX_DEPTH} levels`);
  const indices = segments.map((segment) => {
    const match = SEGMENT.exec(segment);
    if (!match) throw new CofferError('EINVAL', `malformed path segment '${segment}' in ${path}`);
    const index = Number(match[1]);
    if (index >= HARDENED_OFFSET) {
      throw new CofferError('EINVAL', `path index ${index} is ≥ 2^31 (mark hardened indices with ')`);
    }
    return match[2] ? index + HARDENED_OFFSET : index;
  });
  return { absolute, indices };
}

/** The canonical text of a path (apostrophe for hardened), e.g. for labels. */
export function formatPath(indices: readonly number[]): string {
  return ['m', ...indices.map((i) => (i >= HARDENED_OFFSET ? `${i - HARDENED_OFFSET}'` : String(i)))].join(
    '/',
  );
}

export function isHardened(index: number): boolean {
  return index >= HARDENED_OFFSET;
}

/** Throws EINVAL unless index is a uint32 child index. */
export function assertChildIndex(index: unknown): asserts index is number {
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 0xffff_ffff) {
    throw new CofferError('EINVAL', 'child index must be an integer from 0 to 2^32 - 1');
  }
}

export function ser32(index: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, index, false);
  return out;
}
