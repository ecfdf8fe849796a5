// Detects once, at load, which primitives the running Node's OpenSSL provides (SPEC §1: native
// first, pure-JS only for what is missing), and reports the choice per primitive for `coffer doctor`.
import * as nodeCrypto from 'node:crypto';

function probe(run: () => unknown): boolean {
  try {
    run();
    return true;
  } catch {
    return false;
  }
}

function probeKeyPair(type: string): boolean {
  // generateKeyPairSync's overloads do not list the post-quantum types on Node 20's typings.
  const generate = nodeCrypto.generateKeyPairSync as unknown as (type: string) => unknown;
  return probe(() => generate(type));
}

const node = nodeCrypto as unknown as Record<string, unknown>;

/** What node:crypto can do in this process. Frozen: detection happens exactly once. */
export const nativeSupport = Object.freeze({
  aes256Gcm: probe(() => nodeCrypto.createCipheriv('aes-256-gcm', Buffer.alloc(32), Buffer.alloc(12))),
  chacha20Poly1305: probe(() =>
    nodeCrypto.createCipheriv('chacha20-poly1305', Buffer.alloc(32), Buffer.alloc(12), { authTagLength: 16 }),
  ),
  ed25519: probeKeyPair('ed25519'),
  x25519: probeKeyPair('x25519'),
  p256: probe(() => nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })),
  secp256k1: probe(() => nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'secp256k1' })),
  mlKem768: probeKeyPair('ml-kem-768') && typeof node.encapsulate === 'function',
  // Coffer keeps ML-DSA secrets as the 32-byte seed ξ, so native use needs OpenSSL 3.5's seed-only
  // PKCS#8 import (RFC 9881 private key "seed" choice), not just key generation.
  mlDsa65:
    probeKeyPair('ml-dsa-65') &&
    probe(() =>
      nodeCrypto.createPrivateKey({
        key: Buffer.concat([
          Buffer.from('3034020100300b060960864801650304031204228020', 'hex'),
          Buffer.alloc(32),
        ]),
        format: 'der',
        type: 'pkcs8',
      }),
    ),
  // FIPS 204 contexts reach OpenSSL only on Node versions that pass `context` through (nodejs/node
  // #59570); an older Node would silently sign with the empty context, so prove the option has effect.
  mlDsa65Context: probe(() => {
    const { privateKey, publicKey } = (
      nodeCrypto.generateKeyPairSync as unknown as (type: string) => nodeCrypto.KeyPairKeyObjectResult
    )('ml-dsa-65');
    const message = Buffer.alloc(1);
    const context = Buffer.from('coffer');
    const sign = nodeCrypto.sign as unknown as (alg: null, data: Buffer, key: object) => Buffer;
    const verify = nodeCrypto.verify as unknown as (
      alg: null,
      data: Buffer,
      key: object,
      sig: Buffer,
    ) => boolean;
    const signature = sign(null, message, { key: privateKey, context });
    if (!verify(null, message, { key: publicKey, context }, signature)) throw new Error('context lost');
    if (verify(null, message, { key: publicKey }, signature)) throw new Error('context ignored');
  }),
  sha3: probe(() => nodeCrypto.createHash('sha3-256').update('').digest()),
  shake256: probe(() => nodeCrypto.createHash('shake256', { outputLength: 32 }).update('').digest()),
  argon2: typeof node.argon2Sync === 'function',
  scrypt: typeof nodeCrypto.scryptSync === 'function',
  pbkdf2: typeof nodeCrypto.pbkdf2Sync === 'function',
});

export type Implementation =
  | 'node:crypto'
  | '@noble/ciphers'
  | '@noble/curves'
  | '@noble/hashes'
  | '@noble/post-quantum'
  | 'node:crypto + @noble/ciphers'
  | 'node:crypto + @noble/post-quantum';

/**
 * Which implementation each primitive uses in this process. The modules that implement the
 * primitives pick their path from `nativeSupport`, so this report and the code cannot disagree.
 */
export function cryptoImplementations(): Record<string, Implementation> {
  const n = nativeSupport;
  return {
    'aes-256-gcm': 'node:crypto',
    'chacha20-poly1305': 'node:crypto',
    // HChaCha20 derives the subkey in JS; the bulk cipher is always native ChaCha20-Poly1305.
    'xchacha20-poly1305': 'node:crypto + @noble/ciphers',
    ed25519: n.ed25519 ? 'node:crypto' : '@noble/curves',
    'ecdsa-p256': n.p256 ? 'node:crypto' : '@noble/curves',
    secp256k1: n.secp256k1 ? 'node:crypto' : '@noble/curves',
    'secp256k1-recovery': '@noble/curves',
    // Without native contexts, calls that pass a non-empty context run in @noble/post-quantum.
    'ml-dsa-65': n.mlDsa65
      ? n.mlDsa65Context
        ? 'node:crypto'
        : 'node:crypto + @noble/post-quantum'
      : '@noble/post-quantum',
    'ml-kem-768': n.mlKem768 ? 'node:crypto' : '@noble/post-quantum',
    'x-wing': n.mlKem768 && n.x25519 && n.sha3 ? 'node:crypto' : 'node:crypto + @noble/post-quantum',
    // kdf.ts switches all of HKDF to @noble/hashes when SHA3 is missing, so one name is always true.
    hkdf: n.sha3 ? 'node:crypto' : '@noble/hashes',
    hmac: 'node:crypto',
    argon2id: n.argon2 ? 'node:crypto' : '@noble/hashes',
    scrypt: n.scrypt ? 'node:crypto' : '@noble/hashes',
    pbkdf2: n.pbkdf2 ? 'node:crypto' : '@noble/hashes',
  };
}
