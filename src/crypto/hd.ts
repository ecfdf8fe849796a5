// `hd` of `coffer/crypto` (SPEC §1, §2 "HD seeds"): BIP-39 mnemonics and seeds, BIP-32 nodes on
// secp256k1 with xprv/xpub, and SLIP-10 for Ed25519 and secp256k1. Pure and synchronous like the
// rest of crypto/; the keystore integration (hd-seed keys, derived keys, accounts) lives in src/hd/.
export {
  BIP32_NETWORKS,
  type Bip32Network,
  Bip32Node,
  bip32FromExtendedKey,
  bip32FromSeed,
} from './bip32.js';
export {
  BIP39_LANGUAGES,
  type Bip39Language,
  type Bip39Wordlist,
  bundledLanguages,
  ENTROPY_LENGTHS,
  entropyToMnemonic,
  mnemonicToEntropy,
  mnemonicToSeed,
  validateMnemonic,
  WORD_COUNTS,
} from './bip39.js';
export { formatPath, HARDENED_OFFSET, type ParsedPath, parsePath } from './hd-path.js';
export { SLIP10_CURVES, type Slip10Curve, type Slip10Key, slip10 } from './slip10.js';
