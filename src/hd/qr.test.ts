// The QR encoder and paper backup proven by an independent decoder: every PNG is read back with
// zbarimg (Debian zbar-tools, installed by scripts/test-deps.sh) and must give the exact bytes that
// were encoded — random binary payloads in every version 1–40, every one of the eight masks, and
// random 12- and 24-word mnemonics. The terminal and SVG renderings are parsed back into modules and
// must equal the encoder's matrix; the PNG's CRCs are checked against node:zlib.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inflateSync, crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { entropyToMnemonic, validateMnemonic } from '../crypto/bip39.js';
import english from '../crypto/wordlists/english.js';
import { CofferError } from '../errors.js';
import { mnemonicPaperBackup, renderQrPng, renderQrSvg, renderQrTerminal } from './paper.js';
import { crc32 } from './png.js';
import { byteCapacity, encodeQr, MAX_VERSION, type QrCode } from './qr.js';

const work = mkdtempSync(join(tmpdir(), 'coffer-qr-'));
after(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
/** Decodes a PNG with zbarimg; -Sbinary returns the payload bytes untouched. */
function zbar(png: Uint8Array): Buffer {
  const file = join(work, `qr-${counter++}.png`);
  writeFileSync(file, png);
  try {
    return execFileSync('zbarimg', ['-q', '--raw', '-Sbinary', file], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('zbarimg is not installed: run scripts/test-deps.sh (package zbar-tools)');
    }
    throw new Error(`zbarimg could not decode ${file}`);
  } finally {
    rmSync(file, { force: true });
  }
}

test('zbarimg decodes random binary payloads in every version 1–40', () => {
  let state = 42; // a fixed LCG stream: reproducible payloads
  const next = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state;
  };
  for (let version = 1; version <= MAX_VERSION; version++) {
    // A length that needs exactly this version: more than the previous version holds.
    const min = version === 1 ? 1 : byteCapacity(version - 1) + 1;
    const length = min + (next() % (byteCapacity(version) - min + 1));
    const data = Uint8Array.from({ length }, () => next() & 0xff);
    const qr = encodeQr(data);
    assert.equal(qr.version, version);
    assert.equal(qr.size, 17 + 4 * version);
    assert.deepEqual(new Uint8Array(zbar(renderQrPng(qr, { moduleSize: version > 10 ? 2 : 3 }))), data);
  }
});

test('every mask decodes; capacity and argument errors', () => {
  const data = new TextEncoder().encode('coffer mask test 0123456789');
  for (let mask = 0; mask < 8; mask++) {
    const qr = encodeQr(data, { mask, minVersion: 3 });
    assert.equal(qr.mask, mask);
    assert.deepEqual(new Uint8Array(zbar(renderQrPng(qr))), data);
  }
  assert.equal(byteCapacity(1), 14);
  assert.equal(byteCapacity(10), 213);
  assert.equal(byteCapacity(40), 2331);
  const tooBig = (run: () => unknown, code: string) =>
    assert.throws(run, (e: unknown) => e instanceof CofferError && e.code === code);
  tooBig(() => encodeQr(new Uint8Array(2332)), 'E2BIG');
  tooBig(() => encodeQr('text' as unknown as Uint8Array), 'EINVAL');
  tooBig(() => encodeQr(data, { mask: 8 }), 'EINVAL');
  tooBig(() => encodeQr(data, { minVersion: 41 }), 'EINVAL');
  tooBig(() => renderQrPng(encodeQr(data), { moduleSize: 0 }), 'EINVAL');
  tooBig(() => renderQrTerminal(encodeQr(data), { quietZone: -1 }), 'EINVAL');
  tooBig(() => renderQrSvg({} as QrCode), 'EINVAL');
});

/** Reads the half-block rendering back into modules (light-on-dark: a glyph half is a light module). */
function parseTerminal(text: string, quiet: number, size: number, lightOnDark: boolean): boolean[][] {
  const full = size + 2 * quiet;
  const rows: boolean[][] = Array.from({ length: full }, () => new Array<boolean>(full).fill(false));
  text
    .split('\n')
    .filter((l) => l.length > 0)
    .forEach((line, i) => {
      [...line].forEach((char, x) => {
        const top = char === '█' || char === '▀';
        const bottom = char === '█' || char === '▄';
        rows[2 * i]![x] = top !== lightOnDark;
        if (2 * i + 1 < full) rows[2 * i + 1]![x] = bottom !== lightOnDark;
      });
    });
  return rows.slice(quiet, quiet + size).map((row) => row.slice(quiet, quiet + size));
}

/** Reads the SVG path (one `M x y h v h z` square per dark module) back into modules. */
function parseSvg(svg: string, quiet: number, unit: number, size: number): boolean[][] {
  const rows: boolean[][] = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  const d = /<path fill="#000" d="([^"]*)"/.exec(svg)![1]!;
  for (const match of d.matchAll(/M(\d+) (\d+)h/g)) {
    rows[Number(match[2]) / unit - quiet]![Number(match[1]) / unit - quiet] = true;
  }
  return rows;
}

test('paper backup of random 12- and 24-word mnemonics: PNG scans back, terminal and SVG match', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
      ),
      fc.boolean(),
      (entropy, lightOnDark) => {
        const mnemonic = entropyToMnemonic(entropy);
        // Sloppy spacing is canonicalised before anything is rendered.
        const backup = mnemonicPaperBackup(`  ${mnemonic.replaceAll(' ', '  ')} `, {
          terminal: { lightOnDark },
        });
        assert.equal(backup.mnemonic, mnemonic);
        assert.ok(backup.qr.version <= 11);
        assert.equal(zbar(backup.png).toString('utf8'), mnemonic);
        assert.deepEqual(parseTerminal(backup.terminal, 4, backup.qr.size, lightOnDark), backup.qr.modules);
        assert.deepEqual(parseSvg(backup.svg, 4, 8, backup.qr.size), backup.qr.modules);
        const words = mnemonic.split(' ');
        assert.match(backup.svg, new RegExp(`\\b1\\. ${words[0]}\\b`));
        assert.match(backup.svg, new RegExp(`\\b${words.length}\\. ${words.at(-1)}\\b`));
      },
    ),
    { numRuns: 12 },
  );
});

test('the longest English 24-word sentence (215 bytes, 8-letter words) fits in version 11 and scans', () => {
  const eight = english.split('\n').filter((w) => w.length === 8);
  // The last word carries the checksum (8 of 2048 words fit a given head): search for a head whose
  // valid last words include an 8-letter one.
  let sentence: string | undefined;
  for (const word of eight) {
    const head = Array(23).fill(word).join(' ');
    const last = eight.find((w) => validateMnemonic(`${head} ${w}`));
    if (last !== undefined) {
      sentence = `${head} ${last}`;
      break;
    }
  }
  assert.ok(sentence !== undefined);
  const backup = mnemonicPaperBackup(sentence);
  assert.equal(new TextEncoder().encode(backup.mnemonic).length, 215);
  assert.equal(backup.qr.version, 11); // 2 bytes over version 10's 213
  assert.equal(zbar(backup.png).toString('utf8'), backup.mnemonic);
});

test('invalid mnemonics are refused before anything is rendered', () => {
  const bad = (run: () => unknown) =>
    assert.throws(run, (e: unknown) => e instanceof CofferError && e.code === 'EINVAL');
  bad(() => mnemonicPaperBackup(Array(12).fill('abandon').join(' ')));
  bad(() => mnemonicPaperBackup('not a mnemonic'));
  bad(() => mnemonicPaperBackup(entropyToMnemonic(new Uint8Array(16)), { language: 'french' }));
});

test('PNG chunks carry correct CRC-32s and inflate to the module grid', () => {
  const qr = encodeQr(new TextEncoder().encode('png check'));
  const png = renderQrPng(qr, { moduleSize: 2, quietZone: 1 });
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let offset = 8;
  const types: string[] = [];
  let idat: Uint8Array = new Uint8Array(0);
  while (offset < png.length) {
    const length = view.getUint32(offset);
    const type = Buffer.from(png.subarray(offset + 4, offset + 8)).toString('latin1');
    const body = png.subarray(offset + 4, offset + 8 + length);
    assert.equal(view.getUint32(offset + 8 + length), crc32(body));
    assert.equal(crc32(body), zlibCrc32(body));
    if (type === 'IDAT') idat = png.subarray(offset + 8, offset + 8 + length);
    types.push(type);
    offset += 12 + length;
  }
  assert.deepEqual(types, ['IHDR', 'IDAT', 'IEND']);
  const side = (qr.size + 2) * 2;
  const raw = inflateSync(idat);
  assert.equal(raw.length, side * (side + 1));
  for (let y = 0; y < qr.size; y++) {
    for (let x = 0; x < qr.size; x++) {
      const pixel = raw[(2 + 2 * y) * (side + 1) + 1 + 2 + 2 * x];
      assert.equal(pixel, qr.modules[y]![x] ? 0 : 255);
    }
  }
});
