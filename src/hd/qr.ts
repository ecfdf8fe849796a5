// A QR Code encoder (ISO/IEC 18004:2015) for mnemonic paper backups: byte mode, error correction
// level M, versions 1–40, all eight masks scored with the standard penalty rules. Written here
// rather than taken from npm because the project adds no dependency for it; proven by decoding its
// output with an independent decoder (zbarimg) in qr.test.ts. Capacities follow from two per-version
// tables (EC codewords per block, number of blocks) and the module count, as the standard's
// Table 9 does.
import { CofferError } from '../errors.js';

/** A square of modules; `true` is dark. */
export interface QrCode {
  version: number;
  size: number;
  mask: number;
  modules: boolean[][];
}

// ISO/IEC 18004 Table 9, level M: EC codewords per block and number of blocks, versions 1..40.
const EC_PER_BLOCK_M = [
  10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28,
  28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28,
];
const BLOCKS_M = [
  1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29,
  31, 33, 35, 37, 38, 40, 43, 45, 47, 49,
];
/** Format information: level M is 00 (Table 12). */
const EC_LEVEL_BITS_M = 0;
export const MAX_VERSION = 40;

/** Modules left for data and EC codewords after every function pattern (standard §7.1). */
function rawDataModules(version: number): number {
  let result = (16 * version + 128) * version + 64;
  if (version >= 2) {
    const align = Math.floor(version / 7) + 2;
    result -= (25 * align - 10) * align - 55;
    if (version >= 7) result -= 36;
  }
  return result;
}

function dataCodewords(version: number): number {
  return Math.floor(rawDataModules(version) / 8) - EC_PER_BLOCK_M[version - 1]! * BLOCKS_M[version - 1]!;
}

/** Bytes that fit in byte mode at level M (mode 4 bits + count 8/16 bits). */
export function byteCapacity(version: number): number {
  const countBits = version <= 9 ? 8 : 16;
  return Math.floor((dataCodewords(version) * 8 - 4 - countBits) / 8);
}

// ---- Reed–Solomon over GF(256), polynomial x^8+x^4+x^3+x^2+1 (0x11D) -------------------------------

function gfMultiply(x: number, y: number): number {
  let z = 0;
  for (let i = 7; i >= 0; i--) {
    z = (z << 1) ^ ((z >>> 7) * 0x11d);
    z ^= ((y >>> i) & 1) * x;
  }
  return z & 0xff;
}

/** Generator polynomial ∏ (x − α^i), i < degree, highest coefficient (1) omitted. */
function rsDivisor(degree: number): number[] {
  const result = new Array<number>(degree).fill(0);
  result[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < degree; j++) {
      result[j] = gfMultiply(result[j]!, root);
      if (j + 1 < degree) result[j] = result[j]! ^ result[j + 1]!;
    }
    root = gfMultiply(root, 0x02);
  }
  return result;
}

function rsRemainder(data: number[], divisor: number[]): number[] {
  const result = new Array<number>(divisor.length).fill(0);
  for (const byte of data) {
    const factor = byte ^ result.shift()!;
    result.push(0);
    divisor.forEach((coefficient, i) => {
      result[i] = result[i]! ^ gfMultiply(coefficient, factor);
    });
  }
  return result;
}

// ---- codewords -----------------------------------------------------------------------------------

function chooseVersion(length: number, minVersion: number): number {
  for (let version = minVersion; version <= MAX_VERSION; version++) {
    if (length <= byteCapacity(version)) return version;
  }
  throw new CofferError(
    'E2BIG',
    `${length} bytes do not fit in a QR code (level M holds ${byteCapacity(MAX_VERSION)})`,
  );
}

function dataBits(data: Uint8Array, version: number): number[] {
  const bits: number[] = [];
  const push = (value: number, length: number) => {
    for (let i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  push(0b0100, 4); // byte mode
  push(data.length, version <= 9 ? 8 : 16);
  for (const byte of data) push(byte, 8);
  const capacity = dataCodewords(version) * 8;
  push(0, Math.min(4, capacity - bits.length)); // terminator
  push(0, (8 - (bits.length % 8)) % 8);
  for (let pad = 0xec; bits.length < capacity; pad ^= 0xec ^ 0x11) push(pad, 8);
  return bits;
}

/** Data codewords split into blocks, each followed by its EC codewords, interleaved (§7.6). */
function codewords(data: Uint8Array, version: number): number[] {
  const bits = dataBits(data, version);
  const bytes: number[] = [];
  for (let i = 0; i < bits.length; i += 8) bytes.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));
  const blockCount = BLOCKS_M[version - 1]!;
  const ecLength = EC_PER_BLOCK_M[version - 1]!;
  const rawCodewords = Math.floor(rawDataModules(version) / 8);
  const shortBlocks = blockCount - (rawCodewords % blockCount);
  const shortLength = Math.floor(rawCodewords / blockCount);
  const divisor = rsDivisor(ecLength);
  const blocks: number[][] = [];
  for (let i = 0, k = 0; i < blockCount; i++) {
    const dataLength = shortLength - ecLength + (i < shortBlocks ? 0 : 1);
    const block = bytes.slice(k, k + dataLength);
    k += dataLength;
    const ec = rsRemainder(block, divisor);
    // Short blocks get a placeholder so every block interleaves by the same column index.
    if (i < shortBlocks) block.push(-1);
    blocks.push([...block, ...ec]);
  }
  const out: number[] = [];
  for (let column = 0; column < blocks[0]!.length; column++) {
    for (const block of blocks) {
      const value = block[column]!;
      if (value !== -1) out.push(value);
    }
  }
  return out;
}

// ---- matrix ----------------------------------------------------------------------------------------

function alignmentPositions(version: number): number[] {
  if (version === 1) return [];
  const count = Math.floor(version / 7) + 2;
  const step = version === 32 ? 26 : Math.ceil((version * 4 + 4) / (count * 2 - 2)) * 2;
  const result = [6];
  for (let position = version * 4 + 10; result.length < count; position -= step)
    result.splice(1, 0, position);
  return result;
}

class Matrix {
  readonly size: number;
  readonly modules: boolean[][];
  readonly reserved: boolean[][];

  constructor(readonly version: number) {
    this.size = version * 4 + 17;
    this.modules = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
    this.reserved = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
  }

  set(x: number, y: number, dark: boolean): void {
    this.modules[y]![x] = dark;
    this.reserved[y]![x] = true;
  }

  drawFunctionPatterns(): void {
    const n = this.size;
    for (let i = 0; i < n; i++) {
      this.set(6, i, i % 2 === 0);
      this.set(i, 6, i % 2 === 0);
    }
    for (const [cx, cy] of [
      [3, 3],
      [n - 4, 3],
      [3, n - 4],
    ] as const) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const x = cx + dx;
          const y = cy + dy;
          const distance = Math.max(Math.abs(dx), Math.abs(dy));
          if (x >= 0 && x < n && y >= 0 && y < n) this.set(x, y, distance !== 2 && distance !== 4);
        }
      }
    }
    const positions = alignmentPositions(this.version);
    const last = positions.length - 1;
    positions.forEach((cx, i) => {
      positions.forEach((cy, j) => {
        // No alignment pattern on top of the three finder patterns.
        if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++)
            this.set(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
        }
      });
    });
    this.drawFormat(0); // reserves the format areas; redrawn with the real mask later
    this.drawVersion();
  }

  drawFormat(mask: number): void {
    const data = (EC_LEVEL_BITS_M << 3) | mask;
    let remainder = data;
    for (let i = 0; i < 10; i++) remainder = (remainder << 1) ^ ((remainder >>> 9) * 0x537);
    const bits = ((data << 10) | remainder) ^ 0x5412;
    const bit = (i: number) => ((bits >>> i) & 1) !== 0;
    const n = this.size;
    for (let i = 0; i <= 5; i++) this.set(8, i, bit(i));
    this.set(8, 7, bit(6));
    this.set(8, 8, bit(7));
    this.set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) this.set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) this.set(n - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) this.set(8, n - 15 + i, bit(i));
    this.set(8, n - 8, true); // the dark module
  }

  drawVersion(): void {
    if (this.version < 7) return;
    let remainder = this.version;
    for (let i = 0; i < 12; i++) remainder = (remainder << 1) ^ ((remainder >>> 11) * 0x1f25);
    const bits = (this.version << 12) | remainder;
    for (let i = 0; i < 18; i++) {
      const dark = ((bits >>> i) & 1) !== 0;
      const a = this.size - 11 + (i % 3);
      const b = Math.floor(i / 3);
      this.set(a, b, dark);
      this.set(b, a, dark);
    }
  }

  /** Zigzag placement of §7.7.3, two columns at a time from the bottom right, skipping column 6. */
  drawCodewords(data: number[]): void {
    let i = 0;
    const n = this.size;
    for (let right = n - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (let vertical = 0; vertical < n; vertical++) {
        for (let j = 0; j < 2; j++) {
          const x = right - j;
          const upward = ((right + 1) & 2) === 0;
          const y = upward ? n - 1 - vertical : vertical;
          if (!this.reserved[y]![x] && i < data.length * 8) {
            this.modules[y]![x] = ((data[i >>> 3]! >>> (7 - (i & 7))) & 1) !== 0;
            i++;
          }
        }
      }
    }
  }

  applyMask(mask: number): void {
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) {
        if (this.reserved[y]![x]) continue;
        let invert: boolean;
        switch (mask) {
          case 0:
            invert = (x + y) % 2 === 0;
            break;
          case 1:
            invert = y % 2 === 0;
            break;
          case 2:
            invert = x % 3 === 0;
            break;
          case 3:
            invert = (x + y) % 3 === 0;
            break;
          case 4:
            invert = (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0;
            break;
          case 5:
            invert = ((x * y) % 2) + ((x * y) % 3) === 0;
            break;
          case 6:
            invert = (((x * y) % 2) + ((x * y) % 3)) % 2 === 0;
            break;
          default:
            invert = (((x + y) % 2) + ((x * y) % 3)) % 2 === 0;
        }
        if (invert) this.modules[y]![x] = !this.modules[y]![x];
      }
    }
  }

  /** Penalty score of §7.8.3 (rules N1–N4), to pick the mask that scans best. */
  penalty(): number {
    const n = this.size;
    const m = this.modules;
    let score = 0;
    const finderLike = (line: boolean[]) => {
      let count = 0;
      const s = line.map((v) => (v ? '1' : '0')).join('');
      for (const pattern of ['10111010000', '00001011101']) {
        for (let at = s.indexOf(pattern); at !== -1; at = s.indexOf(pattern, at + 1)) count++;
      }
      return count;
    };
    for (let pass = 0; pass < 2; pass++) {
      for (let a = 0; a < n; a++) {
        const line = Array.from({ length: n }, (_, b) => (pass === 0 ? m[a]![b]! : m[b]![a]!));
        let run = 1;
        for (let b = 1; b <= n; b++) {
          if (b < n && line[b] === line[b - 1]) {
            run++;
          } else {
            if (run >= 5) score += run - 2;
            run = 1;
          }
        }
        // Light quiet zone around the symbol counts for finder-like patterns at the edges.
        score += 40 * finderLike([false, false, false, false, ...line, false, false, false, false]);
      }
    }
    for (let y = 0; y < n - 1; y++) {
      for (let x = 0; x < n - 1; x++) {
        const c = m[y]![x];
        if (c === m[y]![x + 1] && c === m[y + 1]![x] && c === m[y + 1]![x + 1]) score += 3;
      }
    }
    const dark = m.reduce((sum, row) => sum + row.filter(Boolean).length, 0);
    const total = n * n;
    score += (Math.ceil(Math.abs(dark * 20 - total * 10) / total) - 1) * 10;
    return score;
  }
}

/** Encodes bytes as a QR code (byte mode, level M) in the smallest version ≥ minVersion that fits. */
export function encodeQr(data: Uint8Array, options: { minVersion?: number; mask?: number } = {}): QrCode {
  if (!(data instanceof Uint8Array)) throw new CofferError('EINVAL', 'data must be a Uint8Array');
  const minVersion = options.minVersion ?? 1;
  if (!Number.isInteger(minVersion) || minVersion < 1 || minVersion > MAX_VERSION) {
    throw new CofferError('EINVAL', `minVersion must be 1 to ${MAX_VERSION}`);
  }
  if (
    options.mask !== undefined &&
    (!Number.isInteger(options.mask) || options.mask < 0 || options.mask > 7)
  ) {
    throw new CofferError('EINVAL', 'mask must be 0 to 7');
  }
  const version = chooseVersion(data.length, minVersion);
  const words = codewords(data, version);
  let best: { mask: number; modules: boolean[][]; score: number } | undefined;
  for (const mask of options.mask !== undefined ? [options.mask] : [0, 1, 2, 3, 4, 5, 6, 7]) {
    const matrix = new Matrix(version);
    matrix.drawFunctionPatterns();
    matrix.drawCodewords(words);
    matrix.applyMask(mask);
    matrix.drawFormat(mask);
    const score = options.mask !== undefined ? 0 : matrix.penalty();
    if (!best || score < best.score) best = { mask, modules: matrix.modules, score };
  }
  words.fill(0);
  return { version, size: version * 4 + 17, mask: best!.mask, modules: best!.modules };
}
