// JOSE (SPEC §14.5): compact JWS (RFC 7515 §7.1), JWT (RFC 7519) and JWK / JWK Sets (RFC 7517)
// for Coffer's signature keys: EdDSA (RFC 8037; "Ed25519" of RFC 9864 accepted too), ES256
// (RFC 7518 §3.4), ES256K (RFC 8812 §3.2) and ML-DSA-65 (RFC 9964, kty "AKP"; marked experimental
// in Coffer while verifiers — jose on Node's experimental WebCrypto ML-DSA — are young). Signing
// goes through a signer callback, so the private key stays wherever it lives (keystore, HSM).
//
// Verification follows RFC 8725 (JWT BCP): the algorithm is taken from the key, never from the
// token, and must equal the header's `alg`; "none" does not exist here; `crit` extensions are not
// understood and so refused (RFC 7515 §4.1.11), which also refuses unencoded payloads (RFC 7797).
import { assertBytes, assertOneOf, concatBytes } from '../crypto/bytes.js';
import { SIG_ALGORITHMS, SIG_LENGTHS, type SigAlgorithm, verify as sigVerify } from '../crypto/sig.js';
import { CURVES } from '../crypto/sig-ecdsa.js';
import { CofferError } from '../errors.js';
import { type PublicJwk, publicKeyFromJwk, publicKeyToJwk } from './public-key.js';
import { decodeBase64, encodeBase64 } from './text-encodings.js';

export type JwsAlgorithm = 'EdDSA' | 'Ed25519' | 'ES256' | 'ES256K' | 'ML-DSA-65';

/** The JWS `alg` Coffer writes for each key algorithm. */
export const JWS_ALGORITHM: Readonly<Record<SigAlgorithm, JwsAlgorithm>> = Object.freeze({
  ed25519: 'EdDSA',
  'ecdsa-p256': 'ES256',
  secp256k1: 'ES256K',
  'ml-dsa-65': 'ML-DSA-65',
});

/** Header `alg` values each key algorithm verifies. */
const ACCEPTED: Readonly<Record<SigAlgorithm, readonly JwsAlgorithm[]>> = {
  ed25519: ['EdDSA', 'Ed25519'],
  'ecdsa-p256': ['ES256'],
  secp256k1: ['ES256K'],
  'ml-dsa-65': ['ML-DSA-65'],
};

/** Bounds: payloads follow the keystore's 1 MiB message bound; headers are small. */
export const MAX_JWS_PAYLOAD = 1024 * 1024;
const MAX_HEADER = 8 * 1024;
export const MAX_JWS_LENGTH = Math.ceil(((MAX_JWS_PAYLOAD + MAX_HEADER + 4096) * 4) / 3) + 2;

/** Signs the JWS signing input; returns the algorithm's raw signature (r ‖ s for ECDSA). */
export type Signer = (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;

export interface VerificationKey {
  alg: SigAlgorithm;
  publicKey: Uint8Array;
}

export type JoseHeader = Record<string, unknown> & { alg: JwsAlgorithm; kid?: string; typ?: string };

// ---- kid scheme and JWKs ----

/** The `kid` of a key version: `<keyId>.<version>` (key ids never contain a dot). */
export function kidFor(keyId: string, version: number): string {
  if (typeof keyId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(keyId)) {
    throw new CofferError('EINVAL', 'keyId must be 1–64 characters of [A-Za-z0-9_-]');
  }
  if (!Number.isSafeInteger(version) || version < 1 || version > 0xffff_ffff) {
    throw new CofferError('EINVAL', 'version must be an integer from 1 to 2^32 - 1');
  }
  return `${keyId}.${version}`;
}

/** Splits a Coffer `kid` into key id and version; undefined for a kid of another scheme. */
export function parseKid(kid: unknown): { keyId: string; version: number } | undefined {
  if (typeof kid !== 'string') return undefined;
  const match = /^([A-Za-z0-9_-]{1,64})\.([1-9][0-9]{0,9})$/.exec(kid);
  if (!match) return undefined;
  const version = Number(match[2]);
  return version <= 0xffff_ffff ? { keyId: match[1]!, version } : undefined;
}

/** A public JWK with its kid, alg and use: the members of PublicJwk plus these three. */
export interface Jwk {
  kty: PublicJwk['kty'];
  kid: string;
  alg: JwsAlgorithm;
  use: 'sig';
  [member: string]: string;
}

/** The public JWK of one key version, with kid, alg and use (RFC 7517 §4.2–4.5). */
export function jwkFor(key: {
  keyId: string;
  version: number;
  alg: SigAlgorithm;
  publicKey: Uint8Array;
}): Jwk {
  assertOneOf('alg', key.alg, SIG_ALGORITHMS);
  const base = publicKeyToJwk(key.alg, key.publicKey);
  return { ...base, kid: kidFor(key.keyId, key.version), alg: JWS_ALGORITHM[key.alg], use: 'sig' };
}

/** A JWK Set (RFC 7517 §5) of key versions; kids must be unique. */
export function buildJwks(
  keys: { keyId: string; version: number; alg: SigAlgorithm; publicKey: Uint8Array }[],
): { keys: Jwk[] } {
  const out = keys.map(jwkFor);
  const kids = new Set(out.map((k) => k.kid));
  if (kids.size !== out.length) throw new CofferError('EINVAL', 'JWK Set has duplicate kids');
  return { keys: out };
}

/**
 * The verification key a JWK Set holds for `kid`: EINVAL for a malformed set, EBADMSG when the kid
 * is absent or the JWK's `use`/`alg` forbid verifying this token's algorithm.
 */
export function keyFromJwks(jwks: unknown, header: { kid?: unknown; alg?: unknown }): VerificationKey {
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) {
    throw new CofferError('EINVAL', 'JWK Set must be an object with a "keys" array');
  }
  const matches = (jwks as { keys: unknown[] }).keys.filter(
    (k) => typeof k === 'object' && k !== null && (k as { kid?: unknown }).kid === header.kid,
  ) as Record<string, unknown>[];
  if (header.kid === undefined || matches.length !== 1) {
    throw new CofferError('EBADMSG', `no single key with kid ${JSON.stringify(header.kid)} in the JWK Set`);
  }
  const jwk = matches[0]!;
  if (jwk.use !== undefined && jwk.use !== 'sig')
    throw new CofferError('EBADMSG', 'the JWK is not for signatures');
  if (jwk.alg !== undefined && jwk.alg !== header.alg) {
    throw new CofferError(
      'EBADMSG',
      `the JWK is for ${String(jwk.alg)}, the token uses ${String(header.alg)}`,
    );
  }
  const { kid: _kid, alg: _alg, use: _use, key_ops: _ops, ...keyMembers } = jwk;
  // AKP keys carry their algorithm inside the key (RFC 9964 §6); put it back.
  if (keyMembers.kty === 'AKP') keyMembers.alg = jwk.alg;
  return publicKeyFromJwk(keyMembers);
}

// ---- compact JWS ----

const b64u = (bytes: Uint8Array): string => encodeBase64(bytes, 'base64url');
const utf8 = new TextEncoder();

function encodeHeader(header: JoseHeader): string {
  return b64u(utf8.encode(JSON.stringify(header)));
}

export interface JwsSignOptions {
  /** The key's algorithm; the header's `alg` follows from it. */
  alg: SigAlgorithm;
  kid?: string;
  typ?: string;
  /** Further protected header members (not alg, kid, typ, crit, b64). */
  header?: Record<string, unknown>;
  /** For ed25519: write "Ed25519" (RFC 9864) instead of "EdDSA". */
  fullySpecified?: boolean;
}

function buildHeader(options: JwsSignOptions): JoseHeader {
  assertOneOf('alg', options.alg, SIG_ALGORITHMS);
  const extra = options.header ?? {};
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
    throw new CofferError('EINVAL', 'header must be an object');
  }
  for (const name of ['alg', 'kid', 'typ', 'crit', 'b64']) {
    if (name in extra)
      throw new CofferError('EINVAL', `header member '${name}' is set by Coffer, not the caller`);
  }
  const alg = options.alg === 'ed25519' && options.fullySpecified ? 'Ed25519' : JWS_ALGORITHM[options.alg];
  const header: JoseHeader = { alg };
  if (options.kid !== undefined) {
    if (typeof options.kid !== 'string' || options.kid.length === 0)
      throw new CofferError('EINVAL', 'kid must be a non-empty string');
    header.kid = options.kid;
  }
  if (options.typ !== undefined) header.typ = options.typ;
  return { ...header, ...extra } as JoseHeader;
}

/** Compact JWS: base64url(header) . base64url(payload) . base64url(signature). */
export async function signCompactJws(
  payload: Uint8Array,
  options: JwsSignOptions,
  signer: Signer,
): Promise<string> {
  assertBytes('payload', payload);
  if (payload.length > MAX_JWS_PAYLOAD)
    throw new CofferError('E2BIG', `JWS payload over ${MAX_JWS_PAYLOAD} bytes`);
  const header = buildHeader(options);
  const signingInput = `${encodeHeader(header)}.${b64u(payload)}`;
  const signature = await signer(utf8.encode(signingInput));
  assertBytes('signature', signature, SIG_LENGTHS[options.alg].signature);
  return `${signingInput}.${b64u(signature)}`;
}

function parseJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new CofferError('EINVAL', `${what} is not UTF-8 JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CofferError('EINVAL', `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Splits and decodes a compact JWS without verifying it (to read `kid` and pick a key). */
export function decodeCompactJws(token: unknown): {
  header: JoseHeader;
  payload: Uint8Array;
  signature: Uint8Array;
  signingInput: Uint8Array;
} {
  if (typeof token !== 'string') throw new CofferError('EINVAL', 'JWS must be a string');
  if (token.length > MAX_JWS_LENGTH) throw new CofferError('E2BIG', 'JWS too long');
  const parts = token.split('.');
  if (parts.length !== 3) throw new CofferError('EINVAL', 'compact JWS must have three dot-separated parts');
  const [h, p, s] = parts as [string, string, string];
  if (h.length > Math.ceil((MAX_HEADER * 4) / 3)) throw new CofferError('E2BIG', 'JWS header too long');
  const header = parseJsonObject(decodeBase64(h, 'base64url', 'JWS header'), 'JWS header');
  if (typeof header.alg !== 'string') throw new CofferError('EINVAL', 'JWS header has no "alg"');
  return {
    header: header as JoseHeader,
    payload: decodeBase64(p, 'base64url', 'JWS payload'),
    signature: decodeBase64(s, 'base64url', 'JWS signature'),
    signingInput: utf8.encode(`${h}.${p}`),
  };
}

/** r ‖ s with s ≤ n/2: RFC 8812 does not demand low-S, but sig.verify (BIP-62) does. */
function lowS(signature: Uint8Array): Uint8Array {
  const c = CURVES.secp256k1;
  const s = BigInt(`0x${Buffer.from(signature.subarray(32)).toString('hex')}`);
  if (s <= c.halfOrder) return signature;
  return concatBytes(
    signature.subarray(0, 32),
    Buffer.from((c.order - s).toString(16).padStart(64, '0'), 'hex'),
  );
}

export type KeyResolver = (header: JoseHeader) => VerificationKey | Promise<VerificationKey>;

/**
 * Verifies a compact JWS under `key` (or the key `resolve` picks from the header) and returns its
 * header and payload. EINVAL for malformed tokens, EBADMSG for an algorithm that does not fit the
 * key, an unknown `crit`, or a signature that does not verify.
 */
export async function verifyCompactJws(
  token: string,
  key: VerificationKey | KeyResolver,
): Promise<{ header: JoseHeader; payload: Uint8Array }> {
  const { header, payload, signature, signingInput } = decodeCompactJws(token);
  if ('crit' in header)
    throw new CofferError('EBADMSG', 'JWS header lists critical extensions Coffer does not understand');
  const resolved = typeof key === 'function' ? await key(header) : key;
  assertOneOf('key alg', resolved.alg, SIG_ALGORITHMS);
  // RFC 8725 §3.1: the key decides the algorithm; the header must agree with it.
  if (!ACCEPTED[resolved.alg].includes(header.alg)) {
    throw new CofferError(
      'EBADMSG',
      `JWS alg ${JSON.stringify(header.alg)} does not fit a ${resolved.alg} key`,
    );
  }
  if (signature.length !== SIG_LENGTHS[resolved.alg].signature)
    throw new CofferError('EBADMSG', 'JWS signature has the wrong length');
  const candidate = resolved.alg === 'secp256k1' ? lowS(signature) : signature;
  if (!sigVerify(resolved.alg, resolved.publicKey, signingInput, candidate)) {
    throw new CofferError('EBADMSG', 'JWS signature does not verify');
  }
  return { header, payload };
}

// ---- JWT ----

export type JwtClaims = Record<string, unknown> & {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
};

export interface JwtSignOptions extends Omit<JwsSignOptions, 'typ'> {
  /** Seconds since the epoch for `iat` (default: now); false leaves `iat` out. */
  issuedAt?: number | false;
  /** Sets `exp` = iat + expiresIn (seconds). */
  expiresIn?: number;
  now?: () => number;
}

const nowSeconds = (now?: () => number): number => Math.floor((now ? now() : Date.now()) / 1000);

function assertNumericDate(name: string, value: unknown): asserts value is number | undefined {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
    throw new CofferError('EINVAL', `JWT claim '${name}' must be a NumericDate (seconds since the epoch)`);
  }
}

/** A signed JWT (typ "JWT"). Claims are the caller's; `iat` / `exp` are filled from the options. */
export async function signJwt(claims: JwtClaims, options: JwtSignOptions, signer: Signer): Promise<string> {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new CofferError('EINVAL', 'JWT claims must be an object');
  }
  const body: JwtClaims = { ...claims };
  const issuedAt = options.issuedAt === undefined ? nowSeconds(options.now) : options.issuedAt;
  if (issuedAt !== false) body.iat = issuedAt;
  if (options.expiresIn !== undefined) {
    if (!Number.isSafeInteger(options.expiresIn) || options.expiresIn <= 0)
      throw new CofferError('EINVAL', 'expiresIn must be a positive integer');
    body.exp = (issuedAt === false ? nowSeconds(options.now) : issuedAt) + options.expiresIn;
  }
  for (const name of ['exp', 'nbf', 'iat']) assertNumericDate(name, body[name]);
  const { issuedAt: _i, expiresIn: _e, now: _n, ...jws } = options;
  return signCompactJws(utf8.encode(JSON.stringify(body)), { ...jws, typ: 'JWT' }, signer);
}

export interface JwtVerifyOptions {
  /** Milliseconds since the epoch (default Date.now). */
  now?: () => number;
  /** Seconds of clock skew tolerated on exp, nbf and iat (default 0, at most 300). */
  clockTolerance?: number;
  issuer?: string | string[];
  audience?: string | string[];
  subject?: string;
  /** Refuse tokens whose iat is older than this many seconds (requires iat). */
  maxAge?: number;
  /** Claims that must be present (e.g. ['exp']). */
  required?: string[];
  /** Expected `typ` header (default: absent or "JWT"). */
  typ?: string;
}

/**
 * Verifies a JWT's signature and then its claims (RFC 7519 §4.1, §7.2): exp (now < exp + skew), nbf
 * (now ≥ nbf − skew), iat (not in the future beyond the skew; within maxAge), iss, aud, sub,
 * required claims. Any failure after decoding is EBADMSG; malformed claims are EINVAL.
 */
export async function verifyJwt(
  token: string,
  key: VerificationKey | KeyResolver,
  options: JwtVerifyOptions = {},
): Promise<{ header: JoseHeader; claims: JwtClaims }> {
  const { header, payload } = await verifyCompactJws(token, key);
  const typ = header.typ;
  if (options.typ !== undefined ? typ !== options.typ : typ !== undefined && typ !== 'JWT') {
    throw new CofferError('EBADMSG', `JWT typ ${JSON.stringify(typ)} is not the expected one`);
  }
  const claims = parseJsonObject(payload, 'JWT claims') as JwtClaims;
  for (const name of ['exp', 'nbf', 'iat']) assertNumericDate(name, claims[name]);
  const skew = options.clockTolerance ?? 0;
  if (!Number.isFinite(skew) || skew < 0 || skew > 300)
    throw new CofferError('EINVAL', 'clockTolerance must be 0 to 300 seconds');
  const now = (options.now ? options.now() : Date.now()) / 1000;
  const reject = (why: string): never => {
    throw new CofferError('EBADMSG', `JWT ${why}`);
  };
  for (const name of options.required ?? [])
    if (!(name in claims)) reject(`lacks the required claim '${name}'`);
  if (claims.exp !== undefined && now >= claims.exp + skew) reject('has expired (exp)');
  if (claims.nbf !== undefined && now < claims.nbf - skew) reject('is not valid yet (nbf)');
  if (claims.iat !== undefined && claims.iat > now + skew) reject('was issued in the future (iat)');
  if (options.maxAge !== undefined) {
    if (claims.iat === undefined) reject('has no iat, so its age cannot be checked');
    if (now - claims.iat! > options.maxAge + skew) reject('is older than maxAge');
  }
  const oneOf = (value: unknown, allowed: string | string[]) =>
    (Array.isArray(allowed) ? allowed : [allowed]).includes(value as string);
  if (options.issuer !== undefined && !oneOf(claims.iss, options.issuer))
    reject('issuer (iss) does not match');
  if (options.subject !== undefined && claims.sub !== options.subject) reject('subject (sub) does not match');
  if (options.audience !== undefined) {
    const aud = claims.aud;
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!audiences.some((a) => oneOf(a, options.audience!))) reject('audience (aud) does not match');
  }
  return { header, claims };
}
