// The recovery identity (SPEC §17.9): 32 bytes of entropy shown once as a 24-word BIP-39 phrase,
// from which its signing keys, X-Wing key and device id are derived with HKDF. Nothing derived from
// it is stored; a device that lost every other device rebuilds it from the phrase.
import { b64, base32 } from '../../core/encoding.js';
import { entropyToMnemonic, mnemonicToEntropy } from '../../crypto/bip39.js';
import { wipe } from '../../crypto/bytes.js';
import { hkdf } from '../../crypto/kdf.js';
import * as kem from '../../crypto/kem.js';
import * as sig from '../../crypto/sig.js';
import { CofferError } from '../../errors.js';
import { hex } from './codec.js';
import { MemoryActor } from './signer.js';

const SALT = new TextEncoder().encode('coffer:sync-recovery:v1');
const derive = (entropy: Uint8Array, label: string, length: number) =>
  hkdf('sha256', entropy, SALT, new TextEncoder().encode(label), length);

export function recoveryPhrase(entropy: Uint8Array): string {
  return entropyToMnemonic(entropy, 'english');
}

/** The entropy of a typed phrase: 24 English words with a valid checksum, else EINVAL. */
export function phraseEntropy(phrase: unknown): Uint8Array {
  if (typeof phrase !== 'string') throw new CofferError('EINVAL', 'the recovery phrase must be a string');
  const words = phrase.trim().toLowerCase().split(/\s+/);
  if (words.length !== 24) throw new CofferError('EINVAL', 'the recovery phrase is 24 words');
  try {
    return mnemonicToEntropy(words.join(' '), 'english');
  } catch {
    throw new CofferError('EINVAL', 'the recovery phrase is mistyped (unknown word or bad checksum)');
  }
}

/** The recovery identity's actor; the caller wipes it when done. */
export function recoveryActor(entropy: Uint8Array): MemoryActor {
  const seeds = {
    ed25519: derive(entropy, 'ed25519', 32),
    mldsa65: derive(entropy, 'ml-dsa-65', 32),
    xwing: derive(entropy, 'x-wing', 32),
  };
  try {
    const ed = sig.keygen('ed25519', seeds.ed25519);
    const ml = sig.keygen('ml-dsa-65', seeds.mldsa65);
    const xw = kem.keygen('x-wing', seeds.xwing);
    return new MemoryActor(
      {
        deviceId: hex(derive(entropy, 'device-id', 8)),
        ed25519: b64.encode(ed.publicKey),
        mldsa65: b64.encode(ml.publicKey),
        xwing: b64.encode(xw.publicKey),
      },
      { ed25519: ed.secretKey, mldsa65: ml.secretKey, xwing: xw.secretKey },
    );
  } finally {
    wipe(seeds.ed25519, seeds.mldsa65, seeds.xwing);
  }
}

/** The account id of the circle this phrase recovers: derived, so the phrase alone finds the account. */
export function recoveryAccountId(entropy: Uint8Array): string {
  return `ac_${base32(derive(entropy, 'account-id', 10))}`;
}
