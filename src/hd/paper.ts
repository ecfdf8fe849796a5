// Mnemonic paper backup: the sentence as a QR code for a terminal (Unicode half blocks, two module
// rows per text line), as SVG (QR plus the numbered words, ready to print) and as PNG. The sentence
// is checked and put in canonical form (single separators, list spelling) first, so a typo never
// ends up on paper. These outputs ARE the secret: callers print them and must not log or store them.
import {
  type Bip39Language,
  type Bip39Wordlist,
  entropyToMnemonic,
  mnemonicToEntropy,
} from '../crypto/bip39.js';
import { wipe } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import { encodePng } from './png.js';
import { encodeQr, type QrCode } from './qr.js';

export interface RenderOptions {
  /** Light modules around the symbol; the standard asks for 4 (default 4). */
  quietZone?: number;
}

export interface TerminalOptions extends RenderOptions {
  /**
   * true (default) for a light-on-dark terminal: glyphs draw the *light* modules, as `qrencode -t UTF8`
   * does. false for dark-on-light (printed logs, light themes).
   */
  lightOnDark?: boolean;
}

export interface ImageOptions extends RenderOptions {
  /** Pixels (PNG) or user units (SVG) per module (default 8). */
  moduleSize?: number;
}

function readInteger(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new CofferError('EINVAL', `${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function assertQr(qr: unknown): asserts qr is QrCode {
  const q = qr as QrCode;
  if (typeof q !== 'object' || q === null || !Array.isArray(q.modules) || q.modules.length !== q.size) {
    throw new CofferError('EINVAL', 'qr must be a QrCode from encodeQr');
  }
}

/** Module at (x, y) of the symbol with its quiet zone; outside the symbol is light. */
function darkAt(qr: QrCode, quiet: number, x: number, y: number): boolean {
  const mx = x - quiet;
  const my = y - quiet;
  return mx >= 0 && my >= 0 && mx < qr.size && my < qr.size && qr.modules[my]![mx] === true;
}

/** The QR code as lines of Unicode half blocks (▀ ▄ █ and space). */
export function renderQrTerminal(qr: QrCode, options: TerminalOptions = {}): string {
  assertQr(qr);
  const quiet = readInteger('quietZone', options.quietZone, 4, 0, 16);
  if (options.lightOnDark !== undefined && typeof options.lightOnDark !== 'boolean') {
    throw new CofferError('EINVAL', 'lightOnDark must be a boolean');
  }
  const lightOnDark = options.lightOnDark ?? true;
  const full = qr.size + 2 * quiet;
  const lines: string[] = [];
  for (let y = 0; y < full; y += 2) {
    let line = '';
    for (let x = 0; x < full; x++) {
      // A glyph is drawn where the module has the "ink" colour of this terminal.
      const top = darkAt(qr, quiet, x, y) !== lightOnDark;
      const bottom = y + 1 < full ? darkAt(qr, quiet, x, y + 1) !== lightOnDark : false;
      line += top ? (bottom ? '█' : '▀') : bottom ? '▄' : ' ';
    }
    lines.push(line);
  }
  return `${lines.join('\n')}\n`;
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The QR code as a standalone SVG; `caption` lines are printed under it (e.g. the numbered words). */
export function renderQrSvg(qr: QrCode, options: ImageOptions & { caption?: string[] } = {}): string {
  assertQr(qr);
  const quiet = readInteger('quietZone', options.quietZone, 4, 0, 16);
  const unit = readInteger('moduleSize', options.moduleSize, 8, 1, 64);
  const caption = options.caption ?? [];
  if (!Array.isArray(caption) || !caption.every((line) => typeof line === 'string')) {
    throw new CofferError('EINVAL', 'caption must be an array of strings');
  }
  const side = (qr.size + 2 * quiet) * unit;
  const lineHeight = Math.max(14, unit * 2);
  const height = side + (caption.length > 0 ? (caption.length + 1) * lineHeight : 0);
  let path = '';
  for (let y = 0; y < qr.size; y++) {
    for (let x = 0; x < qr.size; x++) {
      if (qr.modules[y]![x]) path += `M${(x + quiet) * unit} ${(y + quiet) * unit}h${unit}v${unit}h-${unit}z`;
    }
  }
  const text = caption
    .map(
      (line, i) =>
        `<text x="${quiet * unit}" y="${side + (i + 1) * lineHeight}" font-family="monospace" font-size="${lineHeight - 2}">${escapeXml(line)}</text>`,
    )
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${height}" viewBox="0 0 ${side} ${height}" shape-rendering="crispEdges">` +
    `<rect width="${side}" height="${height}" fill="#fff"/><path fill="#000" d="${path}"/>${text}</svg>\n`
  );
}

/** The QR code as an 8-bit greyscale PNG. */
export function renderQrPng(qr: QrCode, options: ImageOptions = {}): Uint8Array {
  assertQr(qr);
  const quiet = readInteger('quietZone', options.quietZone, 4, 0, 16);
  const unit = readInteger('moduleSize', options.moduleSize, 8, 1, 64);
  const side = (qr.size + 2 * quiet) * unit;
  return encodePng(side, side, (x, y) =>
    darkAt(qr, quiet, Math.floor(x / unit), Math.floor(y / unit)) ? 0 : 255,
  );
}

export interface PaperBackup {
  /** The canonical sentence that was encoded. */
  mnemonic: string;
  qr: QrCode;
  terminal: string;
  svg: string;
  png: Uint8Array;
}

/**
 * Renders a mnemonic for a paper backup. EINVAL unless the sentence is valid in `language` (default
 * English); the QR code holds the canonical sentence as UTF-8, which wallets scan directly.
 */
export function mnemonicPaperBackup(
  mnemonic: string,
  options: {
    language?: Bip39Language | Bip39Wordlist;
    terminal?: TerminalOptions;
    image?: ImageOptions;
  } = {},
): PaperBackup {
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'options must be an object');
  const entropy = mnemonicToEntropy(mnemonic, options.language ?? 'english');
  let canonical: string;
  try {
    canonical = entropyToMnemonic(entropy, options.language ?? 'english');
  } finally {
    wipe(entropy);
  }
  const bytes = new TextEncoder().encode(canonical);
  let qr: QrCode;
  try {
    qr = encodeQr(bytes);
  } finally {
    wipe(bytes);
  }
  const words = canonical.split(/\s+/u);
  const caption: string[] = [];
  for (let i = 0; i < words.length; i += 4) {
    caption.push(
      words
        .slice(i, i + 4)
        .map((word, j) => `${String(i + j + 1).padStart(2, ' ')}. ${word.padEnd(9, ' ')}`)
        .join(' ')
        .trimEnd(),
    );
  }
  return {
    mnemonic: canonical,
    qr,
    terminal: renderQrTerminal(qr, options.terminal),
    svg: renderQrSvg(qr, { ...options.image, caption }),
    png: renderQrPng(qr, options.image),
  };
}
