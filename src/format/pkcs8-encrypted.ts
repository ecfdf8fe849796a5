// Encrypted PKCS#8 (RFC 5958 §3 EncryptedPrivateKeyInfo, "ENCRYPTED PRIVATE KEY" PEM; SPEC §14.4.4)
// with PBES2 (RFC 8018 §6.2) as OpenSSL writes it: PBKDF2 (HMAC-SHA-1/224/256/384/512, RFC 8018
// §5.2, A.2) or scrypt (RFC 7914 §7), and AES-128/192/256-CBC (RFC 8018 B.2.5, NIST OIDs). OpenSSL
// refuses AEAD ciphers in PBES2 ("AEAD ciphers not supported"), so AES-GCM here would read files
// nothing writes; PBES1 (DES, RC2, MD5) and 3DES are refused by name. KDF work is capped
// (key-file-ciphers.ts) before any is done, so a hostile file cannot stall an import.

import { assertBytes, wipe } from '../crypto/bytes.js';
import {
  type AesMode,
  aesDecrypt,
  aesEncrypt,
  type Pbkdf2Prf,
  pbkdf2,
  scrypt,
} from '../crypto/key-file-ciphers.js';
import { type Rng, systemRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import {
  DerReader,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  TAG,
} from './asn1.js';
import { decodePem, encodePem } from './pem.js';
import { type ImportAlgorithm, type ParsedPrivateKey, privateKeyFromPkcs8 } from './private-key.js';

const OID = Object.freeze({
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  scrypt: '1.3.6.1.4.1.11591.4.11',
});

const PRF_OIDS: Readonly<Record<string, Pbkdf2Prf>> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};

const CIPHER_OIDS: Readonly<Record<string, { keyLength: number; mode: AesMode }>> = {
  '2.16.840.1.101.3.4.1.2': { keyLength: 16, mode: 'cbc' },
  '2.16.840.1.101.3.4.1.22': { keyLength: 24, mode: 'cbc' },
  '2.16.840.1.101.3.4.1.42': { keyLength: 32, mode: 'cbc' },
};

const REFUSED: Readonly<Record<string, string>> = {
  '1.2.840.113549.3.7': 'des-ede3-cbc (3DES)',
  '1.3.14.3.2.7': 'des-cbc',
  '1.2.840.113549.3.2': 'rc2-cbc',
  '2.16.840.1.101.3.4.1.6': 'aes-128-gcm (OpenSSL does not write AEAD PBES2)',
  '2.16.840.1.101.3.4.1.46': 'aes-256-gcm (OpenSSL does not write AEAD PBES2)',
};

/** Largest salt accepted (OpenSSL writes 8 or 16 bytes). */
const MAX_SALT = 64;

export type Pbes2Kdf =
  | { type: 'pbkdf2'; prf: Pbkdf2Prf; iterations: number }
  | { type: 'scrypt'; N: number; r: number; p: number };

export interface Pbes2Params {
  kdf: Pbes2Kdf;
  salt: Uint8Array;
  cipher: { keyLength: number; mode: AesMode; iv: Uint8Array };
}

const invalid = (what: string): CofferError => new CofferError('EINVAL', `encrypted PKCS#8: ${what}`);

function smallInteger(reader: DerReader, what: string, max: number): number {
  const bytes = reader.unsignedInteger();
  if (bytes.length > 6) throw invalid(`${what} out of range`);
  let value = 0;
  for (const b of bytes) value = value * 256 + b;
  if (value < 1 || value > max) throw invalid(`${what} must be from 1 to ${max}`);
  return value;
}

function readKdf(algId: DerReader, keyLength: number): { kdf: Pbes2Kdf; salt: Uint8Array } {
  const oid = algId.oid();
  const params = algId.sequence();
  algId.end();
  if (params.peekTag() !== TAG.OCTET_STRING)
    throw invalid('only an explicit salt is supported (RFC 8018 A.2)');
  const salt = params.octetString();
  if (salt.length === 0 || salt.length > MAX_SALT) throw invalid(`salt must be 1 to ${MAX_SALT} bytes`);
  let kdf: Pbes2Kdf;
  if (oid === OID.pbkdf2) {
    const iterations = smallInteger(params, 'PBKDF2 iteration count', 10_000_000);
    if (params.peekTag() === TAG.INTEGER && smallInteger(params, 'keyLength', 64) !== keyLength) {
      throw invalid('PBKDF2 keyLength does not match the cipher');
    }
    let prf: Pbkdf2Prf = 'sha1'; // RFC 8018 A.2: DEFAULT algid-hmacWithSHA1
    if (!params.done) {
      const prfId = params.sequence();
      const prfOid = prfId.oid();
      if (!prfId.done) prfId.null();
      prfId.end();
      const known = PRF_OIDS[prfOid];
      if (known === undefined) throw invalid(`unsupported PBKDF2 PRF ${prfOid}`);
      prf = known;
    }
    params.end();
    kdf = { type: 'pbkdf2', prf, iterations };
  } else if (oid === OID.scrypt) {
    const N = smallInteger(params, 'scrypt N', 1 << 21);
    const r = smallInteger(params, 'scrypt r', 128);
    const p = smallInteger(params, 'scrypt p', 16);
    if (!params.done && smallInteger(params, 'keyLength', 64) !== keyLength) {
      throw invalid('scrypt keyLength does not match the cipher');
    }
    params.end();
    kdf = { type: 'scrypt', N, r, p };
  } else {
    throw invalid(`unsupported key derivation function ${oid}`);
  }
  return { kdf, salt };
}

/** Parses EncryptedPrivateKeyInfo DER into its PBES2 parameters and the encrypted bytes. */
export function parseEncryptedPkcs8(der: Uint8Array): { params: Pbes2Params; encrypted: Uint8Array } {
  assertBytes('encrypted PKCS#8 DER', der);
  const outer = new DerReader(der);
  const info = outer.sequence();
  outer.end();
  const algId = info.sequence();
  const scheme = algId.oid();
  if (scheme !== OID.pbes2) throw invalid(`only PBES2 is supported, not ${scheme} (PBES1 uses DES/RC2/MD5)`);
  const pbes2 = algId.sequence();
  algId.end();
  const kdfId = pbes2.sequence();
  const encId = pbes2.sequence();
  pbes2.end();
  const cipherOid = encId.oid();
  const cipher = CIPHER_OIDS[cipherOid];
  if (cipher === undefined) {
    throw invalid(
      `unsupported cipher ${REFUSED[cipherOid] ?? cipherOid}; use aes-256-cbc (\`openssl pkcs8 -topk8 -v2 aes-256-cbc\`)`,
    );
  }
  const iv = encId.octetString();
  encId.end();
  if (iv.length !== 16) throw invalid('AES-CBC IV must be 16 bytes');
  const { kdf, salt } = readKdf(kdfId, cipher.keyLength);
  const encrypted = info.octetString();
  info.end();
  return { params: { kdf, salt, cipher: { ...cipher, iv } }, encrypted };
}

function passphraseBytes(passphrase: unknown): Uint8Array {
  // RFC 8018 §3: a password is an octet string; text is taken as UTF-8, exactly as OpenSSL takes
  // it from a terminal (no Unicode normalisation — the bytes that encrypted the file must match).
  if (typeof passphrase === 'string') return new TextEncoder().encode(passphrase);
  assertBytes('passphrase', passphrase);
  return passphrase;
}

function deriveKey(params: Pbes2Params, passphrase: Uint8Array): Uint8Array {
  const { kdf, salt, cipher } = params;
  return kdf.type === 'pbkdf2'
    ? pbkdf2(kdf.prf, passphrase, salt, kdf.iterations, cipher.keyLength)
    : scrypt(passphrase, salt, kdf.N, kdf.r, kdf.p, cipher.keyLength);
}

/** EncryptedPrivateKeyInfo DER + passphrase → the key. A wrong passphrase is EBADMSG. */
export function privateKeyFromEncryptedPkcs8(
  der: Uint8Array,
  passphrase: string | Uint8Array,
  expected?: ImportAlgorithm,
): ParsedPrivateKey {
  const { params, encrypted } = parseEncryptedPkcs8(der);
  const pass = passphraseBytes(passphrase);
  const key = deriveKey(params, pass);
  let plain: Uint8Array | undefined;
  try {
    plain = aesDecrypt(params.cipher.mode, key, params.cipher.iv, encrypted);
    try {
      new DerReader(plain).sequence();
    } catch {
      // Right padding by chance (1 in 256) under a wrong key: still a wrong passphrase, not bad input.
      throw new CofferError('EBADMSG', 'decryption failed: wrong passphrase or damaged key file');
    }
    return privateKeyFromPkcs8(plain, expected);
  } finally {
    wipe(key, plain);
    if (pass !== passphrase) wipe(pass);
  }
}

/** "ENCRYPTED PRIVATE KEY" PEM + passphrase → the key. */
export function privateKeyFromEncryptedPem(
  pem: string,
  passphrase: string | Uint8Array,
  expected?: ImportAlgorithm,
): ParsedPrivateKey {
  const { bytes } = decodePem(pem, ['ENCRYPTED PRIVATE KEY']);
  return privateKeyFromEncryptedPkcs8(bytes, passphrase, expected);
}

export interface EncryptPkcs8Options {
  /**
   * Default PBKDF2-HMAC-SHA256 with 600 000 iterations (the OWASP floor of kdf.ts). scrypt at
   * kdf.ts's floor (N = 2^17, r = 8) needs 128 MiB, over OpenSSL's default 32 MiB scrypt cap, so
   * OpenSSL could not read it; N = 2^14 (what `openssl pkcs8 -scrypt` writes) can be asked for.
   */
  kdf?: Pbes2Kdf;
  rng?: Rng;
}

/**
 * Wraps PKCS#8 DER as PBES2 EncryptedPrivateKeyInfo with AES-256-CBC, a 16-byte salt and IV from
 * the RNG. What OpenSSL and Node read with `-passin` / `createPrivateKey({ passphrase })`.
 */
export function encryptPkcs8(
  pkcs8: Uint8Array,
  passphrase: string | Uint8Array,
  options: EncryptPkcs8Options = {},
): Uint8Array {
  assertBytes('PKCS#8 DER', pkcs8);
  const rng = options.rng ?? systemRng;
  const kdf: Pbes2Kdf = options.kdf ?? { type: 'pbkdf2', prf: 'sha256', iterations: 600_000 };
  const salt = rng.randomBytes(16);
  const iv = rng.randomBytes(16);
  const params: Pbes2Params = { kdf, salt, cipher: { keyLength: 32, mode: 'cbc', iv } };
  const pass = passphraseBytes(passphrase);
  const key = deriveKey(params, pass);
  try {
    const { ciphertext } = aesEncrypt('cbc', key, iv, pkcs8);
    const int = (n: number): Uint8Array =>
      encodeUnsignedInteger(Uint8Array.from(Buffer.from(n.toString(16).padStart(8, '0'), 'hex')));
    const kdfId =
      kdf.type === 'pbkdf2'
        ? encodeSequence(
            encodeOid(OID.pbkdf2),
            encodeSequence(
              encodeOctetString(salt),
              int(kdf.iterations),
              encodeSequence(
                encodeOid(Object.keys(PRF_OIDS).find((o) => PRF_OIDS[o] === kdf.prf)!),
                encodeTlv(TAG.NULL),
              ),
            ),
          )
        : encodeSequence(
            encodeOid(OID.scrypt),
            encodeSequence(encodeOctetString(salt), int(kdf.N), int(kdf.r), int(kdf.p)),
          );
    const encId = encodeSequence(encodeOid('2.16.840.1.101.3.4.1.42'), encodeOctetString(iv));
    return encodeSequence(
      encodeSequence(encodeOid(OID.pbes2), encodeSequence(kdfId, encId)),
      encodeOctetString(ciphertext),
    );
  } finally {
    wipe(key);
    if (pass !== passphrase) wipe(pass);
  }
}

/** encryptPkcs8 as "ENCRYPTED PRIVATE KEY" PEM. */
export function encryptPkcs8Pem(
  pkcs8: Uint8Array,
  passphrase: string | Uint8Array,
  options?: EncryptPkcs8Options,
): string {
  return encodePem('ENCRYPTED PRIVATE KEY', encryptPkcs8(pkcs8, passphrase, options));
}
