// Keys whose material comes from outside (SPEC §14.15, docs/formats.md): private keys imported by
// their owner ("bring your own key", `origin: 'imported'`) and public keys held as trust anchors
// (`origin: 'trust-anchor'`, verify only). This file checks the specs and parses the material; the
// Keystore writes the records. An imported key is as non-exportable as a generated one: its secret is
// wrapped under the store's key-wrap key at once and never handed out again (except in an encrypted
// backup, like every key).
import { wipe } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import { type KeyInput, parsePrivateKey, parsePublicKey } from '../format/key-import.js';
import { assertKeyId, validateCreateSpec } from './names.js';
import type { CreateKeySpec, KeyAlgorithm, KeyUse } from './types.js';

/** What `importKey` needs besides the key itself: where the key goes and what it may do. */
export interface ImportKeySpec {
  app: string;
  purpose: string;
  /** The algorithm the key must have (checked against the parsed key; default: whatever it is). */
  algorithm?: KeyAlgorithm;
  uses?: KeyUse[];
  labels?: Record<string, string>;
  backupAllowed?: boolean;
  /**
   * Import as a new version of this imported key (its previous primary version is deactivated, as a
   * rotation does); app, purpose and algorithm must match the key's.
   */
  replaces?: string;
}

/** A public key held for verification only (`coffer anchor add`). */
export interface TrustAnchorSpec {
  app: string;
  /** The anchor set the key belongs to (stored as the key's purpose). */
  set: string;
  /** The anchor's name within its set (the `trust-anchor` label; a bundle's JWS `kid` names it). */
  name: string;
  /** Required for raw key bytes; otherwise the parsed algorithm must equal it. */
  algorithm?: KeyAlgorithm;
  labels?: Record<string, string>;
  /** A new version of this anchor key (the anchor's new public key); set and name must match. */
  replaces?: string;
}

/** The label naming an anchor within its set. */
export const TRUST_ANCHOR_LABEL = 'trust-anchor';
const ANCHOR_NAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

const IMPORT_FIELDS = ['app', 'purpose', 'algorithm', 'uses', 'labels', 'backupAllowed', 'replaces'];
const ANCHOR_FIELDS = ['app', 'set', 'name', 'algorithm', 'labels', 'replaces'];

function assertFields(what: string, spec: unknown, known: string[]): Record<string, unknown> {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    throw new CofferError('EINVAL', `${what} must be an object`);
  for (const field of Object.keys(spec)) {
    if (!known.includes(field)) throw new CofferError('EINVAL', `unknown ${what} field ${field}`);
  }
  return spec as Record<string, unknown>;
}

export interface PreparedImport {
  spec: ReturnType<typeof validateCreateSpec>;
  replaces?: string;
  secret: Uint8Array;
  publicKey?: Uint8Array;
}

/**
 * Parses a private key (PKCS#8, encrypted PKCS#8, SEC 1, OpenSSH, JWK: SPEC §14.4) and checks the
 * spec against it. The caller wraps `secret` and wipes it.
 */
export function prepareImport(
  spec: ImportKeySpec,
  input: KeyInput,
  options: { passphrase?: string } = {},
): PreparedImport {
  const s = assertFields('import spec', spec, IMPORT_FIELDS);
  if (s.replaces !== undefined) assertKeyId(s.replaces);
  if (options.passphrase !== undefined && typeof options.passphrase !== 'string')
    throw new CofferError('EINVAL', 'passphrase must be a string');
  const parsed = parsePrivateKey(
    input,
    options.passphrase === undefined ? {} : { passphrase: options.passphrase },
  );
  try {
    if (parsed.alg === 'ml-kem-768')
      throw new CofferError('EINVAL', 'ml-kem-768 keys are not keystore keys: import an x-wing key');
    if (spec.algorithm !== undefined && spec.algorithm !== parsed.alg)
      throw new CofferError('EINVAL', `the key is ${parsed.alg}, not ${spec.algorithm}`);
    const create: CreateKeySpec = {
      app: spec.app,
      purpose: spec.purpose,
      algorithm: parsed.alg,
      ...(spec.uses !== undefined ? { uses: spec.uses } : {}),
      ...(spec.labels !== undefined ? { labels: spec.labels } : {}),
      ...(spec.backupAllowed !== undefined ? { backupAllowed: spec.backupAllowed } : {}),
    };
    return {
      spec: validateCreateSpec(create),
      ...(spec.replaces !== undefined ? { replaces: spec.replaces } : {}),
      secret: parsed.secretKey,
      publicKey: parsed.publicKey,
    };
  } catch (error) {
    wipe(parsed.secretKey);
    throw error;
  }
}

export interface PreparedAnchor {
  spec: ReturnType<typeof validateCreateSpec>;
  replaces?: string;
  publicKey: Uint8Array;
}

/** Parses a public key (PEM/SPKI, JWK, OpenSSH, raw: SPEC §14.3) for a verify-only anchor key. */
export function prepareTrustAnchor(spec: TrustAnchorSpec, input: KeyInput): PreparedAnchor {
  const s = assertFields('trust anchor spec', spec, ANCHOR_FIELDS);
  if (typeof s.name !== 'string' || !ANCHOR_NAME.test(s.name))
    throw new CofferError('EINVAL', 'anchor name must match [a-z0-9][a-z0-9._@-]{0,63}');
  if (s.replaces !== undefined) assertKeyId(s.replaces);
  const labels = { ...(spec.labels ?? {}) };
  if (TRUST_ANCHOR_LABEL in labels)
    throw new CofferError('EINVAL', `label ${TRUST_ANCHOR_LABEL} is set from the anchor's name`);
  labels[TRUST_ANCHOR_LABEL] = spec.name;
  const alg = spec.algorithm;
  if (alg !== undefined && !['ed25519', 'ecdsa-p256', 'secp256k1', 'ml-dsa-65'].includes(alg))
    throw new CofferError('EINVAL', `trust anchors are signature keys, not ${alg}`);
  const parsed = parsePublicKey(input, alg === undefined ? {} : { alg: alg as 'ed25519' });
  return {
    spec: validateCreateSpec({
      app: spec.app,
      purpose: spec.set,
      algorithm: parsed.alg,
      uses: ['verify'],
      labels,
    }),
    ...(spec.replaces !== undefined ? { replaces: spec.replaces } : {}),
    publicKey: parsed.publicKey,
  };
}
