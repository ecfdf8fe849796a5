// Key operations that never reveal key bytes (DESIGN §3): sign/verify, seal/unseal (SPEC §6),
// encapsulate/decapsulate, mac, data keys and rewrap. Each checks bounds, use and state first.
import * as aead from '../crypto/aead.js';
import { assertBytes, concatBytes, equalBytes, wipe } from '../crypto/bytes.js';
import { hkdf } from '../crypto/kdf.js';
import * as kem from '../crypto/kem.js';
import { hmac } from '../crypto/mac.js';
import * as sig from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { ecdsaSignatureFromDer, ecdsaSignatureToDer } from '../format/ecdsa-der.js';
import { encodeSealedHeader, parseSealedHeader, type SealedAlgorithm } from '../format/sealed.js';
import { textEncoder } from './encoding.js';
import { keyIdBytes } from './ids.js';
import { processVersion, protectVersion, versionsToTry } from './lifecycle.js';
import { isSignatureAlgorithm } from './material.js';
import { assertKeyId } from './names.js';
import type { Session } from './session.js';
import { type KeyInfo, LIMITS, type SealAlgorithm } from './types.js';

const MAX_AAD_BYTES = 64 * 1024;
const SEAL_TO_INFO = textEncoder.encode('coffer:seal-to:v1');
const XWING_CIPHERTEXT = 1120;
const NO_AAD = new Uint8Array(0);

/**
 * Key ids and sealed headers are public and fixed per key (version), but decoding base32 and building
 * a header cost about as much as sealing 1 KiB; these small caches keep them off the hot path.
 * Cleared wholesale when full: a miss only costs the recomputation.
 */
const PUBLIC_CACHE_ENTRIES = 4096;
const idBytesCache = new Map<string, Uint8Array>();
const headerCache = new Map<string, Uint8Array>();

function cached(cache: Map<string, Uint8Array>, key: string, make: () => Uint8Array): Uint8Array {
  let value = cache.get(key);
  if (value === undefined) {
    value = make();
    if (cache.size >= PUBLIC_CACHE_ENTRIES) cache.clear();
    cache.set(key, value);
  }
  return value;
}

/** The 16 raw bytes of a key id; shared, so callers must not modify them. */
function idBytes(id: string): Uint8Array {
  return cached(idBytesCache, id, () => keyIdBytes(id));
}

/** Compares public bytes (key ids): nothing secret, so no constant-time native call is needed. */
function samePublicBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export type SignatureEncoding = 'raw' | 'der';

function assertMessage(name: string, data: unknown, max: number): asserts data is Uint8Array {
  assertBytes(name, data);
  if (data.length > max) throw new CofferError('E2BIG', `${name} is larger than ${max} bytes`);
}

function assertAad(aad: unknown): Uint8Array {
  if (aad === undefined) return NO_AAD;
  if (typeof aad === 'string') aad = textEncoder.encode(aad);
  assertBytes('aad', aad);
  if (aad.length > MAX_AAD_BYTES) throw new CofferError('E2BIG', `aad is larger than ${MAX_AAD_BYTES} bytes`);
  return aad;
}

function assertEncoding(info: KeyInfo, encoding: unknown): SignatureEncoding {
  if (encoding === undefined || encoding === 'raw') return 'raw';
  if (encoding !== 'der') throw new CofferError('EINVAL', "signature encoding must be 'raw' or 'der'");
  if (info.algorithm !== 'ecdsa-p256' && info.algorithm !== 'secp256k1') {
    throw new CofferError('EINVAL', `DER encoding exists only for ECDSA keys, not ${info.algorithm}`);
  }
  return 'der';
}

export async function sign(
  s: Session,
  id: string,
  data: unknown,
  options: { encoding?: SignatureEncoding; context?: Uint8Array } = {},
): Promise<{ signature: Uint8Array; version: number }> {
  assertMessage('data', data, LIMITS.signMessageBytes);
  const { info } = await s.loadKey(id);
  const encoding = assertEncoding(info, options.encoding);
  const v = protectVersion(info, 'sign', s.now());
  // SPEC §4.5: a use is counted only while the key's use count is known (one read per key and process).
  const admitted = s.usage.admit(id);
  if (admitted) await admitted;
  if (!isSignatureAlgorithm(info.algorithm)) throw new CofferError('EPERM', `key ${id} is not a signing key`);
  const secret = await s.secret(info, v.version);
  const raw = sig.sign(
    info.algorithm,
    secret,
    data,
    options.context ? { context: options.context } : undefined,
  );
  s.usage.count(id, v.version);
  s.auditOperation('op.sign', id, v.version);
  return { signature: encoding === 'der' ? ecdsaSignatureToDer(raw) : raw, version: v.version };
}

export async function verify(
  s: Session,
  id: string,
  data: unknown,
  signature: unknown,
  options: { version?: number; encoding?: SignatureEncoding; context?: Uint8Array } = {},
): Promise<boolean> {
  assertMessage('data', data, LIMITS.signMessageBytes);
  assertBytes('signature', signature);
  const { info } = await s.loadKey(id);
  const encoding = assertEncoding(info, options.encoding);
  if (!isSignatureAlgorithm(info.algorithm)) throw new CofferError('EPERM', `key ${id} is not a signing key`);
  let raw: Uint8Array;
  if (encoding === 'der') {
    try {
      raw = ecdsaSignatureFromDer(signature);
    } catch {
      return false; // a malformed signature is a wrong signature, never an exception
    }
  } else {
    raw = signature;
  }
  const versions = versionsToTry(info, 'verify', options.version, s.now());
  for (const v of versions) {
    const publicKey = await s.publicKey(info, v.version);
    if (
      sig.verify(
        info.algorithm,
        publicKey,
        data,
        raw,
        options.context ? { context: options.context } : undefined,
      )
    )
      return true;
  }
  return false;
}

function sealedAlgorithm(info: KeyInfo): SealedAlgorithm {
  if (
    info.algorithm === 'aes-256-gcm' ||
    info.algorithm === 'xchacha20-poly1305' ||
    info.algorithm === 'x-wing'
  ) {
    return info.algorithm;
  }
  throw new CofferError('EPERM', `key ${info.id} (${info.algorithm}) cannot seal`);
}

/**
 * SPEC §6 kind 0x01: header ‖ nonce ‖ ciphertext ‖ tag, AAD = header ‖ caller's AAD, built in one
 * buffer (aead.encryptInto): prepending the header to aead.encrypt's output would copy the whole
 * payload (up to 16 MiB) a second time.
 */
function sealSymmetric(
  s: Session,
  alg: SealAlgorithm,
  key: Uint8Array,
  header: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const nonceLength = aead.NONCE_LENGTH[alg];
  const nonce = s.rng.randomBytes(nonceLength);
  const bodyAt = header.length + nonceLength;
  const out = new Uint8Array(bodyAt + plaintext.length + aead.TAG_LENGTH);
  out.set(header, 0);
  out.set(nonce, header.length);
  aead.encryptInto(
    alg,
    key,
    nonce,
    plaintext,
    aad.length === 0 ? header : concatBytes(header, aad),
    out,
    bodyAt,
  );
  return out;
}

/** Seals to an X-Wing public key (SPEC §6 kind 0x02): anyone with the public key can do this. */
export function sealToPublicKey(
  target: { keyId: string; version: number; publicKey: Uint8Array },
  plaintext: Uint8Array,
  aad: Uint8Array,
  randomBytes: (n: number) => Uint8Array,
  deterministic = false,
): Uint8Array {
  const header = encodeSealedHeader({
    kind: 'toPublicKey',
    algorithm: 'x-wing',
    keyId: keyIdBytes(target.keyId),
    version: target.version,
  });
  // An explicit eseed forces the (slower) deterministic ML-KEM path: only test mode needs it.
  const { ciphertext, sharedSecret } = kem.encapsulate(
    'x-wing',
    target.publicKey,
    deterministic ? randomBytes(64) : undefined,
  );
  const key = hkdf('sha256', sharedSecret, header, SEAL_TO_INFO, 32);
  const nonce = randomBytes(12);
  try {
    return concatBytes(
      header,
      ciphertext,
      nonce,
      aead.encrypt('aes-256-gcm', key, nonce, plaintext, concatBytes(header, aad)),
    );
  } finally {
    wipe(key, sharedSecret);
  }
}

export async function seal(
  s: Session,
  id: string,
  plaintext: unknown,
  options: { aad?: Uint8Array | string } = {},
): Promise<Uint8Array> {
  assertMessage('plaintext', plaintext, LIMITS.sealPayloadBytes);
  const aad = assertAad(options.aad);
  const { info } = await s.loadKey(id);
  const alg = sealedAlgorithm(info);
  const v = protectVersion(info, 'seal', s.now());
  // SPEC §4.5: a use is counted only while the key's use count is known (one read per key and process).
  const admitted = s.usage.admit(id);
  if (admitted) await admitted;
  let out: Uint8Array;
  if (alg === 'x-wing') {
    const publicKey = await s.publicKey(info, v.version);
    out = sealToPublicKey(
      { keyId: id, version: v.version, publicKey },
      plaintext,
      aad,
      (n) => s.rng.randomBytes(n),
      s.rng.insecure,
    );
  } else {
    const header = cached(headerCache, `${alg}/${id}/${v.version}`, () =>
      encodeSealedHeader({ kind: 'symmetric', algorithm: alg, keyId: idBytes(id), version: v.version }),
    );
    out = sealSymmetric(s, alg, await s.secret(info, v.version), header, plaintext, aad);
  }
  s.usage.count(id, v.version);
  s.auditOperation('op.seal', id, v.version);
  return out;
}

export async function unseal(
  s: Session,
  id: string,
  sealed: unknown,
  options: { aad?: Uint8Array | string } = {},
): Promise<Uint8Array> {
  assertKeyId(id);
  assertBytes('sealed', sealed);
  if (sealed.length > LIMITS.sealPayloadBytes + 4096)
    throw new CofferError('E2BIG', 'sealed data is larger than the bound');
  const aad = assertAad(options.aad);
  const { header, headerBytes, body } = parseSealedHeader(sealed);
  if (!samePublicBytes(header.keyId, idBytes(id)))
    throw new CofferError('EBADMSG', `sealed data was not made with key ${id}`);
  const { info } = await s.loadKey(id);
  if (sealedAlgorithm(info) !== header.algorithm)
    throw new CofferError('EBADMSG', `sealed data names another algorithm than key ${id}`);
  const v = processVersion(info, 'unseal', header.version, s.now());
  const secret = await s.secret(info, v.version);
  s.auditOperation('op.unseal', id, v.version);
  const fullAad = aad.length === 0 ? headerBytes : concatBytes(headerBytes, aad);
  if (header.algorithm === 'x-wing') {
    if (body.length < XWING_CIPHERTEXT + 12 + 16)
      throw new CofferError('EBADMSG', 'sealed data is too short');
    const sharedSecret = kem.decapsulate('x-wing', secret, body.subarray(0, XWING_CIPHERTEXT));
    const key = hkdf('sha256', sharedSecret, headerBytes, SEAL_TO_INFO, 32);
    try {
      const nonce = body.subarray(XWING_CIPHERTEXT, XWING_CIPHERTEXT + 12);
      return aead.decrypt('aes-256-gcm', key, nonce, body.subarray(XWING_CIPHERTEXT + 12), fullAad);
    } finally {
      wipe(key, sharedSecret);
    }
  }
  const nonceLength = aead.NONCE_LENGTH[header.algorithm];
  if (body.length < nonceLength + 16) throw new CofferError('EBADMSG', 'sealed data is too short');
  return aead.decrypt(
    header.algorithm,
    secret,
    body.subarray(0, nonceLength),
    body.subarray(nonceLength),
    fullAad,
  );
}

export async function rewrap(
  s: Session,
  id: string,
  sealed: unknown,
  options: { aad?: Uint8Array | string } = {},
): Promise<Uint8Array> {
  const plaintext = await unseal(s, id, sealed, options);
  try {
    return await seal(s, id, plaintext, options);
  } finally {
    wipe(plaintext);
  }
}

export async function generateDataKey(
  s: Session,
  id: string,
  options: { aad?: Uint8Array | string; includePlaintext?: boolean } = {},
): Promise<{ wrapped: Uint8Array; plaintext?: Uint8Array; version: number }> {
  const { info } = await s.loadKey(id);
  const v = protectVersion(info, 'wrap', s.now());
  const dataKey = s.rng.randomBytes(32);
  const wrapped = await seal(s, id, dataKey, options);
  if (options.includePlaintext) return { wrapped, plaintext: dataKey, version: v.version };
  wipe(dataKey);
  return { wrapped, version: v.version };
}

export async function encapsulate(
  s: Session,
  id: string,
): Promise<{ ciphertext: Uint8Array; sharedSecret: Uint8Array; version: number }> {
  const { info } = await s.loadKey(id);
  if (info.algorithm !== 'x-wing')
    throw new CofferError('EPERM', `key ${id} (${info.algorithm}) is not a KEM key`);
  const v = protectVersion(info, 'encapsulate', s.now());
  // SPEC §4.5: a use is counted only while the key's use count is known (one read per key and process).
  const admitted = s.usage.admit(id);
  if (admitted) await admitted;
  const publicKey = await s.publicKey(info, v.version);
  const result = kem.encapsulate('x-wing', publicKey, s.rng.insecure ? s.rng.randomBytes(64) : undefined);
  s.usage.count(id, v.version);
  s.auditOperation('op.encapsulate', id, v.version);
  return { ...result, version: v.version };
}

export async function decapsulate(
  s: Session,
  id: string,
  ciphertext: unknown,
  options: { version?: number } = {},
): Promise<Uint8Array> {
  assertBytes('ciphertext', ciphertext, XWING_CIPHERTEXT);
  const { info } = await s.loadKey(id);
  if (info.algorithm !== 'x-wing')
    throw new CofferError('EPERM', `key ${id} (${info.algorithm}) is not a KEM key`);
  const v = processVersion(info, 'decapsulate', options.version ?? info.primaryVersion, s.now());
  return kem.decapsulate('x-wing', await s.secret(info, v.version), ciphertext);
}

export async function computeMac(
  s: Session,
  id: string,
  data: unknown,
): Promise<{ mac: Uint8Array; version: number }> {
  assertMessage('data', data, LIMITS.sealPayloadBytes);
  const { info } = await s.loadKey(id);
  if (info.algorithm !== 'hmac-sha256')
    throw new CofferError('EPERM', `key ${id} (${info.algorithm}) is not a MAC key`);
  const v = protectVersion(info, 'mac', s.now());
  // SPEC §4.5: a use is counted only while the key's use count is known (one read per key and process).
  const admitted = s.usage.admit(id);
  if (admitted) await admitted;
  const mac = hmac('sha256', await s.secret(info, v.version), data);
  s.usage.count(id, v.version);
  s.auditOperation('op.mac', id, v.version);
  return { mac, version: v.version };
}

export async function verifyMac(
  s: Session,
  id: string,
  data: unknown,
  tag: unknown,
  options: { version?: number } = {},
): Promise<boolean> {
  assertMessage('data', data, LIMITS.sealPayloadBytes);
  assertBytes('mac', tag);
  const { info } = await s.loadKey(id);
  if (info.algorithm !== 'hmac-sha256')
    throw new CofferError('EPERM', `key ${id} (${info.algorithm}) is not a MAC key`);
  const versions = versionsToTry(info, 'verify', options.version, s.now());
  for (const v of versions) {
    if (equalBytes(hmac('sha256', await s.secret(info, v.version), data), tag)) return true;
  }
  return false;
}
