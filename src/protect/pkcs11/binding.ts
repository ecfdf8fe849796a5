// The part of the pkcs11js addon's API that Coffer calls, typed here rather than imported from the
// package: pkcs11js is an optional peer dependency (compiled at install, needed only for PKCS#11),
// so Coffer must type-check and build where it is not installed. Shapes follow pkcs11js 2.x's own
// declarations; binding.test.ts checks every method and constant named here exists on the real addon.

export type Handle = Buffer;

export interface Pkcs11Version {
  major: number;
  minor: number;
}

export interface Pkcs11SlotInfo {
  slotDescription: string;
  manufacturerID: string;
  flags: number;
  hardwareVersion: Pkcs11Version;
  firmwareVersion: Pkcs11Version;
}

export interface Pkcs11RawTokenInfo {
  label: string;
  manufacturerID: string;
  model: string;
  serialNumber: string;
  flags: number;
  maxSessionCount: number;
  sessionCount: number;
  maxRwSessionCount: number;
  rwSessionCount: number;
  maxPinLen: number;
  minPinLen: number;
  hardwareVersion: Pkcs11Version;
  firmwareVersion: Pkcs11Version;
  utcTime: string;
  totalPublicMemory: number;
  freePublicMemory: number;
  totalPrivateMemory: number;
  freePrivateMemory: number;
}

export interface Pkcs11MechanismInfo {
  minKeySize: number;
  maxKeySize: number;
  flags: number;
}

export interface Pkcs11SessionInfo {
  slotID: Buffer;
  state: number;
  flags: number;
  deviceError: number;
}

export interface Pkcs11Attribute {
  type: number;
  value?: number | boolean | string | Buffer | Date;
}
export type Pkcs11Template = Pkcs11Attribute[];
export type Pkcs11TemplateResult = Array<{ type: number; value: Buffer }>;

export interface Pkcs11Mechanism {
  mechanism: number;
  /** A raw parameter block, a number, or a typed parameter object (`type` is a CK_PARAMS_* constant). */
  parameter?: Buffer | number | ({ type: number } & Record<string, unknown>);
}

/** One loaded PKCS#11 library (pkcs11js's PKCS11 class), the calls Coffer makes. */
export interface Pkcs11Lib {
  load(path: string): void;
  close(): void;
  C_Initialize(options?: { libraryParameters?: string; flags?: number }): void;
  C_Finalize(): void;
  C_GetSlotList(tokenPresent?: boolean): Handle[];
  C_GetSlotInfo(slot: Handle): Pkcs11SlotInfo;
  C_GetTokenInfo(slot: Handle): Pkcs11RawTokenInfo;
  C_GetMechanismList(slot: Handle): number[];
  C_GetMechanismInfo(slot: Handle, mechanism: number): Pkcs11MechanismInfo;
  C_OpenSession(slot: Handle, flags: number): Handle;
  C_CloseSession(session: Handle): void;
  C_GetSessionInfo(session: Handle): Pkcs11SessionInfo;
  C_Login(session: Handle, userType: number, pin?: string): void;
  C_CreateObject(session: Handle, template: Pkcs11Template): Handle;
  C_DestroyObject(session: Handle, object: Handle): void;
  C_FindObjectsInit(session: Handle, template: Pkcs11Template): void;
  C_FindObjects(session: Handle, maxObjectCount: number): Handle[];
  C_FindObjectsFinal(session: Handle): void;
  C_GetAttributeValue(session: Handle, object: Handle, template: Pkcs11Template): Pkcs11TemplateResult;
  C_SetAttributeValue(session: Handle, object: Handle, template: Pkcs11Template): void;
  C_GenerateKey(session: Handle, mechanism: Pkcs11Mechanism, template: Pkcs11Template): Handle;
  C_GenerateKeyPairAsync(
    session: Handle,
    mechanism: Pkcs11Mechanism,
    publicTemplate: Pkcs11Template,
    privateTemplate: Pkcs11Template,
  ): Promise<{ privateKey: Handle; publicKey: Handle }>;
  C_EncryptInit(session: Handle, mechanism: Pkcs11Mechanism, key: Handle): void;
  C_EncryptAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
  C_DecryptInit(session: Handle, mechanism: Pkcs11Mechanism, key: Handle): void;
  C_DecryptAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
  C_SignInit(session: Handle, mechanism: Pkcs11Mechanism, key: Handle): void;
  C_SignAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
  C_WrapKeyAsync(
    session: Handle,
    mechanism: Pkcs11Mechanism,
    wrappingKey: Handle,
    key: Handle,
    wrappedKey: Buffer,
  ): Promise<Buffer>;
  C_UnwrapKeyAsync(
    session: Handle,
    mechanism: Pkcs11Mechanism,
    unwrappingKey: Handle,
    wrappedKey: Buffer,
    template: Pkcs11Template,
  ): Promise<Handle>;
}

/** The addon module itself: the PKCS11 class and the parameter-type constants Coffer passes. */
export interface Pkcs11Binding {
  PKCS11: new () => Pkcs11Lib;
  /** CK_GCM_PARAMS with ulIvBits (PKCS#11 v2.40 errata), for `parameter.type`. */
  CK_PARAMS_AES_GCM_v240: number;
}

/** Every Pkcs11Lib method, for the test that checks them against the installed addon. */
export const PKCS11_LIB_METHODS = [
  'load',
  'close',
  'C_Initialize',
  'C_Finalize',
  'C_GetSlotList',
  'C_GetSlotInfo',
  'C_GetTokenInfo',
  'C_GetMechanismList',
  'C_GetMechanismInfo',
  'C_OpenSession',
  'C_CloseSession',
  'C_GetSessionInfo',
  'C_Login',
  'C_CreateObject',
  'C_DestroyObject',
  'C_FindObjectsInit',
  'C_FindObjects',
  'C_FindObjectsFinal',
  'C_GetAttributeValue',
  'C_SetAttributeValue',
  'C_GenerateKey',
  'C_GenerateKeyPairAsync',
  'C_EncryptInit',
  'C_EncryptAsync',
  'C_DecryptInit',
  'C_DecryptAsync',
  'C_SignInit',
  'C_SignAsync',
  'C_WrapKeyAsync',
  'C_UnwrapKeyAsync',
] as const satisfies ReadonlyArray<keyof Pkcs11Lib>;

// Compile-time: the list above names every method of Pkcs11Lib (a missing one fails the build).
type Missing = Exclude<keyof Pkcs11Lib, (typeof PKCS11_LIB_METHODS)[number]>;
const _everyMethodListed: [Missing] extends [never] ? true : Missing = true;
void _everyMethodListed;
