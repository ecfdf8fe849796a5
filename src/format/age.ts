// age v1 (C2SP age, age-encryption.org/v1; SPEC §14.12) with its post-quantum hybrid recipient
// type "mlkem768x25519": X-Wing public keys as `age1pq1…` recipients, X-Wing seeds as
// `AGE-SECRET-KEY-PQ-1…` identities, the file key wrapped with HPKE base mode (crypto/hpke.ts,
// info "age-encryption.org/mlkem768x25519"), the header MACed with HMAC-SHA-256, the payload in
// 64 KiB ChaCha20-Poly1305 STREAM chunks, and the optional "AGE ENCRYPTED FILE" armour.
//
// Following age's design, recipients wrap and identities unwrap through two small interfaces; the
// X-Wing identity's only secret operation is a decapsulation callback, so a keystore key decrypts
// age files without its seed leaving the keystore. Only the hybrid type is written (age says a
// file for a post-quantum recipient SHOULD NOT also go to classical ones); stanzas of other types
// are ignored when reading, as the spec requires.
import { createHmac } from 'node:crypto';
import * as aead from '../crypto/aead.js';
import { assertBytes, concatBytes, equalBytes, wipe } from '../crypto/bytes.js';
import { HPKE_XWING_ENC_LENGTH, openBase, sealBase, type XWingDecapsulate } from '../crypto/hpke.js';
import * as kdf from '../crypto/kdf.js';
import * as kem from '../crypto/kem.js';
import { type Rng, systemRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { decodePem, encodePem } from './pem.js';
import { bech32Decode, bech32Encode, decodeBase64, encodeBase64 } from './text-encodings.js';

const VERSION_LINE = 'age-encryption.org/v1';
const STANZA_TYPE = 'mlkem768x25519';
const HPKE_INFO = new TextEncoder().encode('age-encryption.org/mlkem768x25519');
const RECIPIENT_HRP = 'age1pq';
const IDENTITY_HRP = 'AGE-SECRET-KEY-PQ-';
const FILE_KEY = 16;
const CHUNK = 64 * 1024;
const TAG = 16;
const ARMOR_LABEL = 'AGE ENCRYPTED FILE';
/** Header bounds: age files carry a handful of stanzas; these stop a hostile header early. */
const MAX_STANZAS = 64;
const MAX_HEADER = 1 << 20;
/** Armoured input is decoded in memory: bound it (binary files have no bound here but memory). */
export const MAX_ARMORED_LENGTH = 256 * 1024 * 1024;

export interface Stanza {
  args: string[];
  body: Uint8Array;
}

export interface AgeRecipient {
  wrapFileKey(fileKey: Uint8Array): Stanza[] | Promise<Stanza[]>;
}

export interface AgeIdentity {
  /** The file key if a stanza is for this identity, else undefined; throws only for a malformed stanza of its type. */
  unwrapFileKey(stanzas: Stanza[]): Uint8Array | undefined | Promise<Uint8Array | undefined>;
}

// ---- recipient and identity strings ----

export function encodeAgeRecipient(publicKey: Uint8Array): string {
  assertBytes('X-Wing public key', publicKey, kem.KEM_SIZES['x-wing'].publicKey);
  return bech32Encode(RECIPIENT_HRP, publicKey, { limit: false });
}

export function parseAgeRecipient(text: string): Uint8Array {
  const key = bech32Decode(text, RECIPIENT_HRP, { limit: false });
  if (key.length !== kem.KEM_SIZES['x-wing'].publicKey)
    throw new CofferError('EINVAL', 'an age1pq recipient holds a 1216-byte X-Wing key');
  return key;
}

/** The identity string of an X-Wing seed (upper case, as age writes it). It is the secret key. */
export function encodeAgeIdentity(seed: Uint8Array): string {
  assertBytes('X-Wing seed', seed, 32);
  return bech32Encode(IDENTITY_HRP, seed, { limit: false, upperCase: true });
}

export function parseAgeIdentity(text: string): Uint8Array {
  const seed = bech32Decode(text.trim(), IDENTITY_HRP, { limit: false });
  if (seed.length !== 32)
    throw new CofferError('EINVAL', 'an AGE-SECRET-KEY-PQ identity holds a 32-byte seed');
  return seed;
}

// ---- the mlkem768x25519 recipient and identity ----

/** A recipient for an X-Wing public key (raw 1216 bytes or an age1pq1… string). */
export function xwingRecipient(recipient: Uint8Array | string): AgeRecipient {
  const publicKey = typeof recipient === 'string' ? parseAgeRecipient(recipient) : recipient;
  assertBytes('X-Wing public key', publicKey, kem.KEM_SIZES['x-wing'].publicKey);
  return {
    wrapFileKey(fileKey) {
      const { enc, ciphertext } = sealBase(publicKey, HPKE_INFO, new Uint8Array(0), fileKey);
      return [{ args: [STANZA_TYPE, encodeBase64(enc, 'base64-nopad')], body: ciphertext }];
    },
  };
}

/**
 * An identity whose decapsulation is a callback (the keystore's `decapsulate` on an x-wing key).
 * Stanzas of other types are skipped; a malformed mlkem768x25519 stanza is EINVAL (C2SP age).
 */
export function xwingIdentity(decapsulate: XWingDecapsulate): AgeIdentity {
  return {
    async unwrapFileKey(stanzas) {
      for (const stanza of stanzas) {
        if (stanza.args[0] !== STANZA_TYPE) continue;
        if (stanza.args.length !== 2)
          throw new CofferError('EINVAL', 'mlkem768x25519 stanza must have two arguments');
        const enc = decodeBase64(stanza.args[1], 'base64-nopad', 'mlkem768x25519 encapsulated key');
        if (enc.length !== HPKE_XWING_ENC_LENGTH)
          throw new CofferError('EINVAL', 'mlkem768x25519 encapsulated key must be 1120 bytes');
        // The body length is checked before any decryption (partitioning oracles, C2SP age).
        if (stanza.body.length !== FILE_KEY + TAG)
          throw new CofferError('EINVAL', 'mlkem768x25519 stanza body must be 32 bytes');
        try {
          return await openBase(decapsulate, enc, HPKE_INFO, new Uint8Array(0), stanza.body);
        } catch (error) {
          if (error instanceof CofferError && error.code === 'EBADMSG') continue; // for another key
          throw error;
        }
      }
      return undefined;
    },
  };
}

/** An identity from a seed or an AGE-SECRET-KEY-PQ-1… string (software keys, tests). */
export function xwingIdentityFromSeed(identity: Uint8Array | string): AgeIdentity {
  const seed = typeof identity === 'string' ? parseAgeIdentity(identity) : Uint8Array.from(identity);
  assertBytes('X-Wing seed', seed, 32);
  return xwingIdentity((enc) => kem.decapsulate('x-wing', seed, enc));
}

// ---- header ----

function encodeStanza(stanza: Stanza): string {
  for (const arg of stanza.args) {
    if (!/^[\x21-\x7e]+$/.test(arg))
      throw new CofferError('EINVAL', 'stanza arguments are visible ASCII without spaces');
  }
  const body = encodeBase64(stanza.body, 'base64-nopad');
  const lines: string[] = [...(body.match(/.{1,64}/g) ?? [])];
  // The body ends with a line shorter than 64 columns, empty if need be.
  if (body.length % 64 === 0) lines.push('');
  return `-> ${stanza.args.join(' ')}\n${lines.join('\n')}\n`;
}

function headerKey(fileKey: Uint8Array, info: string): Uint8Array {
  return kdf.hkdf('sha256', fileKey, new Uint8Array(0), new TextEncoder().encode(info), 32);
}

function headerMac(fileKey: Uint8Array, headerUpToMac: string): Uint8Array {
  const key = headerKey(fileKey, 'header');
  try {
    return new Uint8Array(createHmac('sha256', key).update(headerUpToMac, 'latin1').digest());
  } finally {
    wipe(key);
  }
}

interface ParsedHeader {
  stanzas: Stanza[];
  /** Everything up to and including "---" (the MAC input). */
  macInput: string;
  mac: Uint8Array;
  payloadOffset: number;
}

function parseHeader(file: Uint8Array): ParsedHeader {
  const fail = (why: string): never => {
    throw new CofferError('EINVAL', `malformed age header: ${why}`);
  };
  let offset = 0;
  const line = (): string => {
    const end = file.indexOf(0x0a, offset);
    if (end < 0 || end - offset > MAX_HEADER) fail('unterminated line');
    const text = Buffer.from(file.subarray(offset, end)).toString('latin1');
    if (!/^[\x20-\x7e]*$/.test(text)) fail('non-ASCII header line');
    offset = end + 1;
    return text;
  };
  if (line() !== VERSION_LINE) fail(`not "${VERSION_LINE}"`);
  const stanzas: Stanza[] = [];
  for (;;) {
    if (offset > MAX_HEADER) fail('header too long');
    const start = offset;
    const first = line();
    if (first.startsWith('--- ')) {
      const mac = decodeBase64(first.slice(4), 'base64-nopad', 'header MAC');
      if (mac.length !== 32) fail('MAC must be 32 bytes');
      if (stanzas.length === 0) fail('no recipient stanza');
      return {
        stanzas,
        macInput: Buffer.from(file.subarray(0, start + 3)).toString('latin1'),
        mac,
        payloadOffset: offset,
      };
    }
    if (!first.startsWith('-> ')) fail('expected a stanza or the MAC line');
    const args = first.slice(3).split(' ');
    if (args.some((a) => !/^[\x21-\x7e]+$/.test(a))) fail('empty or invalid stanza argument');
    let body = '';
    for (;;) {
      const chunk = line();
      if (chunk.length > 64) fail('stanza body line longer than 64 columns');
      body += chunk;
      if (chunk.length < 64) break;
    }
    stanzas.push({ args, body: decodeBase64(body, 'base64-nopad', 'stanza body') });
    if (stanzas.length > MAX_STANZAS) fail(`more than ${MAX_STANZAS} stanzas`);
  }
}

// ---- payload (STREAM) ----

function chunkNonce(counter: number, last: boolean): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setUint32(7, counter, false); // 11-byte big-endian counter; 2^32 chunks is 256 TiB
  nonce[11] = last ? 1 : 0;
  return nonce;
}

function encryptPayload(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  const count = Math.max(1, Math.ceil(plaintext.length / CHUNK));
  for (let i = 0; i < count; i++) {
    const part = plaintext.subarray(i * CHUNK, (i + 1) * CHUNK);
    chunks.push(aead.encrypt('chacha20-poly1305', key, chunkNonce(i, i === count - 1), part));
  }
  return concatBytes(...chunks);
}

function decryptPayload(key: Uint8Array, payload: Uint8Array): Uint8Array {
  const out: Uint8Array[] = [];
  const full = CHUNK + TAG;
  if (payload.length < TAG) throw new CofferError('EBADMSG', 'age payload is truncated');
  const count = Math.max(1, Math.ceil(payload.length / full));
  for (let i = 0; i < count; i++) {
    const last = i === count - 1;
    const part = payload.subarray(i * full, (i + 1) * full);
    if (last && part.length === TAG && count > 1)
      throw new CofferError('EBADMSG', 'age payload ends with an empty chunk');
    // A full-size last chunk that was not sealed as final means data was cut off after it.
    out.push(aead.decrypt('chacha20-poly1305', key, chunkNonce(i, last), part));
  }
  return concatBytes(...out);
}

// ---- encrypt / decrypt ----

export interface AgeEncryptOptions {
  armor?: boolean;
  rng?: Rng;
}

/** Encrypts to the recipients; binary age file, or the armoured text with `armor: true`. */
export async function ageEncrypt(
  plaintext: Uint8Array,
  recipients: AgeRecipient[],
  options?: { armor?: false; rng?: Rng },
): Promise<Uint8Array>;
export async function ageEncrypt(
  plaintext: Uint8Array,
  recipients: AgeRecipient[],
  options: { armor: true; rng?: Rng },
): Promise<string>;
export async function ageEncrypt(
  plaintext: Uint8Array,
  recipients: AgeRecipient[],
  options: AgeEncryptOptions = {},
): Promise<Uint8Array | string> {
  assertBytes('plaintext', plaintext);
  if (!Array.isArray(recipients) || recipients.length === 0)
    throw new CofferError('EINVAL', 'at least one recipient is needed');
  const rng = options.rng ?? systemRng;
  const fileKey = rng.randomBytes(FILE_KEY);
  let payloadKey: Uint8Array | undefined;
  try {
    const stanzas = (await Promise.all(recipients.map((r) => r.wrapFileKey(fileKey)))).flat();
    const macInput = `${VERSION_LINE}\n${stanzas.map(encodeStanza).join('')}---`;
    const header = `${macInput} ${encodeBase64(headerMac(fileKey, macInput), 'base64-nopad')}\n`;
    const nonce = rng.randomBytes(16);
    payloadKey = kdf.hkdf('sha256', fileKey, nonce, new TextEncoder().encode('payload'), 32);
    const file = concatBytes(Buffer.from(header, 'latin1'), nonce, encryptPayload(payloadKey, plaintext));
    return options.armor ? encodePem(ARMOR_LABEL, file) : file;
  } finally {
    wipe(fileKey, payloadKey);
  }
}

/**
 * Decrypts a binary or armoured age file with the first identity that unwraps the file key. EINVAL
 * for a malformed file, EBADMSG when no identity matches, the header MAC fails or the payload was
 * altered or truncated.
 */
export async function ageDecrypt(file: Uint8Array | string, identities: AgeIdentity[]): Promise<Uint8Array> {
  if (!Array.isArray(identities) || identities.length === 0)
    throw new CofferError('EINVAL', 'at least one identity is needed');
  let bytes: Uint8Array;
  if (typeof file === 'string') {
    // RFC 7468 strict: 64-column lines (decodePem checks they are equal and the last is shorter).
    const block = decodePem(file, [ARMOR_LABEL], 64, MAX_ARMORED_LENGTH);
    const lines = file.trim().split(/\r?\n/);
    if (lines.length > 3 && lines[1]!.length !== 64)
      throw new CofferError('EINVAL', 'age armour body lines must be 64 columns');
    bytes = block.bytes;
  } else {
    assertBytes('age file', file);
    bytes = file;
  }
  const header = parseHeader(bytes);
  let fileKey: Uint8Array | undefined;
  for (const identity of identities) {
    fileKey = await identity.unwrapFileKey(header.stanzas);
    if (fileKey !== undefined) break;
  }
  if (fileKey === undefined)
    throw new CofferError('EBADMSG', 'no identity matches a recipient of this age file');
  let payloadKey: Uint8Array | undefined;
  try {
    if (fileKey.length !== FILE_KEY)
      throw new CofferError('EBADMSG', 'unwrapped file key has the wrong length');
    if (!equalBytes(headerMac(fileKey, header.macInput), header.mac))
      throw new CofferError('EBADMSG', 'age header MAC does not match');
    const nonce = bytes.subarray(header.payloadOffset, header.payloadOffset + 16);
    if (nonce.length !== 16) throw new CofferError('EBADMSG', 'age payload nonce is truncated');
    payloadKey = kdf.hkdf('sha256', fileKey, nonce, new TextEncoder().encode('payload'), 32);
    return decryptPayload(payloadKey, bytes.subarray(header.payloadOffset + 16));
  } finally {
    wipe(fileKey, payloadKey);
  }
}
