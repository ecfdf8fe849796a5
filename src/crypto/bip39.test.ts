// BIP-39 against trezor/python-mnemonic's English vectors (entropy → mnemonic → seed with passphrase
// "TREZOR" → BIP-32 master xprv), the bundled list against the official file's SHA-256, round trips
// for every entropy length (fast-check), and the error contract: validateMnemonic says false for a
// bad sentence and never throws, the other functions reject bad arguments with EINVAL.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { loadJson, nonEmpty, vectorPath } from '../testing/vectors.js';
import { bip32FromSeed } from './bip32.js';
import {
  BIP39_LANGUAGES,
  bundledLanguages,
  ENTROPY_LENGTHS,
  entropyToMnemonic,
  mnemonicToEntropy,
  mnemonicToSeed,
  validateMnemonic,
} from './bip39.js';
import { fromHex, toHex } from './bytes.js';
import english from './wordlists/english.js';

const OFFICIAL_ENGLISH_SHA256 = '2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda';
const englishWords = english.split('\n').filter((w) => w.length > 0);

function rejects(run: () => unknown, code = 'EINVAL'): void {
  assert.throws(run, (error: unknown) => (error as { code?: string }).code === code);
}

test('bundled English list is byte-identical to the official bip-0039/english.txt', () => {
  assert.equal(createHash('sha256').update(english).digest('hex'), OFFICIAL_ENGLISH_SHA256);
  assert.equal(english, readFileSync(vectorPath('bip39/english.txt'), 'utf8'));
  assert.equal(englishWords.length, 2048);
  assert.deepEqual(bundledLanguages(), [...BIP39_LANGUAGES]);
});

test('python-mnemonic English vectors: entropy → mnemonic → entropy, seed ("TREZOR") and master xprv', () => {
  const cases = nonEmpty(
    'bip39 english',
    loadJson<{ english: string[][] }>('bip39/vectors_english.json').english,
  );
  let count = 0;
  for (const [entropyHex, mnemonic, seedHex, xprv] of cases) {
    const entropy = fromHex(entropyHex!);
    assert.equal(entropyToMnemonic(entropy), mnemonic);
    assert.equal(toHex(mnemonicToEntropy(mnemonic!, 'english')), entropyHex);
    assert.equal(validateMnemonic(mnemonic!, 'english'), true);
    const seed = mnemonicToSeed(mnemonic!, 'TREZOR');
    assert.equal(toHex(seed), seedHex);
    assert.equal(bip32FromSeed(seed).xprv, xprv);
    count++;
  }
  assert.equal(count, 24);
});

test('entropy → mnemonic → entropy round trip for every length 16..32 step 4 (fast-check)', () => {
  for (const length of ENTROPY_LENGTHS) {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: length, maxLength: length }), (entropy) => {
        const mnemonic = entropyToMnemonic(entropy, 'english');
        assert.equal(mnemonic.split(' ').length, ((length * 8 + length / 4) / 11) | 0);
        assert.deepEqual(mnemonicToEntropy(mnemonic, 'english'), entropy);
        assert.equal(validateMnemonic(mnemonic), true);
      }),
      { numRuns: 200 },
    );
  }
});

test('validateMnemonic is false (never throws) for a bad checksum, unknown word or wrong count', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat(2047), (entropy, replacement) => {
      const words = entropyToMnemonic(entropy).split(' ');
      const original = words[11];
      words[11] = englishWords[replacement]!;
      const valid = validateMnemonic(words.join(' '));
      // 12 words carry a 4-bit checksum: exactly 128 of the 2048 last words are valid.
      if (words[11] === original) assert.equal(valid, true);
      const decodedOk = (() => {
        try {
          mnemonicToEntropy(words.join(' '));
          return true;
        } catch (error) {
          assert.equal((error as { code?: string }).code, 'EINVAL');
          return false;
        }
      })();
      assert.equal(valid, decodedOk);
    }),
    { numRuns: 300 },
  );
  let validLastWords = 0;
  const head = entropyToMnemonic(new Uint8Array(16)).split(' ').slice(0, 11).join(' ');
  for (const word of englishWords) if (validateMnemonic(`${head} ${word}`)) validLastWords++;
  assert.equal(validLastWords, 128);
  const good =
    'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
  assert.equal(validateMnemonic(good.replace('about', 'abandon')), false);
  assert.equal(validateMnemonic(good.replace('about', 'aboutt')), false);
  assert.equal(validateMnemonic(good.replace('about', 'About')), false);
  assert.equal(validateMnemonic(good.split(' ').slice(0, 11).join(' ')), false);
  assert.equal(validateMnemonic(''), false);
  assert.equal(validateMnemonic('   '), false);
  assert.equal(validateMnemonic(`${good} ${good}`), false);
  // Extra whitespace between words (and U+3000) is a separator, as NFKD makes it one.
  assert.equal(validateMnemonic(`  ${good.replaceAll(' ', '\u3000 ')}\n`), true);
  rejects(() => mnemonicToEntropy(good.replace('about', 'abandon')));
  rejects(() => mnemonicToEntropy('zzz'));
});

test('the error never repeats a word of the sentence (words are secret)', () => {
  const sentence =
    'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon zebrax';
  try {
    mnemonicToEntropy(sentence);
    assert.fail('accepted an unknown word');
  } catch (error) {
    assert.equal((error as { code?: string }).code, 'EINVAL');
    assert.doesNotMatch((error as Error).message, /zebrax|abandon/);
  }
});

test('mnemonicToSeed: NFKD on sentence and passphrase, U+3000 ≡ space, word count checked', () => {
  const mnemonic = 'legal winner thank year wave sausage worth useful legal winner thank yellow';
  const nfc = 'caf\u00e9 na\u00efve';
  const nfd = nfc.normalize('NFD');
  assert.deepEqual(mnemonicToSeed(mnemonic, nfc), mnemonicToSeed(mnemonic, nfd));
  assert.notDeepEqual(mnemonicToSeed(mnemonic, nfc), mnemonicToSeed(mnemonic, ''));
  // Japanese sentences are joined with U+3000; NFKD maps it to U+0020 before PBKDF2 (BIP-39).
  assert.deepEqual(mnemonicToSeed(mnemonic.replaceAll(' ', '\u3000')), mnemonicToSeed(mnemonic));
  assert.equal(mnemonicToSeed(mnemonic).length, 64);
  rejects(() => mnemonicToSeed('one two three'));
  rejects(() => mnemonicToSeed(mnemonic, 5 as unknown as string));
  rejects(() => mnemonicToSeed(42 as unknown as string));
  rejects(() => mnemonicToSeed(mnemonic, 'x'.repeat(1025)), 'E2BIG');
  rejects(() => mnemonicToSeed('a '.repeat(600)), 'E2BIG');
});

test('word lists: unknown language is EINVAL; a word from another language is invalid; caller-supplied list (with U+3000) works', () => {
  const entropy = fromHex('7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f');
  for (const language of BIP39_LANGUAGES.filter((l) => l !== 'english')) {
    assert.equal(validateMnemonic(entropyToMnemonic(entropy, 'english'), language), false);
  }
  rejects(() => entropyToMnemonic(entropy, 'klingon' as 'english'));
  const custom = { words: englishWords };
  assert.equal(entropyToMnemonic(entropy, custom), entropyToMnemonic(entropy, 'english'));
  // A list whose words need NFKD, joined Japanese-style: round trips and validates.
  const accented = { words: englishWords.map((w) => `${w}\u00e9`), separator: '\u3000' as const };
  const sentence = entropyToMnemonic(entropy, accented);
  assert.equal(sentence.split('\u3000').length, 12);
  assert.deepEqual(mnemonicToEntropy(sentence.normalize('NFD'), accented), entropy);
  assert.equal(validateMnemonic(sentence, accented), true);
  rejects(() => entropyToMnemonic(entropy, { words: englishWords.slice(1) }));
  rejects(() => entropyToMnemonic(entropy, { words: [...englishWords.slice(1), 'ability'] }));
  rejects(() => entropyToMnemonic(entropy, { words: [...englishWords.slice(1), 'two words'] }));
  rejects(() => entropyToMnemonic(entropy, { words: englishWords, separator: '-' as ' ' }));
});

test('entropyToMnemonic validates its entropy', () => {
  for (const length of [0, 12, 15, 17, 33, 64]) rejects(() => entropyToMnemonic(new Uint8Array(length)));
  rejects(() => entropyToMnemonic([1, 2, 3] as unknown as Uint8Array));
  rejects(() => validateMnemonic(undefined as unknown as string));
});

test('all ten official languages: 2048 unique words each; round trips agree with @scure/bip39 (independent code)', async () => {
  const scure = await import('@scure/bip39');
  const lists: Record<string, string> = {
    japanese: 'japanese',
    korean: 'korean',
    spanish: 'spanish',
    chinese_simplified: 'simplified-chinese',
    chinese_traditional: 'traditional-chinese',
    french: 'french',
    italian: 'italian',
    czech: 'czech',
    portuguese: 'portuguese',
    english: 'english',
  };
  let checked = 0;
  for (const language of BIP39_LANGUAGES) {
    const { wordlist } = (await import(`@scure/bip39/wordlists/${lists[language]}.js`)) as {
      wordlist: string[];
    };
    assert.equal(new Set(wordlist).size, 2048, language);
    for (const length of ENTROPY_LENGTHS) {
      const entropy = Uint8Array.from({ length }, (_, i) => (i * 37 + length) & 0xff);
      const ours = entropyToMnemonic(entropy, language);
      assert.equal(
        ours.normalize('NFKD'),
        scure.entropyToMnemonic(entropy, wordlist).normalize('NFKD'),
        language,
      );
      if (language === 'japanese') assert.ok(ours.includes('\u3000'), 'Japanese joins words with U+3000');
      assert.deepEqual(mnemonicToEntropy(ours, language), entropy);
      assert.equal(validateMnemonic(ours, language), true);
      assert.equal(toHex(mnemonicToSeed(ours, 'TREZOR')), toHex(scure.mnemonicToSeedSync(ours, 'TREZOR')));
      checked++;
    }
  }
  assert.equal(checked, 50);
});
