// OpenSSH's private key format, "openssh-key-v1" (OpenSSH PROTOCOL.key; SPEC §14.4.5), as
// ssh-keygen writes it for ssh-ed25519 and ecdsa-sha2-nistp256 keys: unencrypted, or encrypted with
// bcrypt_pbkdf and aes{128,192,256}-{ctr,cbc} or aes{128,256}-gcm@openssh.com. chacha20-poly1305@
// openssh.com and 3des-cbc are refused by name (re-encrypt with `ssh-keygen -p -Z aes256-ctr`).
// The parser checks everything the format lets it check: one key, the public blob equal to the
// private section's public key, matching check integers (wrong passphrase → EBADMSG), the
// Ed25519 64-byte private field equal to seed ‖ public key, and padding bytes 1, 2, 3, …
import { BCRYPT_PBKDF_MAX_ROUNDS, bcryptPbkdf } from '../crypto/bcrypt-pbkdf.js';
import { assertBytes, concatBytes, equalBytes, wipe } from '../crypto/bytes.js';
import { type AesMode, aesDecrypt, aesEncrypt } from '../crypto/key-file-ciphers.js';
import { type Rng, systemRng } from '../crypto/rng.js';
import type { SigAlgorithm } from '../crypto/sig.js';
import * as sig from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { decodePem, encodePem } from './pem.js';
import type { ParsedPrivateKey } from './private-key.js';
import { publicKeyFromSshBlob, publicKeyToSshBlob, sshKeyType } from './public-key.js';
import { SshReader, sshMpint, sshString, sshUint32 } from './ssh-wire.js';

const MAGIC = new TextEncoder().encode('openssh-key-v1\0');
const LABEL = 'OPENSSH PRIVATE KEY';

interface CipherSpec {
  mode: AesMode | 'none';
  keyLength: number;
  ivLength: number;
  blockSize: number;
  tagLength: number;
}

const CIPHERS: Readonly<Record<string, CipherSpec>> = {
  none: { mode: 'none', keyLength: 0, ivLength: 0, blockSize: 8, tagLength: 0 },
  'aes128-ctr': { mode: 'ctr', keyLength: 16, ivLength: 16, blockSize: 16, tagLength: 0 },
  'aes192-ctr': { mode: 'ctr', keyLength: 24, ivLength: 16, blockSize: 16, tagLength: 0 },
  'aes256-ctr': { mode: 'ctr', keyLength: 32, ivLength: 16, blockSize: 16, tagLength: 0 },
  'aes128-cbc': { mode: 'cbc', keyLength: 16, ivLength: 16, blockSize: 16, tagLength: 0 },
  'aes192-cbc': { mode: 'cbc', keyLength: 24, ivLength: 16, blockSize: 16, tagLength: 0 },
  'aes256-cbc': { mode: 'cbc', keyLength: 32, ivLength: 16, blockSize: 16, tagLength: 0 },
  'aes128-gcm@openssh.com': { mode: 'gcm', keyLength: 16, ivLength: 12, blockSize: 16, tagLength: 16 },
  'aes256-gcm@openssh.com': { mode: 'gcm', keyLength: 32, ivLength: 12, blockSize: 16, tagLength: 16 },
};

export interface OpenSshPrivateKey extends ParsedPrivateKey {
  alg: SigAlgorithm;
  comment: string;
}

const invalid = (what: string): CofferError => new CofferError('EINVAL', `OpenSSH private key: ${what}`);

function decryptSection(
  spec: CipherSpec,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
  tag: Uint8Array,
): Uint8Array {
  if (spec.mode === 'none') return data.slice();
  if (data.length % spec.blockSize !== 0) throw invalid('encrypted section is not a whole number of blocks');
  // OpenSSH pads the section to the block size itself, so CBC runs without PKCS#7 padding.
  return aesDecrypt(spec.mode, key, iv, data, spec.mode === 'gcm' ? tag : undefined, false);
}

function readPrivateSection(
  section: Uint8Array,
  blockSize: number,
): { alg: SigAlgorithm; secret: Uint8Array; publicKey: Uint8Array; comment: string } {
  const reader = new SshReader(section, 'OpenSSH private section');
  const check1 = reader.uint32();
  const check2 = reader.uint32();
  if (check1 !== check2)
    throw new CofferError('EBADMSG', 'OpenSSH private key: wrong passphrase (check integers differ)');
  const type = new TextDecoder().decode(reader.string());
  let alg: SigAlgorithm;
  let secret: Uint8Array;
  let publicKey: Uint8Array;
  if (type === 'ssh-ed25519') {
    alg = 'ed25519';
    publicKey = reader.string();
    const both = reader.string();
    if (publicKey.length !== 32 || both.length !== 64)
      throw invalid('ssh-ed25519 key fields have the wrong length');
    // The 64-byte field is seed ‖ public key (the ref10 secret key layout).
    if (!equalBytes(both.subarray(32), publicKey))
      throw invalid('ssh-ed25519 private field does not end in its public key');
    secret = both.slice(0, 32);
  } else if (type === 'ecdsa-sha2-nistp256') {
    alg = 'ecdsa-p256';
    if (new TextDecoder().decode(reader.string()) !== 'nistp256')
      throw invalid('curve name does not match the key type');
    publicKey = reader.string();
    const d = reader.unsignedMpint();
    if (d.length > 32) throw invalid('ECDSA private scalar wider than 32 bytes');
    secret = new Uint8Array(32);
    secret.set(d, 32 - d.length);
  } else {
    throw invalid(`unsupported key type '${type}' (Coffer imports ssh-ed25519 and ecdsa-sha2-nistp256)`);
  }
  let comment: string;
  try {
    comment = reader.text();
    // PROTOCOL.key: padding is 1, 2, 3, … up to the cipher block size.
    const padding = reader.raw(reader.remaining);
    if (padding.length >= blockSize || padding.some((b, i) => b !== i + 1)) throw invalid('bad padding');
  } catch (error) {
    wipe(secret);
    throw error;
  }
  return { alg, secret, publicKey, comment };
}

function passphraseBytes(passphrase: string | Uint8Array | undefined): Uint8Array | undefined {
  if (passphrase === undefined) return undefined;
  if (typeof passphrase === 'string') return new TextEncoder().encode(passphrase);
  assertBytes('passphrase', passphrase);
  return passphrase;
}

/** The binary openssh-key-v1 blob → the key. `passphrase` is needed iff the key is encrypted. */
export function privateKeyFromOpenSshBlob(
  blob: Uint8Array,
  passphrase?: string | Uint8Array,
): OpenSshPrivateKey {
  assertBytes('OpenSSH private key', blob);
  if (!equalBytes(blob.subarray(0, MAGIC.length), MAGIC)) throw invalid('missing "openssh-key-v1" magic');
  const reader = new SshReader(blob.subarray(MAGIC.length), 'OpenSSH private key');
  const cipherName = reader.text();
  const kdfName = reader.text();
  const kdfOptions = reader.string();
  const count = reader.uint32();
  if (count !== 1) throw invalid(`holds ${count} keys; Coffer imports one key per file`);
  const publicBlob = reader.string();
  const encrypted = reader.string();
  const spec = CIPHERS[cipherName];
  if (spec === undefined) {
    throw invalid(`unsupported cipher '${cipherName}'; re-encrypt with \`ssh-keygen -p -Z aes256-ctr\``);
  }
  const tag = reader.raw(spec.tagLength);
  reader.end();
  let key: Uint8Array = new Uint8Array(0);
  let iv: Uint8Array = new Uint8Array(0);
  const pass = passphraseBytes(passphrase);
  try {
    if (cipherName === 'none') {
      if (kdfName !== 'none' || kdfOptions.length !== 0) throw invalid('unencrypted key with a KDF');
    } else {
      if (kdfName !== 'bcrypt') throw invalid(`unsupported KDF '${kdfName}'`);
      const options = new SshReader(kdfOptions, 'OpenSSH bcrypt options');
      const salt = options.string();
      const rounds = options.uint32();
      options.end();
      if (rounds < 1 || rounds > BCRYPT_PBKDF_MAX_ROUNDS)
        throw invalid(`bcrypt rounds must be 1 to ${BCRYPT_PBKDF_MAX_ROUNDS}`);
      if (salt.length === 0 || salt.length > 64) throw invalid('bcrypt salt must be 1 to 64 bytes');
      if (pass === undefined)
        throw new CofferError('EINVAL', 'OpenSSH private key is encrypted: a passphrase is needed');
      const material = bcryptPbkdf(pass, salt, rounds, spec.keyLength + spec.ivLength);
      key = material.slice(0, spec.keyLength);
      iv = material.slice(spec.keyLength);
      wipe(material);
    }
    const section = decryptSection(spec, key, iv, encrypted, tag);
    try {
      const { alg, secret, publicKey, comment } = readPrivateSection(section, spec.blockSize);
      try {
        const declared = publicKeyFromSshBlob(publicBlob);
        const inner = publicKeyFromSshBlob(
          concatBytes(
            sshString(sshKeyType(alg)),
            ...(alg === 'ecdsa-p256' ? [sshString('nistp256')] : []),
            sshString(publicKey),
          ),
        );
        if (declared.alg !== alg || !equalBytes(declared.publicKey, inner.publicKey)) {
          throw invalid('the public key blob does not match the private section');
        }
        const derived = sig.publicKey(alg, secret);
        if (!equalBytes(derived, inner.publicKey))
          throw invalid('the private key does not match its public key');
        return { alg, secretKey: secret.slice(), publicKey: derived, comment };
      } finally {
        wipe(secret);
      }
    } finally {
      wipe(section);
    }
  } finally {
    wipe(key, iv);
    if (pass !== passphrase) wipe(pass);
  }
}

/** "-----BEGIN OPENSSH PRIVATE KEY-----" text (70-column lines) → the key. */
export function privateKeyFromOpenSsh(text: string, passphrase?: string | Uint8Array): OpenSshPrivateKey {
  const { bytes } = decodePem(text, [LABEL], 76);
  try {
    return privateKeyFromOpenSshBlob(bytes, passphrase);
  } finally {
    wipe(bytes);
  }
}

export interface OpenSshWriteOptions {
  comment?: string;
  /** Encrypts with bcrypt_pbkdf + aes256-ctr, ssh-keygen's default. */
  passphrase?: string | Uint8Array;
  /** bcrypt rounds (ssh-keygen's default 16). */
  rounds?: number;
  rng?: Rng;
}

/**
 * openssh-key-v1 text of an ssh-ed25519 or ecdsa-sha2-nistp256 key, as ssh-keygen writes it. The
 * result holds the secret (encrypted only with a passphrase).
 */
export function privateKeyToOpenSsh(
  alg: SigAlgorithm,
  secretKey: Uint8Array,
  options: OpenSshWriteOptions = {},
): string {
  const type = sshKeyType(alg);
  const rng = options.rng ?? systemRng;
  const publicKey = sig.publicKey(alg, secretKey);
  const publicBlob = publicKeyToSshBlob(alg, publicKey);
  const check = rng.randomBytes(4);
  const pass = passphraseBytes(options.passphrase);
  const cipherName = pass === undefined ? 'none' : 'aes256-ctr';
  const spec = CIPHERS[cipherName]!;
  const keyFields =
    alg === 'ed25519'
      ? [sshString(publicKey), sshString(concatBytes(secretKey, publicKey))]
      : [sshString('nistp256'), sshString(publicKey), sshMpint(secretKey)];
  const body = concatBytes(check, check, sshString(type), ...keyFields, sshString(options.comment ?? ''));
  const padLength = (spec.blockSize - (body.length % spec.blockSize)) % spec.blockSize;
  const section = concatBytes(
    body,
    Uint8Array.from({ length: padLength }, (_, i) => i + 1),
  );
  wipe(body, ...keyFields);
  let kdfName = 'none';
  let kdfOptions: Uint8Array = new Uint8Array(0);
  let encrypted: Uint8Array = section;
  if (pass !== undefined) {
    const rounds = options.rounds ?? 16;
    const salt = rng.randomBytes(16);
    const material = bcryptPbkdf(pass, salt, rounds, spec.keyLength + spec.ivLength);
    kdfName = 'bcrypt';
    kdfOptions = concatBytes(sshString(salt), sshUint32(rounds));
    encrypted = aesEncrypt('ctr', material.subarray(0, 32), material.subarray(32), section).ciphertext;
    wipe(material, section);
    if (pass !== options.passphrase) wipe(pass);
  }
  const blob = concatBytes(
    MAGIC,
    sshString(cipherName),
    sshString(kdfName),
    sshString(kdfOptions),
    sshUint32(1),
    sshString(publicBlob),
    sshString(encrypted),
  );
  try {
    return encodePem(LABEL, blob, 70);
  } finally {
    wipe(blob, encrypted);
  }
}
