// Registry of the ten official BIP-39 word lists. English is a data module in this folder holding
// bitcoin/bips `bip-0039/english.txt` verbatim (checked against the shared vectors' copy by hash);
// the other nine come from @scure/bip39, which ships the official lists as data, and are checked in
// the tests (2048 unique NFKD words each; round trips cross-checked with @scure/bip39's own code).
import { wordlist as czech } from '@scure/bip39/wordlists/czech.js';
import { wordlist as french } from '@scure/bip39/wordlists/french.js';
import { wordlist as italian } from '@scure/bip39/wordlists/italian.js';
import { wordlist as japanese } from '@scure/bip39/wordlists/japanese.js';
import { wordlist as korean } from '@scure/bip39/wordlists/korean.js';
import { wordlist as portuguese } from '@scure/bip39/wordlists/portuguese.js';
import { wordlist as chineseSimplified } from '@scure/bip39/wordlists/simplified-chinese.js';
import { wordlist as spanish } from '@scure/bip39/wordlists/spanish.js';
import { wordlist as chineseTraditional } from '@scure/bip39/wordlists/traditional-chinese.js';
import english from './english.js';

export const BIP39_LANGUAGES = [
  'english',
  'japanese',
  'korean',
  'spanish',
  'chinese_simplified',
  'chinese_traditional',
  'french',
  'italian',
  'czech',
  'portuguese',
] as const;
export type Bip39Language = (typeof BIP39_LANGUAGES)[number];

/** The raw list text per bundled language (one word per line, as in the official files). */
const BUNDLED: Partial<Record<Bip39Language, string>> = {
  english,
  japanese: japanese.join('\n'),
  korean: korean.join('\n'),
  spanish: spanish.join('\n'),
  chinese_simplified: chineseSimplified.join('\n'),
  chinese_traditional: chineseTraditional.join('\n'),
  french: french.join('\n'),
  italian: italian.join('\n'),
  czech: czech.join('\n'),
  portuguese: portuguese.join('\n'),
};

/** Languages whose list is bundled in this build. */
export function bundledLanguages(): Bip39Language[] {
  return BIP39_LANGUAGES.filter((language) => BUNDLED[language] !== undefined);
}

/** The raw text of a bundled list, or undefined when the language is not bundled. */
export function wordlistText(language: Bip39Language): string | undefined {
  return BUNDLED[language];
}
