// BIP-39 mnemonic sentences (bitcoin/bips bip-0039.mediawiki): entropy ↔ words with a SHA-256
// checksum, and the seed (PBKDF2-HMAC-SHA512, 2048 iterations, salt "mnemonic" ‖ passphrase, both
// NFKD-normalised). Word lists come from `wordlists/` or from the caller, so any official list works.
import { createHash, pbkdf2Sync } from 'node:crypto';
import { CofferError } from '../errors.js';
import { assertBytes, assertOneOf, wipe } from './bytes.js';
import { BIP39_LANGUAGES, type Bip39Language, bundledLanguages, wordlistText } from './wordlists/index.js';

export { BIP39_LANGUAGES, type Bip39Language, bundledLanguages };

/** A caller-supplied list: 2048 distinct words; Japanese sentences use U+3000 between words. */
export interface Bip39Wordlist {
  readonly words: readonly string[];
  readonly separator?: ' ' | '\u3000';
}

interface PreparedList {
  words: readonly string[];
  index: ReadonlyMap<string, number>;
  separator: string;
}

/** BIP-39: ENT ∈ {128, 160, 192, 224, 256} bits. */
export const ENTROPY_LENGTHS = [16, 20, 24, 28, 32] as const;
export const WORD_COUNTS = [12, 15, 18, 21, 24] as const;
/** Longest sentence accepted: 24 words of the longest lists fit in far less; more is not a mnemonic. */
const MAX_MNEMONIC_CHARS = 1024;
/** Passphrases are user-typed secrets; the bound only stops absurd inputs reaching PBKDF2. */
const MAX_PASSPHRASE_BYTES = 1024;
const PBKDF2_ITERATIONS = 2048;

const prepared = new Map<Bip39Language, PreparedList>();

function prepare(words: readonly string[], separator: string, source: string): PreparedList {
  if (words.length !== 2048) throw new CofferError('EINVAL', `${source} must hold 2048 words`);
  const index = new Map<string, number>();
  const normalized = words.map((word, i) => {
    if (typeof word !== 'string' || word.length === 0 || /\s/u.test(word)) {
      throw new CofferError('EINVAL', `${source}: word ${i} is empty or contains whitespace`);
    }
    // The official lists are not all stored NFKD (Spanish, French accents); compare in NFKD always.
    const nfkd = word.normalize('NFKD');
    if (index.has(nfkd)) throw new CofferError('EINVAL', `${source}: word ${i} is a duplicate`);
    index.set(nfkd, i);
    return nfkd;
  });
  return { words: Object.freeze(normalized), index, separator };
}

function listFor(language: unknown): PreparedList {
  if (typeof language === 'object' && language !== null) {
    const custom = language as Bip39Wordlist;
    if (!Array.isArray(custom.words)) throw new CofferError('EINVAL', 'wordlist.words must be an array');
    if (custom.separator !== undefined) assertOneOf('wordlist.separator', custom.separator, [' ', '\u3000']);
    return prepare(custom.words, custom.separator ?? ' ', 'wordlist');
  }
  assertOneOf('language', language, BIP39_LANGUAGES);
  const cached = prepared.get(language);
  if (cached) return cached;
  const text = wordlistText(language);
  if (text === undefined) {
    throw new CofferError(
      'EINVAL',
      `the BIP-39 ${language} word list is not bundled (bundled: ${bundledLanguages().join(', ')}); pass { words } instead`,
    );
  }
  const list = prepare(
    text.split('\n').filter((line) => line.length > 0),
    language === 'japanese' ? '\u3000' : ' ',
    `${language} word list`,
  );
  prepared.set(language, list);
  return list;
}

function assertMnemonicString(mnemonic: unknown): asserts mnemonic is string {
  if (typeof mnemonic !== 'string') throw new CofferError('EINVAL', 'mnemonic must be a string');
  if (mnemonic.length > MAX_MNEMONIC_CHARS) {
    throw new CofferError('E2BIG', `mnemonic is longer than ${MAX_MNEMONIC_CHARS} characters`);
  }
}

/** Words of a sentence after NFKD (which also turns U+3000 into U+0020); any whitespace run separates. */
function splitWords(mnemonic: string): string[] {
  const trimmed = mnemonic.normalize('NFKD').trim();
  return trimmed.length === 0 ? [] : trimmed.split(/\s+/u);
}

function checksumBits(entropy: Uint8Array): number {
  return entropy.length / 4; // ENT / 32 bits
}

/** The mnemonic sentence for 16–32 bytes of entropy (multiple of 4). */
export function entropyToMnemonic(
  entropy: Uint8Array,
  language: Bip39Language | Bip39Wordlist = 'english',
): string {
  assertBytes('entropy', entropy, ...ENTROPY_LENGTHS);
  const list = listFor(language);
  const hash = createHash('sha256').update(entropy).digest();
  const cs = checksumBits(entropy);
  const totalBits = entropy.length * 8 + cs;
  const words: string[] = [];
  try {
    for (let offset = 0; offset < totalBits; offset += 11) {
      let value = 0;
      for (let bit = offset; bit < offset + 11; bit++) {
        const byteIndex = bit >> 3;
        const source = byteIndex < entropy.length ? entropy[byteIndex]! : hash[byteIndex - entropy.length]!;
        value = (value << 1) | ((source >> (7 - (bit & 7))) & 1);
      }
      words.push(list.words[value]!);
    }
  } finally {
    hash.fill(0);
  }
  return words.join(list.separator);
}

/** Parses and checks a sentence; `reason` says why it is not valid (never echoes a word: words are secret). */
function decode(mnemonic: string, list: PreparedList): { entropy?: Uint8Array; reason?: string } {
  const words = splitWords(mnemonic);
  if (!(WORD_COUNTS as readonly number[]).includes(words.length)) {
    return { reason: `a mnemonic has 12, 15, 18, 21 or 24 words, not ${words.length}` };
  }
  const indices: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const index = list.index.get(words[i]!);
    if (index === undefined) return { reason: `word ${i + 1} is not in the word list` };
    indices.push(index);
  }
  const totalBits = words.length * 11;
  const entropyBytes = ((totalBits * 32) / 33) >> 3;
  const bits = new Uint8Array(Math.ceil(totalBits / 8));
  indices.forEach((value, w) => {
    for (let b = 0; b < 11; b++) {
      if ((value >> (10 - b)) & 1) {
        const bit = w * 11 + b;
        bits[bit >> 3]! |= 0x80 >> (bit & 7);
      }
    }
  });
  const entropy = bits.slice(0, entropyBytes);
  const hash = createHash('sha256').update(entropy).digest();
  const cs = checksumBits(entropy);
  const expected = hash[0]! >> (8 - cs);
  const stored = bits[entropyBytes]! >> (8 - cs);
  hash.fill(0);
  wipe(bits);
  if (expected !== stored) {
    wipe(entropy);
    return { reason: 'mnemonic checksum does not match (a word is wrong or out of order)' };
  }
  return { entropy };
}

/** The entropy of a valid sentence; EINVAL for a wrong word count, an unknown word or a bad checksum. */
export function mnemonicToEntropy(
  mnemonic: string,
  language: Bip39Language | Bip39Wordlist = 'english',
): Uint8Array {
  assertMnemonicString(mnemonic);
  const list = listFor(language);
  const { entropy, reason } = decode(mnemonic, list);
  if (!entropy) throw new CofferError('EINVAL', reason ?? 'invalid mnemonic');
  return entropy;
}

/**
 * True iff the sentence is valid in that language. False (never a throw) for a bad checksum, an
 * unknown word or a wrong word count; EINVAL only for arguments that are not a string / language.
 */
export function validateMnemonic(
  mnemonic: string,
  language: Bip39Language | Bip39Wordlist = 'english',
): boolean {
  assertMnemonicString(mnemonic);
  const list = listFor(language);
  const { entropy } = decode(mnemonic, list);
  wipe(entropy);
  return entropy !== undefined;
}

/**
 * The 64-byte BIP-39 seed. As the BIP says, the sentence is not checked against a word list here (it
 * may come from another list): call validateMnemonic first when the words were typed by a person.
 */
export function mnemonicToSeed(mnemonic: string, passphrase = ''): Uint8Array {
  assertMnemonicString(mnemonic);
  if (typeof passphrase !== 'string') throw new CofferError('EINVAL', 'passphrase must be a string');
  const count = splitWords(mnemonic).length;
  if (!(WORD_COUNTS as readonly number[]).includes(count)) {
    throw new CofferError('EINVAL', `a mnemonic has 12, 15, 18, 21 or 24 words, not ${count}`);
  }
  const password = Buffer.from(mnemonic.normalize('NFKD'), 'utf8');
  const salt = Buffer.from(`mnemonic${passphrase.normalize('NFKD')}`, 'utf8');
  if (salt.length - 8 > MAX_PASSPHRASE_BYTES) {
    wipe(password, salt);
    throw new CofferError('E2BIG', `passphrase is longer than ${MAX_PASSPHRASE_BYTES} bytes`);
  }
  let derived: Buffer | undefined;
  try {
    derived = pbkdf2Sync(password, salt, PBKDF2_ITERATIONS, 64, 'sha512');
    return Uint8Array.from(derived);
  } finally {
    wipe(password, salt, derived);
  }
}
