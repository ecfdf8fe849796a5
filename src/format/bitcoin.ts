// Bitcoin (SPEC §14.10): addresses of a compressed secp256k1 key — P2PKH (Base58Check, version 0x00
// / 0x6f), P2SH-P2WPKH (BIP-49, version 0x05 / 0xc4) and P2WPKH (BIP-173 Bech32, witness v0, "bc" /
// "tb") —, the extended-key version bytes of SLIP-132 that tell wallets an account's script type
// (xpub/ypub/zpub for BIP-44/49/84, tpub/upub/vpub on testnet), and message signing: the "Bitcoin
// Signed Message" compact recoverable signature that Bitcoin Core's signmessage writes (header byte
// 27 + recid + 4 for a compressed key; BIP-137's +8 / +12 for segwit addresses on request).
import { assertBytes, assertOneOf, concatBytes, equalBytes } from '../crypto/bytes.js';
import { doubleSha256 } from '../crypto/hash.js';
import { hash160 } from '../crypto/hd-secp256k1.js';
import { recoverDigestPublicKey } from '../crypto/prehash.js';
import { convertEcPublicKey } from '../crypto/sig-ecdsa.js';
import { CofferError } from '../errors.js';
import {
  base58checkDecode,
  base58checkEncode,
  bech32DecodeWords,
  bech32EncodeWords,
  convertBits,
  decodeBase64,
  encodeBase64,
} from './text-encodings.js';

export type BitcoinNetwork = 'mainnet' | 'testnet';
export type BitcoinAddressType = 'p2pkh' | 'p2sh-p2wpkh' | 'p2wpkh';
export const BITCOIN_ADDRESS_TYPES: readonly BitcoinAddressType[] = ['p2pkh', 'p2sh-p2wpkh', 'p2wpkh'];

const NETWORK = {
  mainnet: { p2pkh: 0x00, p2sh: 0x05, hrp: 'bc' },
  testnet: { p2pkh: 0x6f, p2sh: 0xc4, hrp: 'tb' },
} as const;

/** Signs a 32-byte digest: r ‖ s ‖ v (65 bytes, v ∈ {0, 1}). */
export type DigestSigner = (digest: Uint8Array) => Uint8Array | Promise<Uint8Array>;

function compressed(publicKey: Uint8Array): Uint8Array {
  assertBytes('publicKey', publicKey, 33, 65);
  return convertEcPublicKey('secp256k1', publicKey, true);
}

/** The address of a secp256k1 key; keys are always hashed compressed (BIP-143 requires it for segwit). */
export function bitcoinAddress(
  publicKey: Uint8Array,
  type: BitcoinAddressType,
  network: BitcoinNetwork = 'mainnet',
): string {
  assertOneOf('type', type, BITCOIN_ADDRESS_TYPES);
  assertOneOf('network', network, ['mainnet', 'testnet'] as const);
  const keyHash = hash160(compressed(publicKey));
  const net = NETWORK[network];
  if (type === 'p2pkh') return base58checkEncode(concatBytes(Uint8Array.of(net.p2pkh), keyHash));
  if (type === 'p2sh-p2wpkh') {
    // BIP-49: the redeem script is the P2WPKH witness program OP_0 <20-byte key hash>.
    const redeemScript = concatBytes(Uint8Array.of(0x00, 0x14), keyHash);
    return base58checkEncode(concatBytes(Uint8Array.of(net.p2sh), hash160(redeemScript)));
  }
  return bech32EncodeWords(net.hrp, [0, ...convertBits(keyHash, 8, 5, true)]);
}

/** Parses an address into its type, network and 20-byte hash (key hash, or script hash for P2SH). */
export function parseBitcoinAddress(address: unknown): {
  type: BitcoinAddressType;
  network: BitcoinNetwork;
  hash: Uint8Array;
} {
  if (typeof address !== 'string') throw new CofferError('EINVAL', 'a Bitcoin address is a string');
  const lower = address.toLowerCase();
  if (lower.startsWith('bc1') || lower.startsWith('tb1')) {
    const { hrp, words } = bech32DecodeWords(address);
    const network = hrp === 'bc' ? 'mainnet' : hrp === 'tb' ? 'testnet' : undefined;
    if (network === undefined) throw new CofferError('EINVAL', `unknown segwit prefix '${hrp}'`);
    if (words[0] !== 0)
      throw new CofferError('EINVAL', 'only witness version 0 (P2WPKH) addresses are supported here');
    const program = Uint8Array.from(convertBits(words.slice(1), 5, 8, false));
    if (program.length !== 20)
      throw new CofferError('EINVAL', 'not a P2WPKH address (witness program must be 20 bytes)');
    return { type: 'p2wpkh', network, hash: program };
  }
  const payload = base58checkDecode(address, 64);
  if (payload.length !== 21) throw new CofferError('EINVAL', 'a Base58 address holds 21 bytes');
  const version = payload[0]!;
  const hash = payload.slice(1);
  for (const network of ['mainnet', 'testnet'] as const) {
    if (version === NETWORK[network].p2pkh) return { type: 'p2pkh', network, hash };
    // P2SH could hold any script; as a *key's* address only P2SH-P2WPKH applies (checked by the caller).
    if (version === NETWORK[network].p2sh) return { type: 'p2sh-p2wpkh', network, hash };
  }
  throw new CofferError('EINVAL', `unknown address version 0x${version.toString(16)}`);
}

// ---- SLIP-132 extended key versions ----

const EXTENDED_VERSIONS = {
  xpub: 0x0488b21e,
  ypub: 0x049d7cb2,
  zpub: 0x04b24746,
  tpub: 0x043587cf,
  upub: 0x044a5262,
  vpub: 0x045f1cf6,
  xprv: 0x0488ade4,
  yprv: 0x049d7878,
  zprv: 0x04b2430c,
  tprv: 0x04358394,
  uprv: 0x044a4e28,
  vprv: 0x045f18bc,
} as const;
export type ExtendedKeyPrefix = keyof typeof EXTENDED_VERSIONS;

/** The SLIP-132 prefix for an account of BIP-44 / 49 / 84 (public keys). */
export function accountPrefix(purpose: 44 | 49 | 84, network: BitcoinNetwork = 'mainnet'): ExtendedKeyPrefix {
  const table = {
    mainnet: { 44: 'xpub', 49: 'ypub', 84: 'zpub' },
    testnet: { 44: 'tpub', 49: 'upub', 84: 'vpub' },
  } as const;
  if (!(purpose in table.mainnet)) throw new CofferError('EINVAL', 'purpose must be 44, 49 or 84');
  return table[network][purpose];
}

/**
 * Re-labels an extended key with another SLIP-132 version (xpub → zpub, …): the 74 bytes after the
 * version stay as they are. Public stays public and private stays private.
 */
export function convertExtendedKey(text: string, prefix: ExtendedKeyPrefix): string {
  assertOneOf('prefix', prefix, Object.keys(EXTENDED_VERSIONS) as ExtendedKeyPrefix[]);
  const payload = base58checkDecode(text, 200);
  try {
    if (payload.length !== 78) throw new CofferError('EINVAL', 'an extended key holds 78 bytes');
    const current = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, false);
    const known = (Object.entries(EXTENDED_VERSIONS) as [ExtendedKeyPrefix, number][]).find(
      ([, v]) => v === current,
    );
    if (known === undefined) throw new CofferError('EINVAL', 'unknown extended key version');
    if (known[0].endsWith('prv') !== prefix.endsWith('prv')) {
      throw new CofferError('EINVAL', 'cannot turn a public extended key into a private one or back');
    }
    new DataView(payload.buffer, payload.byteOffset, 4).setUint32(0, EXTENDED_VERSIONS[prefix], false);
    return base58checkEncode(payload);
  } finally {
    payload.fill(0);
  }
}

// ---- "Bitcoin Signed Message" (signmessage / verifymessage) ----

const MAGIC = new TextEncoder().encode('Bitcoin Signed Message:\n');

/** Bitcoin's CompactSize length prefix. */
function varint(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >> 8);
  const out = new Uint8Array(5);
  out[0] = 0xfe;
  new DataView(out.buffer).setUint32(1, n, true);
  return out;
}

/** double-SHA-256(varint ‖ "Bitcoin Signed Message:\n" ‖ varint(len) ‖ message). */
export function bitcoinMessageHash(message: Uint8Array | string): Uint8Array {
  const bytes = typeof message === 'string' ? new TextEncoder().encode(message) : message;
  assertBytes('message', bytes);
  if (bytes.length > 0xffff_ffff) throw new CofferError('E2BIG', 'message too long');
  return doubleSha256(concatBytes(varint(MAGIC.length), MAGIC, varint(bytes.length), bytes));
}

const HEADER_BASE: Readonly<Record<BitcoinAddressType, number>> = {
  p2pkh: 31,
  'p2sh-p2wpkh': 35,
  p2wpkh: 39,
};

/**
 * Signs a message as `signmessage` does: base64(header ‖ r ‖ s). The header is 31 + recid (compressed
 * P2PKH, Bitcoin Core's only form) unless `bip137` asks for the segwit headers of the address type.
 */
export async function signBitcoinMessage(
  message: Uint8Array | string,
  signer: DigestSigner,
  options: { addressType?: BitcoinAddressType; bip137?: boolean } = {},
): Promise<string> {
  const signature = await signer(bitcoinMessageHash(message));
  assertBytes('signature', signature, 65);
  if (signature[64]! > 3) throw new CofferError('EINVAL', 'recovery id must be 0 to 3');
  const base = options.bip137 ? HEADER_BASE[options.addressType ?? 'p2pkh'] : 31;
  return encodeBase64(concatBytes(Uint8Array.of(base + signature[64]!), signature.subarray(0, 64)));
}

/**
 * true iff `signature` (base64, 65 bytes) was made by the key of `address` over `message`. Headers
 * 31–34 (compressed, Core) are accepted for every address type — Electrum and most wallets sign
 * segwit addresses that way — and BIP-137's 35–38 / 39–42 only for their own type; 27–30
 * (uncompressed keys) are refused, since Coffer's keys and segwit are compressed-only. Malformed
 * input is EINVAL; a wrong signer is false.
 */
export function verifyBitcoinMessage(
  address: string,
  message: Uint8Array | string,
  signature: string,
): boolean {
  const parsed = parseBitcoinAddress(address);
  const bytes = decodeBase64(signature, 'base64', 'message signature');
  if (bytes.length !== 65) throw new CofferError('EINVAL', 'a message signature is 65 bytes');
  const header = bytes[0]!;
  if (header < 31 || header > 42) {
    throw new CofferError(
      'EINVAL',
      `message signature header ${header} (uncompressed keys or unknown types are not supported)`,
    );
  }
  const kind = header >= 39 ? 'p2wpkh' : header >= 35 ? 'p2sh-p2wpkh' : undefined;
  if (kind !== undefined && kind !== parsed.type) return false;
  const recovery = (header - 31) % 4;
  let publicKey: Uint8Array;
  try {
    publicKey = recoverDigestPublicKey(
      'secp256k1',
      'sha256',
      bitcoinMessageHash(message),
      concatBytes(bytes.subarray(1), Uint8Array.of(recovery)),
    );
  } catch (error) {
    if (error instanceof CofferError && error.code === 'EBADMSG') return false;
    throw error;
  }
  return equalBytes(
    parseBitcoinAddress(bitcoinAddress(publicKey, parsed.type, parsed.network)).hash,
    parsed.hash,
  );
}
