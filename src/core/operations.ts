// Key operations that never reveal key bytes (SPEC §2): sign/verify, seal/unseal (SPEC §6),
// encapsulate/decapsulate, mac, data keys and rewrap. Each checks bounds, use and state first.
import * as aead from '../crypto/aead.js';
import { assertBytes, concatBytes, equalBytes, wipe } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import { ecdsaSignatureFromDer, ecdsaSignatureToDer } from '../format/ecdsa-der.js';
import { encodeSealedHeader, parseSealedHeader, type SealedAlgorithm } from '../format/sealed.js';
import { textEncoder } from './encoding.js';
import { keyIdBytes } from './ids.js';
import { KERNELS, XWING_CIPHERTEXT } from './kernels.js';
import {
  effectiveKey,
  processVersion,
  protectVersion,
  publicVerifyVersions,
  versionsToTry,
} from './lifecycle.js';
import { isSignatureAlgorithm } from './material.js';
import { assertKeyId } from './names.js';
import { perform } from './offload.js';
import type { Session } from './session.js';
import type { SignatureCheck } from './surface.js';
import { type KeyInfo, LIMITS } from './types.js';

const MAX_AAD_BYTES = 64 * 1024;
const MiB = 1024 * 1024;
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

export function assertAad(aad: unknown): Uint8Array {
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
  const raw = await perform(
    s.offload,
    'sign',
    info.algorithm,
    data.length,
    { keyId: id, version: v.version, secret },
    [secret, info.algorithm, data, options.context],
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
    const args = [info.algorithm, publicKey, data, raw, options.context] as const;
    if (await perform(s.offload, 'verify', info.algorithm, data.length, undefined, [...args])) return true;
  }
  return false;
}

/** ECDSA signatures are 64 bytes raw (r ‖ s); anything else that parses as DER is read as DER. */
function recogniseEncoding(info: KeyInfo, signature: Uint8Array, given: unknown): SignatureEncoding {
  if (given !== undefined) return assertEncoding(info, given);
  if (info.algorithm !== 'ecdsa-p256' && info.algorithm !== 'secp256k1') return 'raw';
  if (signature.length === 64) return 'raw';
  try {
    ecdsaSignatureFromDer(signature);
    return 'der';
  } catch {
    return 'raw';
  }
}

/**
 * Verification as a public operation (SPEC §2 "Public verification"): the same mathematics as
 * `verify`, answered for compromised and destroyed versions too (their public keys are kept), with
 * the key's and the verifying version's state so the caller can judge the answer. ECDSA signatures
 * are recognised as raw or DER when no encoding is given.
 */
export async function checkSignature(
  s: Session,
  id: string,
  data: unknown,
  signature: unknown,
  options: { version?: number; encoding?: SignatureEncoding; context?: Uint8Array } = {},
): Promise<SignatureCheck> {
  assertMessage('data', data, LIMITS.signMessageBytes);
  assertBytes('signature', signature);
  const { info } = await s.loadKey(id);
  if (!isSignatureAlgorithm(info.algorithm)) {
    throw new CofferError(
      'EPERM',
      info.algorithm === 'hmac-sha256'
        ? `key ${id} is an HMAC key: check its tags with verify-mac`
        : `key ${id} (${info.algorithm}) is not a signing key`,
    );
  }
  const encoding = recogniseEncoding(info, signature, options.encoding);
  const now = s.now();
  const versions = publicVerifyVersions(info, options.version, now);
  const keyState = effectiveKey(info, now).state;
  let raw: Uint8Array | undefined = signature;
  if (encoding === 'der') {
    try {
      raw = ecdsaSignatureFromDer(signature);
    } catch {
      raw = undefined; // a malformed signature is a wrong signature, never an exception
    }
  }
  if (raw !== undefined) {
    for (const v of versions) {
      let publicKey: Uint8Array;
      try {
        publicKey = await s.publicKey(info, v.version);
      } catch (error) {
        // A version destroyed before public keys were kept has none left to verify with.
        if (v.state === 'destroyed' && options.version === undefined) continue;
        throw error;
      }
      const args = [info.algorithm, publicKey, data, raw, options.context] as const;
      if (await perform(s.offload, 'verify', info.algorithm, data.length, undefined, [...args]))
        return { valid: true, version: v.version, encoding, keyState, versionState: v.state };
    }
  }
  return { valid: false, encoding, keyState };
}

export function sealedAlgorithm(info: KeyInfo): SealedAlgorithm {
  if (
    info.algorithm === 'aes-256-gcm' ||
    info.algorithm === 'xchacha20-poly1305' ||
    info.algorithm === 'x-wing'
  ) {
    return info.algorithm;
  }
  throw new CofferError('EPERM', `key ${info.id} (${info.algorithm}) cannot seal`);
}

/** Seals to an X-Wing public key (SPEC §6 kind 0x02): anyone with the public key can do this. */
export function sealToPublicKey(
  target: { keyId: string; version: number; publicKey: Uint8Array },
  plaintext: Uint8Array,
  aad: Uint8Array,
  randomBytes: (n: number) => Uint8Array,
  deterministic = false,
): Uint8Array {
  const { header, eseed, nonce } = sealToPublicKeyInputs(target, randomBytes, deterministic);
  return KERNELS.sealToPublicKey(target.publicKey, header, nonce, eseed, plaintext, aad);
}

/** The header and randomness of a seal-to-public-key; the eseed only in deterministic test mode. */
function sealToPublicKeyInputs(
  target: { keyId: string; version: number },
  randomBytes: (n: number) => Uint8Array,
  deterministic: boolean,
): { header: Uint8Array; eseed: Uint8Array | undefined; nonce: Uint8Array } {
  const header = encodeSealedHeader({
    kind: 'toPublicKey',
    algorithm: 'x-wing',
    keyId: keyIdBytes(target.keyId),
    version: target.version,
  });
  // An explicit eseed forces the (slower) deterministic ML-KEM path: only test mode needs it. Drawn
  // before the nonce, as it always was, so deterministic-mode outputs stay the same.
  const eseed = deterministic ? randomBytes(64) : undefined;
  return { header, eseed, nonce: randomBytes(12) };
}

export async function seal(
  s: Session,
  id: string,
  plaintext: unknown,
  options: { aad?: Uint8Array | string } = {},
): Promise<Uint8Array> {
  assertBytes('plaintext', plaintext);
  if (plaintext.length > LIMITS.sealPayloadBytes)
    throw new CofferError(
      'E2BIG',
      `plaintext is larger than the one-shot seal limit of ${LIMITS.sealPayloadBytes / MiB} MiB: seal larger inputs as a stream (sealStream, SPEC §6.2)`,
    );
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
    const { header, eseed, nonce } = sealToPublicKeyInputs(
      { keyId: id, version: v.version },
      (n) => s.rng.randomBytes(n),
      s.rng.insecure,
    );
    out = await perform(s.offload, 'sealToPublicKey', alg, plaintext.length, undefined, [
      publicKey,
      header,
      nonce,
      eseed,
      plaintext,
      aad,
    ]);
  } else {
    const header = cached(headerCache, `${alg}/${id}/${v.version}`, () =>
      encodeSealedHeader({ kind: 'symmetric', algorithm: alg, keyId: idBytes(id), version: v.version }),
    );
    const secret = await s.secret(info, v.version);
    const nonce = s.rng.randomBytes(aead.NONCE_LENGTH[alg]);
    out = await perform(
      s.offload,
      'sealSymmetric',
      alg,
      plaintext.length,
      { keyId: id, version: v.version, secret },
      [secret, alg, header, nonce, plaintext, aad],
    );
  }
  s.usage.count(id, v.version);
  s.auditOperation('op.seal', id, v.version);
  return out;
}

/** Opens a one-shot sealed blob (SPEC §6); core/unseal.ts sends sealed streams elsewhere first. */
export async function unsealBlob(
  s: Session,
  id: string,
  sealed: unknown,
  options: { aad?: Uint8Array | string } = {},
): Promise<Uint8Array> {
  assertKeyId(id);
  assertBytes('sealed', sealed);
  if (sealed.length > LIMITS.sealPayloadBytes + 4096)
    throw new CofferError(
      'E2BIG',
      `sealed data is larger than the one-shot unseal limit of ${LIMITS.sealPayloadBytes / MiB} MiB + 4 KiB: open larger data as a stream (unsealStream, SPEC §6.2)`,
    );
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
  const ref = { keyId: id, version: v.version, secret };
  if (header.algorithm === 'x-wing') {
    if (body.length < XWING_CIPHERTEXT + 12 + 16)
      throw new CofferError('EBADMSG', 'sealed data is too short');
    return explainOpenFailure(id, v.version, () =>
      perform(s.offload, 'openXWing', 'x-wing', body.length, ref, [secret, headerBytes, body, fullAad]),
    );
  }
  const nonceLength = aead.NONCE_LENGTH[header.algorithm];
  if (body.length < nonceLength + 16) throw new CofferError('EBADMSG', 'sealed data is too short');
  const algorithm = header.algorithm;
  return explainOpenFailure(id, v.version, () =>
    perform(s.offload, 'openSymmetric', algorithm, body.length, ref, [secret, algorithm, body, fullAad]),
  );
}

/**
 * The AEAD's own message names its inner algorithm (X-Wing seals with AES-GCM inside); a caller of
 * unseal needs the key and what to check instead.
 */
async function explainOpenFailure(
  id: string,
  version: number,
  open: () => Uint8Array | Promise<Uint8Array>,
): Promise<Uint8Array> {
  try {
    return await open();
  } catch (error) {
    if (!(error instanceof CofferError && error.code === 'EBADMSG')) throw error;
    throw new CofferError(
      'EBADMSG',
      `cannot unseal with key ${id} v${version}: the AAD differs from the one it was sealed with, or the data was altered`,
      { cause: error },
    );
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
  const eseed = s.rng.insecure ? s.rng.randomBytes(64) : undefined;
  const result = await perform(s.offload, 'encapsulate', 'x-wing', 0, undefined, [publicKey, eseed]);
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
  const secret = await s.secret(info, v.version);
  return perform(s.offload, 'decapsulate', 'x-wing', 0, { keyId: id, version: v.version, secret }, [
    secret,
    ciphertext,
  ]);
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
  const secret = await s.secret(info, v.version);
  const ref = { keyId: id, version: v.version, secret };
  const mac = await perform(s.offload, 'mac', 'hmac-sha256', data.length, ref, [secret, data]);
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
    const secret = await s.secret(info, v.version);
    const ref = { keyId: id, version: v.version, secret };
    const mac = await perform(s.offload, 'mac', 'hmac-sha256', data.length, ref, [secret, data]);
    if (equalBytes(mac, tag)) return true;
  }
  return false;
}
