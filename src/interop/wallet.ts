// Wallet signing with keystore keys (SPEC §14.9–14.11, §14.15.4): Ethereum addresses, EIP-191
// personal_sign, EIP-712 typed data and transactions, Bitcoin addresses and message signatures with
// secp256k1 keys (HD-derived ones included: `coffer hd derive`), Solana addresses of Ed25519 keys.
// Digests are signed by `signDigest` (recoverable), so the secret never leaves the keystore.
import type { KeyOperations } from '../core/surface.js';
import {
  type BitcoinAddressType,
  type BitcoinNetwork,
  bitcoinAddress,
  signBitcoinMessage,
} from '../format/bitcoin.js';
import { signTypedData, type TypedData } from '../format/eip712.js';
import {
  type EthereumTransaction,
  ethereumAddress,
  personalSign,
  signTransaction,
} from '../format/ethereum.js';
import { solanaAddress } from '../format/solana.js';
import { recoverableSigner, signingKey } from './keys.js';

const SECP = ['secp256k1'] as const;

export async function ethereumAddressOfKey(ops: KeyOperations, id: string): Promise<string> {
  return ethereumAddress((await signingKey(ops, id, SECP, 'an Ethereum address')).publicKey);
}

/** EIP-191 personal_sign: `0x ‖ r ‖ s ‖ v` (v 27/28). */
export async function ethereumSignMessage(
  ops: KeyOperations,
  id: string,
  message: Uint8Array | string,
): Promise<string> {
  const key = await signingKey(ops, id, SECP, 'Ethereum signing');
  return personalSign(message, recoverableSigner(ops, key, 'keccak256'));
}

/** EIP-712 typed data signature. */
export async function ethereumSignTypedData(
  ops: KeyOperations,
  id: string,
  typed: TypedData,
): Promise<string> {
  const key = await signingKey(ops, id, SECP, 'Ethereum signing');
  return signTypedData(typed, recoverableSigner(ops, key, 'keccak256'));
}

/** A signed legacy (EIP-155) or EIP-1559 transaction: raw hex, hash and sender. */
export async function ethereumSignTransaction(ops: KeyOperations, id: string, tx: EthereumTransaction) {
  const key = await signingKey(ops, id, SECP, 'Ethereum signing');
  return signTransaction(tx, recoverableSigner(ops, key, 'keccak256'));
}

export async function bitcoinAddressOfKey(
  ops: KeyOperations,
  id: string,
  type: BitcoinAddressType = 'p2wpkh',
  network: BitcoinNetwork = 'mainnet',
): Promise<string> {
  return bitcoinAddress((await signingKey(ops, id, SECP, 'a Bitcoin address')).publicKey, type, network);
}

/** Bitcoin Core `signmessage` (base64), or BIP-137 headers for the address type. */
export async function bitcoinSignMessage(
  ops: KeyOperations,
  id: string,
  message: Uint8Array | string,
  options: { addressType?: BitcoinAddressType; bip137?: boolean } = {},
): Promise<string> {
  const key = await signingKey(ops, id, SECP, 'Bitcoin message signing');
  // The message hash is SHA-256d; the digest handed to the keystore is that 32-byte value.
  return signBitcoinMessage(message, recoverableSigner(ops, key, 'sha256'), options);
}

export async function solanaAddressOfKey(ops: KeyOperations, id: string): Promise<string> {
  return solanaAddress((await signingKey(ops, id, ['ed25519'], 'a Solana address')).publicKey);
}
