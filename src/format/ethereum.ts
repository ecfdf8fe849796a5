// Ethereum (SPEC §14.9): addresses with the EIP-55 mixed-case checksum, EIP-191 personal_sign
// messages, and legacy (EIP-155 replay-protected) and EIP-1559 (type 2, EIP-2718 envelope)
// transactions — unsigned serialisation, signing hash, signed serialisation and a strict parser
// that recovers the sender. Signatures come from a digest signer: the keystore's recoverable
// secp256k1 signature r ‖ s ‖ v (v ∈ {0, 1}) over the 32-byte Keccak-256 digest, low-S (EIP-2).
import { assertBytes, concatBytes } from '../crypto/bytes.js';
import { digest } from '../crypto/hash.js';
import { recoverDigestPublicKey } from '../crypto/prehash.js';
import { convertEcPublicKey } from '../crypto/sig-ecdsa.js';
import { CofferError } from '../errors.js';
import { type RlpItem, rlpDecode, rlpEncode, rlpInteger, rlpToInteger } from './rlp.js';

/** Signs a 32-byte digest: returns r ‖ s ‖ v (65 bytes, v ∈ {0, 1}), as `signDigest(…, { recoverable })`. */
export type DigestSigner = (digest: Uint8Array) => Uint8Array | Promise<Uint8Array>;

const keccak = (data: Uint8Array): Uint8Array => digest('keccak256', data);
const enc = new TextEncoder();

export function toHexString(bytes: Uint8Array): string {
  return `0x${Buffer.from(bytes).toString('hex')}`;
}

/** Strict 0x-prefixed hex → bytes (even length; `length` if given). */
export function fromHexString(text: unknown, what: string, length?: number): Uint8Array {
  if (typeof text !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(text)) {
    throw new CofferError('EINVAL', `${what} must be 0x-prefixed hex with an even number of digits`);
  }
  const bytes = Uint8Array.from(Buffer.from(text.slice(2), 'hex'));
  if (length !== undefined && bytes.length !== length)
    throw new CofferError('EINVAL', `${what} must be ${length} bytes`);
  return bytes;
}

// ---- addresses (EIP-55) ----

/** EIP-55: a hex digit is upper-case when the matching nibble of keccak256(lower-case hex) is ≥ 8. */
function checksum(lowerHex: string): string {
  const hash = Buffer.from(keccak(enc.encode(lowerHex))).toString('hex');
  return [...lowerHex].map((c, i) => (Number.parseInt(hash[i]!, 16) >= 8 ? c.toUpperCase() : c)).join('');
}

/** The address of a secp256k1 public key (33 or 65 bytes): last 20 bytes of keccak256(x ‖ y), EIP-55. */
export function ethereumAddress(publicKey: Uint8Array): string {
  assertBytes('publicKey', publicKey, 33, 65);
  const point = convertEcPublicKey('secp256k1', publicKey, false);
  const raw = keccak(point.subarray(1)).subarray(12);
  return `0x${checksum(Buffer.from(raw).toString('hex'))}`;
}

/**
 * Parses an address: 0x and 40 hex digits. All-lower or all-upper is accepted without a checksum
 * (EIP-55 allows it); mixed case must match the checksum exactly, catching typos. Returns EIP-55.
 */
export function parseEthereumAddress(text: unknown): string {
  if (typeof text !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(text)) {
    throw new CofferError('EINVAL', 'an Ethereum address is 0x and 40 hex digits');
  }
  const body = text.slice(2);
  const lower = body.toLowerCase();
  const expected = checksum(lower);
  const mixed = body !== lower && body !== body.toUpperCase();
  if (mixed && body !== expected)
    throw new CofferError('EINVAL', 'Ethereum address checksum (EIP-55) does not match');
  return `0x${expected}`;
}

function addressBytes(address: string): Uint8Array {
  return Uint8Array.from(Buffer.from(parseEthereumAddress(address).slice(2), 'hex'));
}

// ---- signatures ----

function assertRecoverable(signature: Uint8Array): void {
  assertBytes('signature', signature, 65);
  if (signature[64]! > 1) throw new CofferError('EINVAL', 'Ethereum needs recovery id 0 or 1');
}

/** The address that made a recoverable signature (r ‖ s ‖ v, v ∈ {0, 1}) over a Keccak-256 digest. */
export function recoverAddress(hash: Uint8Array, signature: Uint8Array): string {
  return ethereumAddress(recoverDigestPublicKey('secp256k1', 'keccak256', hash, signature));
}

// ---- EIP-191 personal_sign (version 0x45) ----

/** keccak256("\x19Ethereum Signed Message:\n" ‖ decimal length ‖ message). */
export function personalMessageHash(message: Uint8Array | string): Uint8Array {
  const bytes = typeof message === 'string' ? enc.encode(message) : message;
  assertBytes('message', bytes);
  return keccak(concatBytes(enc.encode(`\x19Ethereum Signed Message:\n${bytes.length}`), bytes));
}

/** personal_sign: 0x ‖ r ‖ s ‖ v with v = 27 + recovery id (what wallets and ethers produce). */
export async function personalSign(message: Uint8Array | string, signer: DigestSigner): Promise<string> {
  const signature = await signer(personalMessageHash(message));
  assertRecoverable(signature);
  return toHexString(concatBytes(signature.subarray(0, 64), Uint8Array.of(27 + signature[64]!)));
}

/** The signer address of a personal_sign signature (v 27/28, or 0/1 as some wallets write). */
export function recoverPersonalSignAddress(message: Uint8Array | string, signature: string): string {
  const bytes = fromHexString(signature, 'signature', 65);
  const v = bytes[64]!;
  const recovery = v >= 27 ? v - 27 : v;
  if (recovery > 1) throw new CofferError('EINVAL', 'signature v must be 27 or 28');
  return recoverAddress(
    personalMessageHash(message),
    concatBytes(bytes.subarray(0, 64), Uint8Array.of(recovery)),
  );
}

// ---- transactions ----

export interface AccessListEntry {
  address: string;
  storageKeys: string[];
}

interface CommonFields {
  chainId: bigint;
  nonce: bigint;
  gasLimit: bigint;
  /** null for contract creation. */
  to: string | null;
  value: bigint;
  data: Uint8Array;
}

export interface LegacyTransaction extends CommonFields {
  type: 0;
  gasPrice: bigint;
}

export interface Eip1559Transaction extends CommonFields {
  type: 2;
  maxPriorityFeePerGas: bigint;
  maxFeePerGas: bigint;
  accessList: AccessListEntry[];
}

export type EthereumTransaction = LegacyTransaction | Eip1559Transaction;

const U256 = (1n << 256n) - 1n;

function uint(value: unknown, what: string, max = U256): Uint8Array {
  if (typeof value !== 'bigint' || value < 0n || value > max)
    throw new CofferError('EINVAL', `${what} must be a bigint from 0 to ${max}`);
  return rlpInteger(value);
}

function encodeAccessList(list: AccessListEntry[]): RlpItem[] {
  if (!Array.isArray(list)) throw new CofferError('EINVAL', 'accessList must be an array');
  return list.map((entry) => [
    addressBytes(entry.address),
    entry.storageKeys.map((key) => fromHexString(key, 'storage key', 32)),
  ]);
}

function fields(tx: EthereumTransaction): RlpItem[] {
  const to = tx.to === null ? new Uint8Array(0) : addressBytes(tx.to);
  assertBytes('data', tx.data);
  if (tx.type === 0) {
    return [
      uint(tx.nonce, 'nonce', 2n ** 64n - 1n),
      uint(tx.gasPrice, 'gasPrice'),
      uint(tx.gasLimit, 'gasLimit'),
      to,
      uint(tx.value, 'value'),
      tx.data,
    ];
  }
  if (tx.type === 2) {
    if (tx.maxPriorityFeePerGas > tx.maxFeePerGas)
      throw new CofferError('EINVAL', 'maxPriorityFeePerGas exceeds maxFeePerGas');
    return [
      uint(tx.chainId, 'chainId'),
      uint(tx.nonce, 'nonce', 2n ** 64n - 1n),
      uint(tx.maxPriorityFeePerGas, 'maxPriorityFeePerGas'),
      uint(tx.maxFeePerGas, 'maxFeePerGas'),
      uint(tx.gasLimit, 'gasLimit'),
      to,
      uint(tx.value, 'value'),
      tx.data,
      encodeAccessList(tx.accessList),
    ];
  }
  throw new CofferError('EINVAL', 'transaction type must be 0 (legacy) or 2 (EIP-1559)');
}

/** The bytes whose Keccak-256 is signed: EIP-155 `rlp([…, chainId, 0, 0])`, or `0x02 ‖ rlp([…])`. */
export function unsignedTransactionBytes(tx: EthereumTransaction): Uint8Array {
  if (tx.type === 0) {
    if (tx.chainId < 1n)
      throw new CofferError('EINVAL', 'legacy transactions are signed with EIP-155: chainId ≥ 1');
    return rlpEncode([...fields(tx), uint(tx.chainId, 'chainId'), new Uint8Array(0), new Uint8Array(0)]);
  }
  return concatBytes(Uint8Array.of(2), rlpEncode(fields(tx)));
}

export function transactionSigningHash(tx: EthereumTransaction): Uint8Array {
  return keccak(unsignedTransactionBytes(tx));
}

function signedBytes(tx: EthereumTransaction, signature: Uint8Array): Uint8Array {
  const r = rlpInteger(BigInt(toHexString(signature.subarray(0, 32))));
  const s = rlpInteger(BigInt(toHexString(signature.subarray(32, 64))));
  const recovery = BigInt(signature[64]!);
  if (tx.type === 0) return rlpEncode([...fields(tx), rlpInteger(tx.chainId * 2n + 35n + recovery), r, s]);
  return concatBytes(Uint8Array.of(2), rlpEncode([...fields(tx), rlpInteger(recovery), r, s]));
}

/** Signs a transaction; returns the raw signed transaction, its hash and the sender. */
export async function signTransaction(
  tx: EthereumTransaction,
  signer: DigestSigner,
): Promise<{ raw: string; hash: string; from: string }> {
  const signingHash = transactionSigningHash(tx);
  const signature = await signer(signingHash);
  assertRecoverable(signature);
  const raw = signedBytes(tx, signature);
  return {
    raw: toHexString(raw),
    hash: toHexString(keccak(raw)),
    from: recoverAddress(signingHash, signature),
  };
}

function list(item: RlpItem | undefined, what: string): RlpItem[] {
  if (!Array.isArray(item)) throw new CofferError('EINVAL', `${what} must be an RLP list`);
  return item;
}

function bytesField(item: RlpItem | undefined, what: string): Uint8Array {
  if (!(item instanceof Uint8Array)) throw new CofferError('EINVAL', `${what} must be a byte string`);
  return item;
}

function toField(item: RlpItem | undefined): string | null {
  const bytes = bytesField(item, 'to');
  if (bytes.length === 0) return null;
  if (bytes.length !== 20) throw new CofferError('EINVAL', 'to must be empty or 20 bytes');
  return parseEthereumAddress(toHexString(bytes));
}

function signatureFrom(recovery: bigint, rItem: RlpItem | undefined, sItem: RlpItem | undefined): Uint8Array {
  const r = rlpToInteger(rItem ?? new Uint8Array(0), 'r');
  const s = rlpToInteger(sItem ?? new Uint8Array(0), 's');
  const hex = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');
  return concatBytes(hex(r), hex(s), Uint8Array.of(Number(recovery)));
}

/**
 * Parses a signed raw transaction (legacy EIP-155 or type 2), recomputes its signing hash and
 * recovers the sender. EINVAL for anything malformed or non-canonical (pre-EIP-155 legacy v = 27/28
 * included: replayable on every chain); EBADMSG when the signature recovers no key or is high-S.
 */
export function parseSignedTransaction(raw: string | Uint8Array): {
  tx: EthereumTransaction;
  from: string;
  hash: string;
} {
  const bytes = typeof raw === 'string' ? fromHexString(raw, 'raw transaction') : raw;
  assertBytes('raw transaction', bytes);
  if (bytes.length > 128 * 1024) throw new CofferError('E2BIG', 'raw transaction over 128 KiB');
  let tx: EthereumTransaction;
  let signature: Uint8Array;
  if (bytes[0] === 2) {
    const items = list(rlpDecode(bytes.subarray(1)), 'type-2 transaction');
    if (items.length !== 12) throw new CofferError('EINVAL', 'a type-2 transaction has 12 fields');
    const accessList = list(items[8], 'accessList').map((entry) => {
      const [address, keys, ...rest] = list(entry, 'access list entry');
      if (rest.length > 0) throw new CofferError('EINVAL', 'access list entry has extra fields');
      const addr = bytesField(address, 'access list address');
      if (addr.length !== 20) throw new CofferError('EINVAL', 'access list address must be 20 bytes');
      return {
        address: parseEthereumAddress(toHexString(addr)),
        storageKeys: list(keys, 'storage keys').map((k) => {
          const key = bytesField(k, 'storage key');
          if (key.length !== 32) throw new CofferError('EINVAL', 'storage keys are 32 bytes');
          return toHexString(key);
        }),
      };
    });
    tx = {
      type: 2,
      chainId: rlpToInteger(items[0]!, 'chainId'),
      nonce: rlpToInteger(items[1]!, 'nonce', 8),
      maxPriorityFeePerGas: rlpToInteger(items[2]!, 'maxPriorityFeePerGas'),
      maxFeePerGas: rlpToInteger(items[3]!, 'maxFeePerGas'),
      gasLimit: rlpToInteger(items[4]!, 'gasLimit'),
      to: toField(items[5]),
      value: rlpToInteger(items[6]!, 'value'),
      data: bytesField(items[7], 'data').slice(),
      accessList,
    };
    const yParity = rlpToInteger(items[9]!, 'yParity', 1);
    if (yParity > 1n) throw new CofferError('EINVAL', 'yParity must be 0 or 1');
    signature = signatureFrom(yParity, items[10], items[11]);
  } else if (bytes[0] !== undefined && bytes[0] >= 0xc0) {
    const items = list(rlpDecode(bytes), 'legacy transaction');
    if (items.length !== 9) throw new CofferError('EINVAL', 'a legacy transaction has 9 fields');
    const v = rlpToInteger(items[6]!, 'v', 8);
    if (v < 37n)
      throw new CofferError(
        'EINVAL',
        'legacy transaction without EIP-155 replay protection (v = 27/28) is refused',
      );
    const chainId = (v - 35n) / 2n;
    tx = {
      type: 0,
      chainId,
      nonce: rlpToInteger(items[0]!, 'nonce', 8),
      gasPrice: rlpToInteger(items[1]!, 'gasPrice'),
      gasLimit: rlpToInteger(items[2]!, 'gasLimit'),
      to: toField(items[3]),
      value: rlpToInteger(items[4]!, 'value'),
      data: bytesField(items[5], 'data').slice(),
    };
    signature = signatureFrom((v - 35n) % 2n, items[7], items[8]);
  } else {
    throw new CofferError('EINVAL', 'unsupported transaction type (Coffer reads legacy and type 2)');
  }
  // Re-encoding must give the same bytes: one transaction, one encoding, one hash.
  const again = signedBytes(tx, signature);
  if (Buffer.compare(Buffer.from(again), Buffer.from(bytes)) !== 0)
    throw new CofferError('EINVAL', 'transaction is not canonically encoded');
  return {
    tx,
    from: recoverAddress(transactionSigningHash(tx), signature),
    hash: toHexString(keccak(bytes)),
  };
}
