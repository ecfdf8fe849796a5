// Password and passphrase generation for `coffer item generate` (docs/keychain.md): uniform choices
// from the OS CSPRNG by rejection sampling (no modulo bias), every requested character class present,
// or a diceware-style phrase from the BIP-39 English list (2048 words: 11 bits per word).
import { randomInt } from 'node:crypto';
import englishText from '../crypto/wordlists/english.js';
import { CofferError } from '../errors.js';

const english = englishText.trim().split('\n');

export const CHARACTER_CLASSES = {
  lower: 'abcdefghijklmnopqrstuvwxyz',
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  symbols: '!#$%&()*+,-./:;<=>?@[]^_{|}~',
} as const;
export type CharacterClass = keyof typeof CHARACTER_CLASSES;

export function generatePassword(
  length = 24,
  classes: CharacterClass[] = ['lower', 'upper', 'digits', 'symbols'],
): string {
  if (!Number.isSafeInteger(length) || length < 8 || length > 1024)
    throw new CofferError('EINVAL', 'password length must be 8..1024');
  const unique = [...new Set(classes)];
  if (unique.length === 0 || !unique.every((c) => c in CHARACTER_CLASSES))
    throw new CofferError(
      'EINVAL',
      `character classes: some of ${Object.keys(CHARACTER_CLASSES).join(', ')}`,
    );
  if (length < unique.length) throw new CofferError('EINVAL', 'length is shorter than the number of classes');
  const alphabet = unique.map((c) => CHARACTER_CLASSES[c]).join('');
  // Draw until every class is present: uniform over the passwords that contain each class.
  for (;;) {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
    if (unique.every((c) => [...CHARACTER_CLASSES[c]].some((ch) => out.includes(ch)))) return out;
  }
}

export function generatePassphrase(words = 6, separator = '-'): string {
  if (!Number.isSafeInteger(words) || words < 4 || words > 64)
    throw new CofferError('EINVAL', 'a passphrase has 4..64 words');
  return Array.from({ length: words }, () => english[randomInt(english.length)]).join(separator);
}

/** Entropy in bits of what the two generators produce (shown to the user). */
export function passwordBits(length: number, classes: CharacterClass[]): number {
  const size = [...new Set(classes)].reduce((n, c) => n + CHARACTER_CLASSES[c].length, 0);
  return Math.floor(length * Math.log2(size));
}
