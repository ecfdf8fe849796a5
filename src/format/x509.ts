// X.509 certificate signing requests (PKCS#10, RFC 2986) and self-signed v3 certificates
// (RFC 5280) for Ed25519 (RFC 8410), ECDSA P-256 and secp256k1 with SHA-256 (RFC 5758 §3.2) and
// ML-DSA-65 (RFC 9881); SPEC §14.8. Written over asn1.ts rather than a library: @peculiar/x509 and
// pkijs sign through WebCrypto CryptoKeys (no secp256k1, no signer callback, no HSM-held key), and
// the whole job is a few DER structures. The signer callback signs the TBS bytes with the key
// wherever it lives and returns Coffer's raw signature; ECDSA's r ‖ s becomes DER here.
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { assertBytes, assertInteger, assertOneOf } from '../crypto/bytes.js';
import { type Rng, systemRng } from '../crypto/rng.js';
import { SIG_ALGORITHMS, SIG_LENGTHS, type SigAlgorithm, verify as sigVerify } from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import {
  encodeBitString,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  TAG,
} from './asn1.js';
import { ecdsaSignatureToDer } from './ecdsa-der.js';
import { encodePem } from './pem.js';
import { publicKeyToSpki } from './public-key.js';
import { encodeName, parseName } from './x509-name.js';

export type Signer = (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;

const SIGNATURE_OID: Readonly<Record<SigAlgorithm, string>> = {
  ed25519: '1.3.101.112',
  'ecdsa-p256': '1.2.840.10045.4.3.2', // ecdsa-with-SHA256
  secp256k1: '1.2.840.10045.4.3.2',
  'ml-dsa-65': '2.16.840.1.101.3.4.3.18',
};

const EXT = Object.freeze({
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  extensionRequest: '1.2.840.113549.1.9.14',
});

/** RFC 5280 §4.2.1.3 bit numbers. */
export const KEY_USAGES = Object.freeze({
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
});
export type KeyUsage = keyof typeof KEY_USAGES;

/** RFC 5280 §4.2.1.12 purposes. */
export const EXTENDED_KEY_USAGES = Object.freeze({
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
});
export type ExtendedKeyUsage = keyof typeof EXTENDED_KEY_USAGES;

export type SubjectAltName = { dns: string } | { email: string } | { ip: string } | { uri: string };

export interface CertificateFields {
  /** RFC 4514 subset (x509-name.ts), e.g. "CN=build signer,O=Example,C=DE". */
  subject: string;
  alg: SigAlgorithm;
  publicKey: Uint8Array;
  keyUsage?: KeyUsage[];
  extendedKeyUsage?: ExtendedKeyUsage[];
  subjectAltNames?: SubjectAltName[];
  /** basicConstraints cA; pathLength only with ca. */
  ca?: boolean;
  pathLength?: number;
}

const TAG_BOOLEAN = 0x01;
/** DER BOOLEAN TRUE is 0xff (X.690 §11.1); FALSE is never written (DEFAULT FALSE is omitted). */
const bool = (value: boolean): Uint8Array => Uint8Array.of(TAG_BOOLEAN, 1, value ? 0xff : 0x00);

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? encodeSequence(encodeOid(oid), bool(true), encodeOctetString(value))
    : encodeSequence(encodeOid(oid), encodeOctetString(value));
}

/** keyUsage as a DER named-bit BIT STRING: trailing zero bits dropped (X.690 §11.2.2). */
function keyUsageBits(usages: KeyUsage[]): Uint8Array {
  let mask = 0;
  for (const usage of usages) {
    assertOneOf('keyUsage', usage, Object.keys(KEY_USAGES) as KeyUsage[]);
    mask |= 1 << KEY_USAGES[usage];
  }
  if (mask === 0) throw new CofferError('EINVAL', 'keyUsage must name at least one usage');
  const highest = 31 - Math.clz32(mask);
  const length = highest < 8 ? 1 : 2;
  const bytes = new Uint8Array(length);
  for (let bit = 0; bit <= highest; bit++) if (mask & (1 << bit)) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  const unused = length * 8 - 1 - highest;
  return encodeTlv(TAG.BIT_STRING, Uint8Array.of(unused), bytes);
}

function ipBytes(ip: string): Uint8Array {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p, i) => p > 255 || (v4[i + 1]!.length > 1 && v4[i + 1]!.startsWith('0')))) {
      throw new CofferError('EINVAL', `malformed IPv4 address '${ip}'`);
    }
    return Uint8Array.from(parts);
  }
  if (!isIPv6(ip)) throw new CofferError('EINVAL', `malformed IP address '${ip}'`);
  const [head = '', tail = ''] = ip.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = ip.includes('::') ? groups(tail) : [];
  const all = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  if (all.length !== 8 || all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) {
    throw new CofferError('EINVAL', `IPv6 address '${ip}' must be plain hex groups (no embedded IPv4)`);
  }
  return Uint8Array.from(all.flatMap((g) => [Number.parseInt(g, 16) >> 8, Number.parseInt(g, 16) & 0xff]));
}

const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** GeneralNames (RFC 5280 §4.2.1.6): dNSName [2], rfc822Name [1], iPAddress [7], URI [6]. */
function generalNames(names: SubjectAltName[]): Uint8Array {
  if (!Array.isArray(names) || names.length === 0)
    throw new CofferError('EINVAL', 'subjectAltNames must be a non-empty array');
  const enc = new TextEncoder();
  return encodeSequence(
    ...names.map((name) => {
      if ('dns' in name) {
        if (typeof name.dns !== 'string' || name.dns.length > 253 || !DNS_NAME.test(name.dns)) {
          throw new CofferError(
            'EINVAL',
            `malformed DNS name '${String(name.dns)}' (A-labels only: punycode IDNs first)`,
          );
        }
        return encodeTlv(0x82, enc.encode(name.dns));
      }
      if ('email' in name) {
        if (typeof name.email !== 'string' || !/^[\x21-\x7e]+@[\x21-\x7e]+$/.test(name.email)) {
          throw new CofferError('EINVAL', `malformed e-mail address '${String(name.email)}'`);
        }
        return encodeTlv(0x81, enc.encode(name.email));
      }
      if ('ip' in name) return encodeTlv(0x87, ipBytes(String(name.ip)));
      if ('uri' in name) {
        let ok = false;
        try {
          ok =
            typeof name.uri === 'string' &&
            /^[\x21-\x7e]+$/.test(name.uri) &&
            new URL(name.uri).protocol.length > 1;
        } catch {
          ok = false;
        }
        if (!ok) throw new CofferError('EINVAL', `malformed URI '${String((name as { uri: unknown }).uri)}'`);
        return encodeTlv(0x86, enc.encode(name.uri));
      }
      throw new CofferError('EINVAL', 'a subjectAltName is { dns } | { email } | { ip } | { uri }');
    }),
  );
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's value (as OpenSSL does). */
export function subjectKeyIdentifier(alg: SigAlgorithm, publicKey: Uint8Array): Uint8Array {
  const spki = publicKeyToSpki(alg, publicKey);
  // The BIT STRING's value is the encoded key: the raw bytes after the unused-bits octet.
  const keyBytes = spki.subarray(spki.length - encodedKeyLength(alg));
  return new Uint8Array(createHash('sha1').update(keyBytes).digest());
}

function encodedKeyLength(alg: SigAlgorithm): number {
  return alg === 'ed25519' ? 32 : alg === 'ml-dsa-65' ? 1952 : 65;
}

function extensions(fields: CertificateFields, selfSigned: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  const ca = fields.ca ?? false;
  if (fields.pathLength !== undefined) {
    if (!ca) throw new CofferError('EINVAL', 'pathLength needs ca: true');
    assertInteger('pathLength', fields.pathLength, 0, 255);
  }
  // RFC 5280 §4.2.1.9: critical in CA certificates; written for end entities too (cA FALSE).
  const bc = ca
    ? encodeSequence(
        bool(true),
        ...(fields.pathLength === undefined ? [] : [encodeUnsignedInteger(Uint8Array.of(fields.pathLength))]),
      )
    : encodeSequence();
  out.push(extension(EXT.basicConstraints, true, bc));
  const usages =
    fields.keyUsage ?? (ca ? ['digitalSignature', 'keyCertSign', 'cRLSign'] : ['digitalSignature']);
  if (!ca && usages.includes('keyCertSign'))
    throw new CofferError('EINVAL', 'keyCertSign needs ca: true (RFC 5280 §4.2.1.3)');
  out.push(extension(EXT.keyUsage, true, keyUsageBits(usages)));
  if (fields.extendedKeyUsage !== undefined) {
    const ekus = fields.extendedKeyUsage.map((u) => {
      assertOneOf('extendedKeyUsage', u, Object.keys(EXTENDED_KEY_USAGES) as ExtendedKeyUsage[]);
      return encodeOid(EXTENDED_KEY_USAGES[u]);
    });
    if (ekus.length === 0) throw new CofferError('EINVAL', 'extendedKeyUsage must not be empty');
    out.push(extension(EXT.extKeyUsage, false, encodeSequence(...ekus)));
  }
  if (fields.subjectAltNames !== undefined)
    out.push(extension(EXT.subjectAltName, false, generalNames(fields.subjectAltNames)));
  const ski = subjectKeyIdentifier(fields.alg, fields.publicKey);
  out.push(extension(EXT.subjectKeyIdentifier, false, encodeOctetString(ski)));
  if (selfSigned)
    out.push(extension(EXT.authorityKeyIdentifier, false, encodeSequence(encodeTlv(0x80, ski))));
  return out;
}

function signatureAlgorithm(alg: SigAlgorithm): Uint8Array {
  return encodeSequence(encodeOid(SIGNATURE_OID[alg]));
}

/** Signs `tbs` and returns the BIT STRING value (DER ECDSA-Sig-Value for ECDSA). */
async function signTbs(fields: CertificateFields, tbs: Uint8Array, signer: Signer): Promise<Uint8Array> {
  const raw = await signer(tbs);
  assertBytes('signature', raw, SIG_LENGTHS[fields.alg].signature);
  if (!sigVerify(fields.alg, fields.publicKey, tbs, raw)) {
    throw new CofferError('EINVAL', 'the signer did not sign with the given public key');
  }
  return fields.alg === 'ecdsa-p256' || fields.alg === 'secp256k1' ? ecdsaSignatureToDer(raw) : raw;
}

function validate(fields: CertificateFields): void {
  assertOneOf('alg', fields.alg, SIG_ALGORITHMS);
  assertBytes('publicKey', fields.publicKey);
}

/** A PKCS#10 CSR (DER) with the extensions requested through extensionRequest (RFC 2985 §5.4.2). */
export async function createCsr(fields: CertificateFields, signer: Signer): Promise<Uint8Array> {
  validate(fields);
  const name = encodeName(parseName(fields.subject));
  const requested = encodeSequence(...extensions(fields, false));
  const attributes = encodeTlv(
    0xa0,
    encodeSequence(encodeOid(EXT.extensionRequest), encodeTlv(0x31, requested)),
  );
  const info = encodeSequence(
    Uint8Array.of(TAG.INTEGER, 1, 0),
    name,
    publicKeyToSpki(fields.alg, fields.publicKey),
    attributes,
  );
  const signature = await signTbs(fields, info, signer);
  return encodeSequence(info, signatureAlgorithm(fields.alg), encodeBitString(signature));
}

export interface SelfSignedOptions {
  /** Validity in days from notBefore (1 to 36 500). */
  days: number;
  /** Default now (ms since the epoch); seconds are kept, milliseconds dropped. */
  notBefore?: number;
  /** Positive serial, 1–20 bytes; default 16 random bytes (RFC 5280 §4.1.2.2). */
  serial?: Uint8Array;
  rng?: Rng;
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), always Z and seconds. */
export function encodeTime(ms: number): Uint8Array {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const year = d.getUTCFullYear();
  if (year < 1950 || year > 9999)
    throw new CofferError('EINVAL', 'certificate time must be between 1950 and 9999');
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  const enc = new TextEncoder();
  return year < 2050
    ? encodeTlv(0x17, enc.encode(`${pad(year % 100)}${rest}`))
    : encodeTlv(0x18, enc.encode(`${year}${rest}`));
}

function serialNumber(options: SelfSignedOptions): Uint8Array {
  if (options.serial !== undefined) {
    assertBytes('serial', options.serial);
    if (options.serial.length === 0 || options.serial.length > 20 || options.serial.every((b) => b === 0)) {
      throw new CofferError('EINVAL', 'serial must be 1 to 20 bytes and not zero (RFC 5280 §4.1.2.2)');
    }
    // A set top bit would need a 21st (sign) byte: refuse instead of silently growing.
    if (options.serial.length === 20 && options.serial[0]! & 0x80)
      throw new CofferError('EINVAL', 'a 20-byte serial must have its top bit clear');
    return encodeUnsignedInteger(options.serial);
  }
  const random = (options.rng ?? systemRng).randomBytes(16);
  random[0] = (random[0]! & 0x7f) | 0x40; // positive and exactly 16 bytes
  return encodeUnsignedInteger(random);
}

/** A self-signed v3 certificate (DER): issuer = subject, with the extensions of `fields`. */
export async function createSelfSignedCertificate(
  fields: CertificateFields,
  options: SelfSignedOptions,
  signer: Signer,
): Promise<Uint8Array> {
  validate(fields);
  assertInteger('days', options.days, 1, 36_500);
  const notBefore = options.notBefore ?? Date.now();
  if (!Number.isSafeInteger(notBefore))
    throw new CofferError('EINVAL', 'notBefore must be milliseconds since the epoch');
  const name = encodeName(parseName(fields.subject));
  const tbs = encodeSequence(
    encodeTlv(0xa0, Uint8Array.of(TAG.INTEGER, 1, 2)), // v3
    serialNumber(options),
    signatureAlgorithm(fields.alg),
    name,
    encodeSequence(encodeTime(notBefore), encodeTime(notBefore + options.days * 86_400_000)),
    name,
    publicKeyToSpki(fields.alg, fields.publicKey),
    encodeTlv(0xa3, encodeSequence(...extensions(fields, true))),
  );
  const signature = await signTbs(fields, tbs, signer);
  return encodeSequence(tbs, signatureAlgorithm(fields.alg), encodeBitString(signature));
}

export const csrToPem = (der: Uint8Array): string => encodePem('CERTIFICATE REQUEST', der);
export const certificateToPem = (der: Uint8Array): string => encodePem('CERTIFICATE', der);
