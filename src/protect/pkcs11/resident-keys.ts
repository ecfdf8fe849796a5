// HSM-resident signing keys: Ed25519 and ECDSA P-256 key pairs generated inside a PKCS#11 token, whose
// private halves are sensitive, non-extractable token objects. The keystore core keeps only the
// handle (the pair's CKA_ID, hex) and the public key; every signature is made by the token. Signatures
// come out in the encodings SPEC §2 fixes for `sign`: 64-byte Ed25519 (RFC 8032) and 64-byte r ‖ s
// for P-256 over SHA-256, so any verifier accepts them. Before generating or signing, the token's
// mechanism list is probed and a token that cannot do the job is EUNAVAIL, naming what it lacks.
import { createHash, createPublicKey } from 'node:crypto';
import { endianness } from 'node:os';
import { assertBytes, concatBytes, fromHex } from '../../crypto/bytes.js';
import { systemRng } from '../../crypto/rng.js';
import { CofferError } from '../../errors.js';
import { ckrName } from './ckr.js';
import {
  CKA,
  CKK,
  CKM,
  CKO,
  EC_PARAMS_ED25519_NAME,
  EC_PARAMS_ED25519_OID,
  EC_PARAMS_P256,
  mechanismName,
} from './constants.js';
import type { Handle, Pkcs11Lib } from './module.js';
import {
  findObjects,
  type MechanismRequirement,
  type Pkcs11Token,
  readAttribute,
  validateObjectLabel,
} from './token.js';

export type ResidentAlgorithm = 'ed25519' | 'ecdsa-p256';
export const RESIDENT_ALGORITHMS: readonly ResidentAlgorithm[] = ['ed25519', 'ecdsa-p256'];

export interface ResidentKey {
  /** CKA_ID of the key pair, 32 lowercase hex characters: what the core stores. */
  handleId: string;
  /** Raw public key: 32 bytes (Ed25519) or 65-byte uncompressed point (P-256). */
  publicKey: Uint8Array;
}

export interface ResidentPublicKey extends ResidentKey {
  alg: ResidentAlgorithm;
  /** DER SubjectPublicKeyInfo (RFC 8410 §4 / RFC 5480 §2), for OpenSSL and other verifiers. */
  spki: Uint8Array;
}

/** How one algorithm is done on a given token. */
export interface ResidentPlan {
  keyGen: number;
  sign: number;
  /** CKM_ECDSA signs a digest: SHA-256 is computed in process (the message is not secret). */
  prehash: boolean;
  requirements: MechanismRequirement[];
}

/** docs/errors.md: messages to sign are at most 1 MiB; larger ones are pre-hashed by the caller. */
export const MAX_MESSAGE = 1 << 20;
const ID_BYTES = 16;
const CURVE_BITS = 256;

const KEY_TYPE: Readonly<Record<ResidentAlgorithm, number>> = {
  ed25519: CKK.EC_EDWARDS,
  'ecdsa-p256': CKK.EC,
};
const PUBLIC_LENGTH: Readonly<Record<ResidentAlgorithm, number>> = { ed25519: 32, 'ecdsa-p256': 65 };
const SPKI_PREFIX: Readonly<Record<ResidentAlgorithm, Uint8Array>> = {
  // SEQUENCE { SEQUENCE { OID 1.3.101.112 } BIT STRING (33) 00 ‖ key }
  ed25519: fromHex('302a300506032b6570032100'),
  // SEQUENCE { SEQUENCE { OID id-ecPublicKey, OID prime256v1 } BIT STRING (66) 00 ‖ point }
  'ecdsa-p256': fromHex('3059301306072a8648ce3d020106082a8648ce3d030107034200'),
};

/**
 * Picks the mechanisms for `alg` on `token`: P-256 signs with CKM_ECDSA_SHA256 when the token has it,
 * else CKM_ECDSA over an in-process SHA-256 digest (SoftHSM2 2.6 has only the latter).
 */
export function residentMechanisms(token: Pkcs11Token, alg: ResidentAlgorithm): ResidentPlan {
  if (alg === 'ed25519') {
    return {
      keyGen: CKM.EC_EDWARDS_KEY_PAIR_GEN,
      sign: CKM.EDDSA,
      prehash: false,
      requirements: [
        { mechanism: CKM.EC_EDWARDS_KEY_PAIR_GEN, uses: ['generate_key_pair'] },
        { mechanism: CKM.EDDSA, uses: ['sign'] },
      ],
    };
  }
  const inToken = token.supports(CKM.ECDSA_SHA256, ['sign']);
  const sign = inToken ? CKM.ECDSA_SHA256 : CKM.ECDSA;
  return {
    keyGen: CKM.EC_KEY_PAIR_GEN,
    sign,
    prehash: !inToken,
    requirements: [
      { mechanism: CKM.EC_KEY_PAIR_GEN, uses: ['generate_key_pair'] },
      { mechanism: sign, uses: ['sign'] },
    ],
  };
}

/** Mechanism probe plus the curve-size range of CK_MECHANISM_INFO (in bits for EC mechanisms). */
function requirePlan(token: Pkcs11Token, plan: ResidentPlan): void {
  token.requireMechanisms(plan.requirements);
  for (const mechanism of [plan.keyGen, plan.sign]) {
    const info = token.mechanismInfo(mechanism);
    if (info !== undefined && (info.minKeySize > CURVE_BITS || info.maxKeySize < CURVE_BITS)) {
      throw new CofferError(
        'EUNAVAIL',
        `PKCS#11: token '${token.info.label}' supports key sizes ${info.minKeySize}–${info.maxKeySize} for ${mechanismName(mechanism)}, not ${CURVE_BITS}`,
      );
    }
  }
}

function validateAlg(alg: unknown): asserts alg is ResidentAlgorithm {
  if (typeof alg !== 'string' || !(RESIDENT_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new CofferError(
      'EINVAL',
      `PKCS#11: resident key alg must be one of ${RESIDENT_ALGORITHMS.join(', ')}`,
    );
  }
}

function validateHandleId(handleId: unknown): asserts handleId is string {
  if (typeof handleId !== 'string' || !new RegExp(`^[0-9a-f]{${ID_BYTES * 2}}$`).test(handleId)) {
    throw new CofferError('EINVAL', `PKCS#11: handleId must be ${ID_BYTES * 2} lowercase hex characters`);
  }
}

/** CKA_EC_POINT is a DER OCTET STRING around the point (v2.40 §2.3.3); some tokens return it bare. */
function rawPublicKey(alg: ResidentAlgorithm, ecPoint: Uint8Array): Uint8Array {
  const length = PUBLIC_LENGTH[alg];
  let raw: Uint8Array | undefined;
  if (ecPoint.length === length + 2 && ecPoint[0] === 0x04 && ecPoint[1] === length)
    raw = ecPoint.subarray(2);
  else if (ecPoint.length === length) raw = ecPoint;
  if (raw === undefined || (alg === 'ecdsa-p256' && raw[0] !== 0x04)) {
    throw new CofferError('EUNAVAIL', `PKCS#11: token returned a malformed ${alg} public key`);
  }
  const copy = Uint8Array.from(raw);
  try {
    // OpenSSL checks the point is on the curve; a token answering garbage must not become a key.
    createPublicKey({ key: Buffer.from(publicKeySpki(alg, copy)), format: 'der', type: 'spki' });
  } catch (error) {
    throw new CofferError('EUNAVAIL', `PKCS#11: token returned an invalid ${alg} public key`, {
      cause: error,
    });
  }
  return copy;
}

/** DER SubjectPublicKeyInfo for a raw public key of `alg`. */
export function publicKeySpki(alg: ResidentAlgorithm, publicKey: Uint8Array): Uint8Array {
  validateAlg(alg);
  assertBytes('publicKey', publicKey, PUBLIC_LENGTH[alg]);
  return concatBytes(SPKI_PREFIX[alg], publicKey);
}

/** CK_KEY_TYPE is a native-endian CK_ULONG; key types fit in one byte, so the rest must be zero. */
function algForKeyType(keyType: Buffer): ResidentAlgorithm {
  const bytes = endianness() === 'LE' ? [...keyType] : [...keyType].reverse();
  const value = bytes.slice(1).some((b) => b !== 0) ? -1 : (bytes[0] ?? -1);
  if (value === CKK.EC_EDWARDS) return 'ed25519';
  if (value === CKK.EC) return 'ecdsa-p256';
  throw new CofferError(
    'EUNAVAIL',
    `PKCS#11: resident key has unsupported key type ${keyType.toString('hex')}`,
  );
}

function findPair(lib: Pkcs11Lib, session: Handle, handleId: string, cls: number): Handle[] {
  return findObjects(
    lib,
    session,
    [
      { type: CKA.CLASS, value: cls },
      { type: CKA.ID, value: Buffer.from(handleId, 'hex') },
    ],
    2,
  );
}

function missing(token: Pkcs11Token, handleId: string): CofferError {
  return new CofferError(
    'EUNAVAIL',
    `PKCS#11: no resident key with handle ${handleId} on token '${token.info.label}' (serial ${token.info.serial})`,
  );
}

function templates(alg: ResidentAlgorithm, label: string, id: Buffer, ecParams: Uint8Array) {
  const common = [
    { type: CKA.KEY_TYPE, value: KEY_TYPE[alg] },
    { type: CKA.TOKEN, value: true },
    { type: CKA.LABEL, value: label },
    { type: CKA.ID, value: id },
    { type: CKA.DERIVE, value: false },
  ];
  return {
    publicKey: [
      { type: CKA.CLASS, value: CKO.PUBLIC_KEY },
      ...common,
      { type: CKA.PRIVATE, value: false },
      { type: CKA.VERIFY, value: true },
      { type: CKA.EC_PARAMS, value: Buffer.from(ecParams) },
    ],
    privateKey: [
      { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
      ...common,
      { type: CKA.PRIVATE, value: true },
      { type: CKA.SENSITIVE, value: true },
      { type: CKA.EXTRACTABLE, value: false },
      { type: CKA.SIGN, value: true },
    ],
  };
}

/** Curve-parameter rejections that mean "try the other CKA_EC_PARAMS spelling" for Ed25519. */
const PARAMS_REJECTED = new Set([
  'CKR_ATTRIBUTE_VALUE_INVALID',
  'CKR_DOMAIN_PARAMS_INVALID',
  'CKR_CURVE_NOT_SUPPORTED',
  'CKR_TEMPLATE_INCONSISTENT',
]);

/** Generates a key pair inside the token; the label must be unused on the token (else EALREADY). */
export async function generateResidentKey(
  token: Pkcs11Token,
  options: { alg: ResidentAlgorithm; label: string },
): Promise<ResidentKey> {
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'PKCS#11: options must be an object');
  const { alg, label } = options;
  validateAlg(alg);
  validateObjectLabel('label', label);
  const plan = residentMechanisms(token, alg);
  requirePlan(token, plan);
  const id = Buffer.from(systemRng.randomBytes(ID_BYTES));
  const handleId = id.toString('hex');
  const context = { action: `generate ${alg} key '${label}' in token '${token.info.label}'` };
  const ecPoint = await token.run(context, async (lib, session) => {
    if (findObjects(lib, session, [{ type: CKA.LABEL, value: label }], 1).length > 0) {
      throw new CofferError(
        'EALREADY',
        `PKCS#11: token '${token.info.label}' already holds an object labelled '${label}'`,
      );
    }
    const spellings = alg === 'ed25519' ? [EC_PARAMS_ED25519_OID, EC_PARAMS_ED25519_NAME] : [EC_PARAMS_P256];
    let pair: { publicKey: Handle; privateKey: Handle } | undefined;
    for (const [index, params] of spellings.entries()) {
      const t = templates(alg, label, id, params);
      try {
        pair = await lib.C_GenerateKeyPairAsync(
          session,
          { mechanism: plan.keyGen },
          t.publicKey,
          t.privateKey,
        );
        break;
      } catch (error) {
        if (index === spellings.length - 1 || !PARAMS_REJECTED.has(ckrName(error) ?? '')) throw error;
      }
    }
    if (pair === undefined)
      throw new CofferError('EINTERNAL', 'PKCS#11: key pair generation returned nothing');
    try {
      return Uint8Array.from(readAttribute(lib, session, pair.publicKey, CKA.EC_POINT));
    } catch (error) {
      lib.C_DestroyObject(session, pair.privateKey);
      lib.C_DestroyObject(session, pair.publicKey);
      throw error;
    }
  });
  try {
    return { handleId, publicKey: rawPublicKey(alg, ecPoint) };
  } catch (error) {
    await destroyResidentKey(token, handleId).catch(() => {});
    throw error;
  }
}

/** Signs `message` with the resident private key `handleId`: raw 64-byte signature. */
export async function signResident(
  token: Pkcs11Token,
  handleId: string,
  message: Uint8Array,
): Promise<Uint8Array> {
  validateHandleId(handleId);
  assertBytes('message', message);
  if (message.length > MAX_MESSAGE) {
    throw new CofferError(
      'E2BIG',
      `PKCS#11: messages to sign are at most ${MAX_MESSAGE} bytes; pre-hash larger ones`,
    );
  }
  const context = { action: `sign with resident key ${handleId}`, keyName: `resident key ${handleId}` };
  const signature = await token.run(context, async (lib, session) => {
    const [key] = findPair(lib, session, handleId, CKO.PRIVATE_KEY);
    if (key === undefined) throw missing(token, handleId);
    const alg = algForKeyType(readAttribute(lib, session, key, CKA.KEY_TYPE));
    const plan = residentMechanisms(token, alg);
    token.requireMechanisms(plan.requirements.slice(1));
    const data = plan.prehash ? createHash('sha256').update(message).digest() : Buffer.from(message);
    lib.C_SignInit(session, { mechanism: plan.sign }, key);
    // CKM_EDDSA/CKM_ECDSA on P-256 both produce 64 bytes; the buffer is roomier so a token that
    // answers otherwise is caught by the length check below rather than CKR_BUFFER_TOO_SMALL.
    return Uint8Array.from(
      await lib.C_SignAsync(
        session,
        data.length === 0 ? Buffer.alloc(1).subarray(0, 0) : data,
        Buffer.alloc(132),
      ),
    );
  });
  if (signature.length !== 64) {
    throw new CofferError(
      'EUNAVAIL',
      `PKCS#11: token returned a ${signature.length}-byte signature, expected 64`,
    );
  }
  return signature;
}

/**
 * Signs a digest the caller computed with the resident P-256 key `handleId` (SPEC §14.2): CKM_ECDSA
 * signs its input as the hash, so r ‖ s over the digest is the signature over the data it hashes.
 * The digest is cut to its leftmost 32 bytes first — the ECDSA truncation to the order's 256 bits
 * (FIPS 186-5 §6.4.1), done here so a token that refuses longer input cannot differ. Ed25519 keys
 * are EINVAL (Ed25519ph is another algorithm); a token without CKM_ECDSA is EUNAVAIL naming it.
 */
export async function signResidentDigest(
  token: Pkcs11Token,
  handleId: string,
  digest: Uint8Array,
): Promise<Uint8Array> {
  validateHandleId(handleId);
  assertBytes('digest', digest, 32, 48, 64);
  const context = {
    action: `sign a digest with resident key ${handleId}`,
    keyName: `resident key ${handleId}`,
  };
  const signature = await token.run(context, async (lib, session) => {
    const [key] = findPair(lib, session, handleId, CKO.PRIVATE_KEY);
    if (key === undefined) throw missing(token, handleId);
    const alg = algForKeyType(readAttribute(lib, session, key, CKA.KEY_TYPE));
    if (alg !== 'ecdsa-p256')
      throw new CofferError('EINVAL', `resident key ${handleId} is ${alg}: only ECDSA keys sign a digest`);
    token.requireMechanisms([{ mechanism: CKM.ECDSA, uses: ['sign'] }]);
    lib.C_SignInit(session, { mechanism: CKM.ECDSA }, key);
    return Uint8Array.from(
      await lib.C_SignAsync(session, Buffer.from(digest.subarray(0, 32)), Buffer.alloc(132)),
    );
  });
  if (signature.length !== 64) {
    throw new CofferError(
      'EUNAVAIL',
      `PKCS#11: token returned a ${signature.length}-byte signature, expected 64`,
    );
  }
  return signature;
}

/** The public half of a resident key, raw and as SubjectPublicKeyInfo. */
export async function getResidentPublicKey(token: Pkcs11Token, handleId: string): Promise<ResidentPublicKey> {
  validateHandleId(handleId);
  const found = await token.run({ action: `read resident public key ${handleId}` }, (lib, session) => {
    const [key] = findPair(lib, session, handleId, CKO.PUBLIC_KEY);
    if (key === undefined) throw missing(token, handleId);
    return {
      alg: algForKeyType(readAttribute(lib, session, key, CKA.KEY_TYPE)),
      ecPoint: Uint8Array.from(readAttribute(lib, session, key, CKA.EC_POINT)),
    };
  });
  const publicKey = rawPublicKey(found.alg, found.ecPoint);
  return { alg: found.alg, handleId, publicKey, spki: publicKeySpki(found.alg, publicKey) };
}

/** Deletes both halves of a resident key. Returns false when nothing was there (already destroyed). */
export async function destroyResidentKey(token: Pkcs11Token, handleId: string): Promise<boolean> {
  validateHandleId(handleId);
  return token.run({ action: `destroy resident key ${handleId}` }, (lib, session) => {
    const objects = [
      ...findPair(lib, session, handleId, CKO.PRIVATE_KEY),
      ...findPair(lib, session, handleId, CKO.PUBLIC_KEY),
    ];
    for (const object of objects) lib.C_DestroyObject(session, object);
    return objects.length > 0;
  });
}
