// Building node:crypto KeyObjects from stored secrets by the fastest path OpenSSL offers (issue 14,
// measured by `npm run bench --only keyimport`): on OpenSSL 3 a PKCS#8 DER import goes through the
// generic OSSL_DECODER machinery and costs about ten Ed25519 signatures, while a JWK import builds the
// key from its raw parts directly — ≈ 10× faster for Ed25519, and with the public point computed by
// ECDH ≈ 2× faster for P-256/secp256k1 on Node 20. Where Node offers `format: 'raw-private'` (Node 24
// here), an EC scalar is imported that way, ≈ 1.2× the JWK path there, with no point computed at import.
// This is what makes a key outside the cache ("cold") cheap.
//
// Trade-off: a JWK carries the secret as a base64url JS string, which cannot be wiped and lives until
// the garbage collector reclaims it, where the DER buffer was zeroed at once. The secret is in this
// process anyway (the keystore's unwrapped copy, the prepared KeyObject), so this adds a transient
// copy, not a new exposure; docs/daemon.md "Worker pool and secrets" lists the copies.
import { createECDH, createPrivateKey, createPublicKey, type ECDH, type KeyObject } from 'node:crypto';
import { CofferError } from '../errors.js';
import { asUint8, concatBytes, fromHex, wipe } from './bytes.js';
import { importQuietly } from './held-keys.js';
import { nodeView } from './sig-backend.js';

const ED25519_PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');
const ED25519_SPKI_PREFIX_LENGTH = 12;

/**
 * Node's JWK import of an OKP private key demands an `x` but derives the public key from `d` itself
 * (OpenSSL's raw private-key constructor). That is checked once, on RFC 8032 §7.1 test 1 with a wrong
 * `x`: if a Node version ever used the given `x`, signatures would be wrong, so the DER path is kept.
 */
let okpJwkDerivesPublic: boolean | undefined;
function jwkDerivesEd25519Public(): boolean {
  if (okpJwkDerivesPublic === undefined) {
    try {
      const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
      const key = createPrivateKey({
        key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: 'A'.repeat(43) },
        format: 'jwk',
      });
      const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
      okpJwkDerivesPublic =
        spki.subarray(ED25519_SPKI_PREFIX_LENGTH).toString('hex') ===
        'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
    } catch {
      okpJwkDerivesPublic = false;
    }
  }
  return okpJwkDerivesPublic;
}

/**
 * An Ed25519 private KeyObject from its 32-byte seed. The public key is not derived here: signing
 * does not need it, and on Node 20 exporting it as SPKI DER costs about three imports (issue 14, the
 * cold-key path); `ed25519PublicKeyOf` gives it when asked.
 */
export function importEd25519Seed(seed: Uint8Array): KeyObject {
  if (jwkDerivesEd25519Public()) {
    // `x` is required by Node's parser and ignored by the import (checked above).
    return importQuietly(() =>
      createPrivateKey({
        key: { kty: 'OKP', crv: 'Ed25519', d: nodeView(seed).toString('base64url'), x: 'A'.repeat(43) },
        format: 'jwk',
      }),
    );
  }
  const der = concatBytes(ED25519_PKCS8_PREFIX, seed);
  try {
    return importQuietly(() => createPrivateKey({ key: nodeView(der), format: 'der', type: 'pkcs8' }));
  } finally {
    wipe(der);
  }
}

/**
 * The 32-byte public key of an Ed25519 private KeyObject, through the JWK export (its `x` is the
 * RFC 8032 encoding of A): a tenth of the SPKI DER export's cost on Node 20, and checked to be 32 bytes.
 */
export function ed25519PublicKeyOf(key: KeyObject): Uint8Array {
  const { x } = createPublicKey(key).export({ format: 'jwk' });
  const publicKey = typeof x === 'string' ? asUint8(Buffer.from(x, 'base64url')) : undefined;
  if (publicKey?.length !== 32)
    throw new CofferError('EINTERNAL', 'OpenSSL exported an Ed25519 public key of the wrong size');
  return publicKey;
}

const JWK_CURVE = { prime256v1: 'P-256', secp256k1: 'secp256k1' } as const;
const ECDH_BY_CURVE: { prime256v1?: ECDH; secp256k1?: ECDH } = {};

/**
 * An EC private KeyObject from its 32-byte scalar (already checked 1 ≤ d < n), and the uncompressed
 * public point: ECDH computes the point natively, and the JWK import then takes d, x and y as given.
 */
/**
 * The uncompressed public point of an EC scalar (already checked 1 ≤ d < n), computed natively by ECDH.
 * One ECDH object per curve, reused: constructing it costs about as much as setPrivateKey on Node 20
 * (issue 14 profile of a cold P-256 sign). Each call sets its own scalar before reading the point, and
 * the call is synchronous, so no other key's point can be read; the scalar it keeps is one more copy of
 * a key already in the prepared-key cache.
 */
/** Drops the reused ECDH objects with the last scalars they hold (clearKeyCaches: lock, close). */
export function dropEcdhObjects(): void {
  delete ECDH_BY_CURVE.prime256v1;
  delete ECDH_BY_CURVE.secp256k1;
}

/** How many reused ECDH objects exist now (tests: lock must leave none). */
export function ecdhObjectsHeld(): number {
  return Object.keys(ECDH_BY_CURVE).length;
}

export function ecPublicPoint(curve: 'prime256v1' | 'secp256k1', scalar: Uint8Array): Uint8Array {
  const ecdh = ECDH_BY_CURVE[curve] ?? createECDH(curve);
  ECDH_BY_CURVE[curve] = ecdh;
  ecdh.setPrivateKey(nodeView(scalar));
  return asUint8(ecdh.getPublicKey());
}

type RawPrivateInput = Parameters<typeof createPrivateKey>[0];
const rawEcImport = (curve: 'prime256v1' | 'secp256k1', scalar: Uint8Array): KeyObject =>
  importQuietly(() =>
    createPrivateKey({
      key: nodeView(scalar),
      format: 'raw-private',
      asymmetricKeyType: 'ec',
      namedCurve: curve,
    } as unknown as RawPrivateInput),
  );

/**
 * Whether this Node imports an EC scalar with `format: 'raw-private'` (newer Node 24 releases; ≈ 1.2×
 * the JWK import, which needs the point computed first: `npm run bench --only keyimport`). Checked once
 * per curve on a fixed scalar: the key's public half must be the point ECDH computes, else the JWK path
 * is kept.
 */
const rawEcWorks: { prime256v1?: boolean; secp256k1?: boolean } = {};
function rawPrivateEcImportWorks(curve: 'prime256v1' | 'secp256k1'): boolean {
  let works = rawEcWorks[curve];
  if (works === undefined) {
    try {
      const scalar = fromHex('0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de');
      const exported = createPublicKey(rawEcImport(curve, scalar)).export({ format: 'der', type: 'spki' });
      const point = ecPublicPoint(curve, scalar);
      works = Buffer.compare(exported.subarray(exported.length - 65), nodeView(point)) === 0;
    } catch {
      works = false;
    }
    rawEcWorks[curve] = works;
  }
  return works;
}

/**
 * An EC private KeyObject from its 32-byte scalar (already checked 1 ≤ d < n), by the fastest path this
 * Node offers: `raw-private` where it works (the public point is then not computed: `uncompressed` is
 * absent and `ecPublicPoint` gives it when asked), else ECDH for the point and the JWK import taking
 * d, x and y as given.
 */
export function importEcScalar(
  curve: 'prime256v1' | 'secp256k1',
  scalar: Uint8Array,
): { key: KeyObject; uncompressed: Uint8Array | undefined } {
  if (rawPrivateEcImportWorks(curve)) return { key: rawEcImport(curve, scalar), uncompressed: undefined };
  const point = ecPublicPoint(curve, scalar);
  const key = importQuietly(() =>
    createPrivateKey({
      key: {
        kty: 'EC',
        crv: JWK_CURVE[curve],
        d: nodeView(scalar).toString('base64url'),
        x: nodeView(point.subarray(1, 33)).toString('base64url'),
        y: nodeView(point.subarray(33, 65)).toString('base64url'),
      },
      format: 'jwk',
    }),
  );
  return { key, uncompressed: point };
}
