// Solana (SPEC §14.11): an address is the base58 text of the 32-byte Ed25519 public key (no
// checksum, no version); wallets (Phantom, Solflare, the Solana CLI's `--derivation-path`) derive
// account x at m/44'/501'/x'/0' with SLIP-10, every level hardened as Ed25519 requires.
import { assertBytes, assertInteger } from '../crypto/bytes.js';
import { assertEd25519PublicKey } from '../crypto/sig-ed25519.js';
import { CofferError } from '../errors.js';
import { base58Decode, base58Encode } from './text-encodings.js';

/** SLIP-44 coin type of Solana. */
export const SOLANA_COIN_TYPE = 501;

/** The common wallet path of account `index`: m/44'/501'/index'/0'. */
export function solanaPath(index = 0): string {
  assertInteger('index', index, 0, 0x7fff_ffff);
  return `m/44'/${SOLANA_COIN_TYPE}'/${index}'/0'`;
}

export function solanaAddress(publicKey: Uint8Array): string {
  assertBytes('publicKey', publicKey, 32);
  assertEd25519PublicKey(publicKey);
  return base58Encode(publicKey);
}

/**
 * An address back to its key: 32 bytes, canonical base58 (no leading-zero ambiguity) and a valid
 * point. Program-derived addresses are deliberately off the curve, so `allowOffCurve` accepts them.
 */
export function parseSolanaAddress(address: unknown, options: { allowOffCurve?: boolean } = {}): Uint8Array {
  if (typeof address !== 'string' || address.length < 32 || address.length > 44) {
    throw new CofferError('EINVAL', 'a Solana address is 32 to 44 base58 characters');
  }
  const bytes = base58Decode(address);
  if (bytes.length !== 32 || base58Encode(bytes) !== address)
    throw new CofferError('EINVAL', 'a Solana address encodes exactly 32 bytes');
  if (!options.allowOffCurve) assertEd25519PublicKey(bytes);
  return bytes;
}
