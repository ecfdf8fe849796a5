// BIP-32 hierarchical deterministic keys on secp256k1 (bitcoin/bips bip-0032.mediawiki): master key
// from a seed, private and public child derivation, and the 78-byte xprv / xpub serialisation with
// every consistency check of test vector 5 (version vs key type, key range, point validity, depth 0
// with a parent fingerprint or index). Nodes are immutable; `wipe()` clears a node's private key.
import { CofferError } from '../errors.js';
import { assertBytes, assertOneOf, concatBytes, wipe } from './bytes.js';
import { base58checkDecode, base58checkEncode } from './hd-base58.js';
import { assertChildIndex, HARDENED_OFFSET, isHardened, MAX_DEPTH, parsePath, ser32 } from './hd-path.js';
import {
  addScalars,
  addTweakToPoint,
  assertCompressedPoint,
  fingerprintOf,
  isValidScalar,
  publicKeyOf,
} from './hd-secp256k1.js';
import { hmac } from './mac.js';

export type Bip32Network = 'mainnet' | 'testnet';
export const BIP32_NETWORKS: readonly Bip32Network[] = ['mainnet', 'testnet'];

/** Version bytes of BIP-32 §Serialization format (xprv/xpub, tprv/tpub). */
const VERSIONS: Readonly<Record<Bip32Network, { private: number; public: number }>> = Object.freeze({
  mainnet: { private: 0x0488ade4, public: 0x0488b21e },
  testnet: { private: 0x04358394, public: 0x043587cf },
});

const MASTER_HMAC_KEY = new TextEncoder().encode('Bitcoin seed');
const EXTENDED_KEY_LENGTH = 78;

interface NodeFields {
  network: Bip32Network;
  depth: number;
  index: number;
  parentFingerprint: number;
  chainCode: Uint8Array;
  privateKey?: Uint8Array;
  publicKey: Uint8Array;
}

/** A node of the BIP-32 tree. Getters return copies, so callers cannot alter (or wipe) the node. */
export class Bip32Node {
  readonly network: Bip32Network;
  readonly depth: number;
  readonly index: number;
  readonly parentFingerprint: number;
  readonly #chainCode: Uint8Array;
  #privateKey: Uint8Array | undefined;
  readonly #publicKey: Uint8Array;

  /** @internal use bip32FromSeed / bip32FromExtendedKey. */
  constructor(fields: NodeFields) {
    this.network = fields.network;
    this.depth = fields.depth;
    this.index = fields.index;
    this.parentFingerprint = fields.parentFingerprint;
    this.#chainCode = fields.chainCode;
    this.#privateKey = fields.privateKey;
    this.#publicKey = fields.publicKey;
  }

  /** 32-byte private key (a secp256k1 scalar), or undefined for a public-only node. */
  get privateKey(): Uint8Array | undefined {
    return this.#privateKey ? Uint8Array.from(this.#privateKey) : undefined;
  }

  /** 33-byte compressed public key. */
  get publicKey(): Uint8Array {
    return Uint8Array.from(this.#publicKey);
  }

  get chainCode(): Uint8Array {
    return Uint8Array.from(this.#chainCode);
  }

  /** First 32 bits of HASH160(publicKey), as an unsigned integer. */
  get fingerprint(): number {
    return fingerprintOf(this.#publicKey);
  }

  get isPrivate(): boolean {
    return this.#privateKey !== undefined;
  }

  /** Base58Check xprv (tprv on testnet); undefined for a public node. Reveals the private key. */
  get xprv(): string | undefined {
    if (!this.#privateKey) return undefined;
    const key = concatBytes(Uint8Array.of(0), this.#privateKey);
    try {
      return this.#serialize(VERSIONS[this.network].private, key);
    } finally {
      wipe(key);
    }
  }

  get xpub(): string {
    return this.#serialize(VERSIONS[this.network].public, this.#publicKey);
  }

  #serialize(version: number, key: Uint8Array): string {
    const head = new Uint8Array(13);
    const view = new DataView(head.buffer);
    view.setUint32(0, version, false);
    head[4] = this.depth;
    view.setUint32(5, this.parentFingerprint, false);
    view.setUint32(9, this.index, false);
    const payload = concatBytes(head, this.#chainCode, key);
    try {
      return base58checkEncode(payload);
    } finally {
      wipe(payload);
    }
  }

  /** The public-only node (same position in the tree). */
  neuter(): Bip32Node {
    return new Bip32Node({
      network: this.network,
      depth: this.depth,
      index: this.index,
      parentFingerprint: this.parentFingerprint,
      chainCode: Uint8Array.from(this.#chainCode),
      publicKey: Uint8Array.from(this.#publicKey),
    });
  }

  /**
   * CKDpriv (private node) or CKDpub (public node) for one child index (≥ 2^31 = hardened).
   * EINVAL for a hardened index on a public node, and for the ~2^-127 case the BIP calls invalid
   * (the caller should move on to the next index).
   */
  deriveChild(index: number): Bip32Node {
    assertChildIndex(index);
    if (this.depth >= MAX_DEPTH) throw new CofferError('EINVAL', `BIP-32 depth is at most ${MAX_DEPTH}`);
    const hardened = isHardened(index);
    if (hardened && !this.#privateKey) {
      throw new CofferError('EINVAL', 'a public (xpub) node cannot derive a hardened child');
    }
    const data =
      hardened && this.#privateKey
        ? concatBytes(Uint8Array.of(0), this.#privateKey, ser32(index))
        : concatBytes(this.#publicKey, ser32(index));
    const I = hmac('sha512', this.#chainCode, data);
    const IL = I.subarray(0, 32);
    const chainCode = I.slice(32);
    const common = {
      network: this.network,
      depth: this.depth + 1,
      index,
      parentFingerprint: this.fingerprint,
      chainCode,
    };
    try {
      if (!isValidScalar(IL)) throw invalidChild(index);
      if (this.#privateKey) {
        const privateKey = addScalars(IL, this.#privateKey);
        if (!privateKey) throw invalidChild(index);
        return new Bip32Node({ ...common, privateKey, publicKey: publicKeyOf(privateKey) });
      }
      const publicKey = addTweakToPoint(this.#publicKey, IL);
      if (!publicKey) throw invalidChild(index);
      return new Bip32Node({ ...common, publicKey });
    } catch (error) {
      wipe(chainCode);
      throw error;
    } finally {
      wipe(I, data);
    }
  }

  /**
   * Derives along a path: `m/44'/0'/0'/0/1` from a master (depth 0) node, or a relative path such as
   * `0/1` from any node. `'` or `h` marks hardened. Intermediate nodes are wiped.
   */
  derive(path: string): Bip32Node {
    const { absolute, indices } = parsePath(path);
    if (absolute && this.depth !== 0) {
      throw new CofferError(
        'EINVAL',
        `'m/…' paths start at the master key; this node has depth ${this.depth}`,
      );
    }
    if (this.depth + indices.length > MAX_DEPTH) {
      throw new CofferError('EINVAL', `BIP-32 depth is at most ${MAX_DEPTH}`);
    }
    if (!this.#privateKey && indices.some(isHardened)) {
      throw new CofferError('EINVAL', 'a public (xpub) node cannot derive a hardened child');
    }
    let node: Bip32Node = this;
    for (const index of indices) {
      const next = node.deriveChild(index);
      if (node !== this) node.wipe();
      node = next;
    }
    // `m` alone (or an empty relative path is refused by parsePath): a copy, so wiping it is safe.
    return node === this ? this.#copy() : node;
  }

  #copy(): Bip32Node {
    return new Bip32Node({
      network: this.network,
      depth: this.depth,
      index: this.index,
      parentFingerprint: this.parentFingerprint,
      chainCode: Uint8Array.from(this.#chainCode),
      ...(this.#privateKey ? { privateKey: Uint8Array.from(this.#privateKey) } : {}),
      publicKey: Uint8Array.from(this.#publicKey),
    });
  }

  /** Best-effort wipe of the private key and chain code; the node is unusable for derivation after. */
  wipe(): void {
    wipe(this.#privateKey, this.#chainCode);
    this.#privateKey = undefined;
  }
}

function invalidChild(index: number): CofferError {
  return new CofferError(
    'EINVAL',
    `BIP-32: child ${index >= HARDENED_OFFSET ? `${index - HARDENED_OFFSET}'` : index} is invalid (probability below 2^-127); use the next index`,
  );
}

/** The master node of BIP-32 §Master key generation; the seed is 16–64 bytes (128–512 bits). */
export function bip32FromSeed(seed: Uint8Array, network: Bip32Network = 'mainnet'): Bip32Node {
  assertBytes('seed', seed);
  if (seed.length < 16 || seed.length > 64) throw new CofferError('EINVAL', 'seed must be 16 to 64 bytes');
  assertOneOf('network', network, BIP32_NETWORKS);
  const I = hmac('sha512', MASTER_HMAC_KEY, seed);
  const IL = I.slice(0, 32);
  try {
    if (!isValidScalar(IL)) {
      wipe(IL);
      throw new CofferError(
        'EINVAL',
        'BIP-32: this seed gives an invalid master key (probability below 2^-127)',
      );
    }
    return new Bip32Node({
      network,
      depth: 0,
      index: 0,
      parentFingerprint: 0,
      chainCode: I.slice(32),
      privateKey: IL,
      publicKey: publicKeyOf(IL),
    });
  } finally {
    wipe(I);
  }
}

/** Parses an xprv / xpub / tprv / tpub; EINVAL for anything malformed or inconsistent (vector 5). */
export function bip32FromExtendedKey(text: string): Bip32Node {
  if (typeof text !== 'string') throw new CofferError('EINVAL', 'extended key must be a string');
  const payload = base58checkDecode(text.trim());
  try {
    if (payload.length !== EXTENDED_KEY_LENGTH) {
      throw new CofferError(
        'EINVAL',
        `an extended key holds ${EXTENDED_KEY_LENGTH} bytes, not ${payload.length}`,
      );
    }
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const version = view.getUint32(0, false);
    const depth = payload[4]!;
    const parentFingerprint = view.getUint32(5, false);
    const index = view.getUint32(9, false);
    const chainCode = payload.slice(13, 45);
    const key = payload.subarray(45, 78);
    let network: Bip32Network | undefined;
    let isPrivate = false;
    for (const name of BIP32_NETWORKS) {
      if (VERSIONS[name].private === version) [network, isPrivate] = [name, true];
      if (VERSIONS[name].public === version) [network, isPrivate] = [name, false];
    }
    if (!network) throw new CofferError('EINVAL', 'unknown extended key version (not xprv/xpub/tprv/tpub)');
    if (depth === 0 && parentFingerprint !== 0) {
      throw new CofferError('EINVAL', 'extended key has depth 0 but a non-zero parent fingerprint');
    }
    if (depth === 0 && index !== 0)
      throw new CofferError('EINVAL', 'extended key has depth 0 but a non-zero index');
    const fields = { network, depth, index, parentFingerprint, chainCode };
    if (isPrivate) {
      if (key[0] !== 0) throw new CofferError('EINVAL', 'private extended key must hold 0x00 ‖ 32-byte key');
      const privateKey = key.slice(1);
      if (!isValidScalar(privateKey)) {
        wipe(privateKey);
        throw new CofferError('EINVAL', 'private key in extended key is not in 1..n-1');
      }
      return new Bip32Node({ ...fields, privateKey, publicKey: publicKeyOf(privateKey) });
    }
    const publicKey = key.slice();
    assertCompressedPoint('public key in extended key', publicKey);
    return new Bip32Node({ ...fields, publicKey });
  } finally {
    wipe(payload);
  }
}
