// JWS and JWT with keystore keys (SPEC §14.5, §14.15.4): compact JWS / JWT signed by the key's
// primary version with kid `<keyId>.<version>`, verification that resolves the kid to that key
// version through the surface, and the JWK Set of an app's active signing keys.
import type { KeyOperations } from '../core/surface.js';
import type { SignatureAlgorithm } from '../core/types.js';
import { CofferError } from '../errors.js';
import {
  buildJwks,
  type JoseHeader,
  type Jwk,
  type JwtClaims,
  type JwtVerifyOptions,
  kidFor,
  parseKid,
  signCompactJws,
  signJwt,
  verifyCompactJws,
  verifyJwt,
} from '../format/jose.js';
import { messageSigner, signingKey } from './keys.js';

export const JOSE_ALGORITHMS: readonly SignatureAlgorithm[] = [
  'ed25519',
  'ecdsa-p256',
  'secp256k1',
  'ml-dsa-65',
];

export interface KeyJwsOptions {
  typ?: string;
  header?: Record<string, unknown>;
  /** Leave the kid out of the header (default: `<keyId>.<version>`). */
  noKid?: boolean;
  /** Another kid, e.g. the signer's anchor name for a signed bundle (SPEC §14.13). */
  kid?: string;
}

/** A compact JWS over `payload` signed by the key's primary version. */
export async function signJwsWithKey(
  ops: KeyOperations,
  id: string,
  payload: Uint8Array,
  options: KeyJwsOptions = {},
): Promise<string> {
  const key = await signingKey(ops, id, JOSE_ALGORITHMS, 'JWS');
  return signCompactJws(
    payload,
    {
      alg: key.alg,
      ...(options.noKid ? {} : { kid: options.kid ?? kidFor(id, key.version) }),
      ...(options.typ !== undefined ? { typ: options.typ } : {}),
      ...(options.header !== undefined ? { header: options.header } : {}),
    },
    messageSigner(ops, key),
  );
}

/** A JWT with the claims given; `iat` now, `exp` = iat + expiresIn seconds when given. */
export async function signJwtWithKey(
  ops: KeyOperations,
  id: string,
  claims: JwtClaims,
  options: { expiresIn?: number; header?: Record<string, unknown> } = {},
): Promise<string> {
  const key = await signingKey(ops, id, JOSE_ALGORITHMS, 'JWT');
  return signJwt(
    claims,
    {
      alg: key.alg,
      kid: kidFor(id, key.version),
      ...(options.expiresIn !== undefined ? { expiresIn: options.expiresIn } : {}),
      ...(options.header !== undefined ? { header: options.header } : {}),
    },
    messageSigner(ops, key),
  );
}

/**
 * Resolves a token's kid to its key version through the surface: `<keyId>.<version>`, or `expected`
 * when the caller names the key (a kid, if present, must then name the same key).
 */
function resolver(ops: KeyOperations, expected: string | undefined) {
  return async (header: JoseHeader) => {
    const kid = parseKid(header.kid);
    if (header.kid !== undefined && kid === undefined && expected === undefined)
      throw new CofferError(
        'EBADMSG',
        `kid ${JSON.stringify(header.kid)} does not name a Coffer key version`,
      );
    const keyId = expected ?? kid?.keyId;
    if (keyId === undefined)
      throw new CofferError('EINVAL', 'the token has no kid: name the key to verify with');
    if (expected !== undefined && kid !== undefined && kid.keyId !== expected)
      throw new CofferError('EBADMSG', `the token was signed by ${kid.keyId}, not ${expected}`);
    const info = await ops.getKey(keyId);
    if (!(JOSE_ALGORITHMS as readonly string[]).includes(info.algorithm))
      throw new CofferError('EPERM', `key ${keyId} (${info.algorithm}) does not sign`);
    const version = kid?.keyId === keyId ? kid.version : info.primaryVersion;
    const v = info.versions.find((x) => x.version === version);
    if (v === undefined) throw new CofferError('EBADMSG', `key ${keyId} has no version ${version}`);
    if (v.state === 'compromised' || v.state === 'destroyed')
      throw new CofferError('EKEYREVOKED', `version ${version} of key ${keyId} is ${v.state}`);
    const publicKey = (await ops.publicKey(keyId, 'raw', { version })) as Uint8Array;
    return { alg: info.algorithm as SignatureAlgorithm, publicKey };
  };
}

/** Verifies a compact JWS against a keystore key (by its kid, or `keyId`); returns header and payload. */
export async function verifyJwsWithKey(ops: KeyOperations, token: string, keyId?: string) {
  return verifyCompactJws(token, resolver(ops, keyId));
}

/** Verifies a JWT (signature first, then the claims of SPEC §14.5). */
export async function verifyJwtWithKey(
  ops: KeyOperations,
  token: string,
  options: JwtVerifyOptions & { keyId?: string } = {},
) {
  const { keyId, ...rest } = options;
  return verifyJwt(token, resolver(ops, keyId), rest);
}

/**
 * The JWK Set of an app (SPEC §14.15.4): the primary version of every active signing key the app
 * generated or imported (trust anchors are others' keys, left out), each with kid, alg and use.
 */
export async function appJwks(ops: KeyOperations, app: string): Promise<{ keys: Jwk[] }> {
  const keys = await ops.listKeys({ app });
  const entries = [];
  for (const info of keys) {
    if (info.origin === 'trust-anchor' || info.state !== 'active') continue;
    if (!(JOSE_ALGORITHMS as readonly string[]).includes(info.algorithm) || !info.uses.includes('sign'))
      continue;
    const publicKey = (await ops.publicKey(info.id, 'raw', { version: info.primaryVersion })) as Uint8Array;
    entries.push({
      keyId: info.id,
      version: info.primaryVersion,
      alg: info.algorithm as SignatureAlgorithm,
      publicKey,
    });
  }
  return buildJwks(entries);
}
