// PKCS#11 numbers Coffer uses, from the OASIS PKCS#11 v2.40 / v3.0 base specification. They are fixed
// by the standard, so they live here rather than being read from the native addon at load time: the
// addon's typings stop at v2.40 and have no Edwards-curve constants (v3.0 §2.3.x, CKM_EDDSA).

/** Object attributes (PKCS#11 v2.40 §4). */
export const CKA = Object.freeze({
  CLASS: 0x0,
  TOKEN: 0x1,
  PRIVATE: 0x2,
  LABEL: 0x3,
  APPLICATION: 0x10,
  VALUE: 0x11,
  KEY_TYPE: 0x100,
  ID: 0x102,
  SENSITIVE: 0x103,
  ENCRYPT: 0x104,
  DECRYPT: 0x105,
  WRAP: 0x106,
  UNWRAP: 0x107,
  SIGN: 0x108,
  VERIFY: 0x10a,
  DERIVE: 0x10c,
  VALUE_LEN: 0x161,
  EXTRACTABLE: 0x162,
  LOCAL: 0x163,
  NEVER_EXTRACTABLE: 0x164,
  ALWAYS_SENSITIVE: 0x165,
  EC_PARAMS: 0x180,
  EC_POINT: 0x181,
  MODIFIABLE: 0x170,
});

/** Object classes. */
export const CKO = Object.freeze({ DATA: 0x0, PUBLIC_KEY: 0x2, PRIVATE_KEY: 0x3, SECRET_KEY: 0x4 });

/** Key types; EC_EDWARDS is PKCS#11 v3.0 §2.3.1. */
export const CKK = Object.freeze({ EC: 0x3, GENERIC_SECRET: 0x10, AES: 0x1f, EC_EDWARDS: 0x40 });

/** Mechanisms; the two Edwards ones are PKCS#11 v3.0 §2.3.5–2.3.6. */
export const CKM = Object.freeze({
  EC_KEY_PAIR_GEN: 0x1040,
  ECDSA: 0x1041,
  ECDSA_SHA256: 0x1044,
  EC_EDWARDS_KEY_PAIR_GEN: 0x1055,
  EDDSA: 0x1057,
  AES_KEY_GEN: 0x1080,
  AES_GCM: 0x1087,
  AES_KEY_WRAP_PAD: 0x210a,
});

/** Names for error messages ("token lacks CKM_EDDSA"); unknown numbers print in hex. */
const MECHANISM_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(CKM).map(([name, value]) => [value, `CKM_${name}`]),
);

export function mechanismName(mechanism: number): string {
  return MECHANISM_NAMES.get(mechanism) ?? `mechanism 0x${mechanism.toString(16)}`;
}

/** Mechanism capability flags (CK_MECHANISM_INFO.flags). */
export const CKF_MECH = Object.freeze({
  HW: 0x1,
  ENCRYPT: 0x100,
  DECRYPT: 0x200,
  SIGN: 0x800,
  VERIFY: 0x2000,
  GENERATE: 0x8000,
  GENERATE_KEY_PAIR: 0x10000,
  WRAP: 0x20000,
  UNWRAP: 0x40000,
});

export type MechanismUse = Lowercase<Exclude<keyof typeof CKF_MECH, 'HW'>>;

export const MECHANISM_USE_FLAGS: Readonly<Record<MechanismUse, number>> = Object.freeze({
  encrypt: CKF_MECH.ENCRYPT,
  decrypt: CKF_MECH.DECRYPT,
  sign: CKF_MECH.SIGN,
  verify: CKF_MECH.VERIFY,
  generate: CKF_MECH.GENERATE,
  generate_key_pair: CKF_MECH.GENERATE_KEY_PAIR,
  wrap: CKF_MECH.WRAP,
  unwrap: CKF_MECH.UNWRAP,
});

/** Token flags (CK_TOKEN_INFO.flags). */
export const CKF_TOKEN = Object.freeze({
  LOGIN_REQUIRED: 0x4,
  USER_PIN_INITIALIZED: 0x8,
  PROTECTED_AUTHENTICATION_PATH: 0x100,
  TOKEN_INITIALIZED: 0x400,
  USER_PIN_LOCKED: 0x40000,
  USER_PIN_TO_BE_CHANGED: 0x80000,
});

/** Slot flags (CK_SLOT_INFO.flags): HW_SLOT is clear for a "soft token". */
export const CKF_SLOT = Object.freeze({ TOKEN_PRESENT: 0x1, HW_SLOT: 0x4 });

/** Session flags, user type, C_Initialize flag, session states. */
export const CKF_RW_SESSION = 0x2;
export const CKF_SERIAL_SESSION = 0x4;
export const CKF_OS_LOCKING_OK = 0x2;
export const CKU_USER = 0x1;
export const CKS_RO_USER_FUNCTIONS = 1;
export const CKS_RW_USER_FUNCTIONS = 3;

/** DER encodings of the curve OIDs for CKA_EC_PARAMS (RFC 5480 §2.1.1.1, RFC 8410 §3). */
export const EC_PARAMS_P256 = Uint8Array.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
export const EC_PARAMS_ED25519_OID = Uint8Array.from([0x06, 0x03, 0x2b, 0x65, 0x70]);
/** PKCS#11 v3.0 §2.3.3 also allows the curve name as a PrintableString; some tokens want only that. */
export const EC_PARAMS_ED25519_NAME = Uint8Array.from([
  0x13,
  0x0c,
  ...new TextEncoder().encode('edwards25519'),
]);
