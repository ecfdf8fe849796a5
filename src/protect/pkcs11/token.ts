// A logged-in session to one PKCS#11 token: the handle both the protector device (device.ts) and the
// HSM-resident signing keys (resident-keys.ts) work through. It finds the token by label (and serial,
// when a keyslot recorded one), checks the PIN, learns the token's mechanisms once, and runs every
// call through the module's queue with CKR_* errors mapped to CofferError codes (ckr.ts).
import { isAbsolute } from 'node:path';
import { CofferError } from '../../errors.js';
import { type CkrContext, ckrName, fromPkcs11Error } from './ckr.js';
import {
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKF_SLOT,
  CKF_TOKEN,
  CKS_RO_USER_FUNCTIONS,
  CKS_RW_USER_FUNCTIONS,
  CKU_USER,
  MECHANISM_USE_FLAGS,
  type MechanismUse,
  mechanismName,
} from './constants.js';
import { acquireModule, type Handle, type Pkcs11Lib, type Pkcs11Module, releaseModule } from './module.js';

export interface Pkcs11TokenOptions {
  /** Absolute path of the vendor's PKCS#11 library. */
  module: string;
  /** CK_TOKEN_INFO.label (at most 32 bytes; trailing blanks are padding). */
  tokenLabel: string;
  /** User PIN; '' only for tokens with a protected authentication path (PIN pad). */
  pin: string;
  /** CK_TOKEN_INFO.serialNumber the caller expects, so a look-alike token is refused. */
  serial?: string;
}

export interface Pkcs11TokenInfo {
  label: string;
  serial: string;
  manufacturer: string;
  model: string;
  /** CKF_HW_SLOT: the module says the slot is hardware, not a "soft token". */
  hardwareSlot: boolean;
  /** The manufacturer/model names a known software implementation (SoftHSM, NSS, Kryoptic…). */
  knownSoftwareToken: boolean;
  /** CKF_PROTECTED_AUTHENTICATION_PATH: the PIN is entered on the device (PIN pad, biometric). */
  protectedAuthenticationPath: boolean;
}

export interface MechanismRequirement {
  mechanism: number;
  uses: MechanismUse[];
}

interface MechanismInfo {
  minKeySize: number;
  maxKeySize: number;
  flags: number;
}

const KNOWN_SOFTWARE = /softhsm|kryoptic|mozilla|\bnss\b|soft ?token|\bsoft\b/i;
const MAX_PIN_BYTES = 255;

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Validates the options every token user shares; EINVAL before any library is loaded. */
export function validateTokenOptions(options: unknown): asserts options is Pkcs11TokenOptions {
  if (typeof options !== 'object' || options === null) {
    throw new CofferError('EINVAL', 'PKCS#11: options must be an object');
  }
  const o = options as Record<string, unknown>;
  if (typeof o.module !== 'string' || o.module.length === 0) {
    throw new CofferError('EINVAL', 'PKCS#11: module must be the path of the vendor library');
  }
  // Checked here too (not only when loading) so a whole config is judged before anything is opened.
  if (!isAbsolute(o.module)) {
    throw new CofferError('EINVAL', 'PKCS#11: module must be an absolute path to the vendor library');
  }
  if (typeof o.tokenLabel !== 'string' || o.tokenLabel.trim().length === 0 || byteLength(o.tokenLabel) > 32) {
    throw new CofferError('EINVAL', 'PKCS#11: tokenLabel must be 1 to 32 bytes');
  }
  if (typeof o.pin !== 'string' || byteLength(o.pin) > MAX_PIN_BYTES || o.pin.includes('\0')) {
    throw new CofferError('EINVAL', `PKCS#11: pin must be a string of at most ${MAX_PIN_BYTES} bytes`);
  }
  if (
    o.serial !== undefined &&
    (typeof o.serial !== 'string' || o.serial.length === 0 || o.serial.length > 16)
  ) {
    throw new CofferError('EINVAL', 'PKCS#11: serial must be 1 to 16 characters');
  }
}

/** CKA_LABEL of the objects Coffer creates: 1 to 128 UTF-8 bytes, no NUL (C strings in many modules). */
export const MAX_OBJECT_LABEL_BYTES = 128;

export function validateObjectLabel(name: string, label: unknown): asserts label is string {
  if (
    typeof label !== 'string' ||
    label.length === 0 ||
    byteLength(label) > MAX_OBJECT_LABEL_BYTES ||
    label.includes('\0')
  ) {
    throw new CofferError('EINVAL', `PKCS#11: ${name} must be 1 to ${MAX_OBJECT_LABEL_BYTES} bytes`);
  }
}

/** C_FindObjects over a template, at most `max` handles (Final always runs). */
export function findObjects(
  lib: Pkcs11Lib,
  session: Handle,
  template: { type: number; value: number | boolean | string | Buffer }[],
  max = 16,
): Handle[] {
  lib.C_FindObjectsInit(session, template);
  try {
    return lib.C_FindObjects(session, max);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

/** Reads one attribute's raw bytes. */
export function readAttribute(lib: Pkcs11Lib, session: Handle, object: Handle, type: number): Buffer {
  const [attribute] = lib.C_GetAttributeValue(session, object, [{ type }]);
  if (attribute === undefined) throw new CofferError('EINTERNAL', 'PKCS#11: attribute read returned nothing');
  return attribute.value;
}

/** Reads a CK_BBOOL attribute. */
export function readBool(lib: Pkcs11Lib, session: Handle, object: Handle, type: number): boolean {
  return readAttribute(lib, session, object, type)[0] === 1;
}

export class Pkcs11Token {
  readonly info: Pkcs11TokenInfo;
  readonly #module: Pkcs11Module;
  readonly #slot: Handle;
  readonly #mechanisms: ReadonlyMap<number, MechanismInfo>;
  #session: Handle;
  #registered: boolean;
  #closed = false;

  private constructor(
    module: Pkcs11Module,
    slot: Handle,
    session: Handle,
    info: Pkcs11TokenInfo,
    mechanisms: ReadonlyMap<number, MechanismInfo>,
    registered: boolean,
  ) {
    this.#module = module;
    this.#slot = slot;
    this.#session = session;
    this.info = Object.freeze(info);
    this.#mechanisms = mechanisms;
    this.#registered = registered;
  }

  /** Loads the module, finds the token, opens a R/W session and logs in with the PIN. */
  static async open(options: Pkcs11TokenOptions): Promise<Pkcs11Token> {
    validateTokenOptions(options);
    const module = acquireModule(options.module);
    try {
      return await module.run(() => Pkcs11Token.#openOn(module, options));
    } catch (error) {
      await releaseModule(module);
      throw fromPkcs11Error(error, { action: `open token '${options.tokenLabel}'` });
    }
  }

  static #openOn(module: Pkcs11Module, options: Pkcs11TokenOptions): Pkcs11Token {
    const lib = module.lib;
    const { slot, token } = Pkcs11Token.#findSlot(module, options);
    const label = token.label.trimEnd();
    const serial = token.serialNumber.trimEnd();
    if ((token.flags & CKF_TOKEN.TOKEN_INITIALIZED) === 0) {
      throw new CofferError('EUNAVAIL', `PKCS#11: token '${label}' is not initialised`);
    }
    if ((token.flags & CKF_TOKEN.USER_PIN_LOCKED) !== 0) {
      throw new CofferError(
        'ELOCKED',
        `PKCS#11: the user PIN of token '${label}' is locked; the security officer must reset it`,
      );
    }
    const protectedPath = (token.flags & CKF_TOKEN.PROTECTED_AUTHENTICATION_PATH) !== 0;
    if (options.pin === '' && !protectedPath) {
      throw new CofferError('EINVAL', `PKCS#11: token '${label}' needs a PIN (it has no PIN pad)`);
    }
    const slotInfo = lib.C_GetSlotInfo(slot);
    const info: Pkcs11TokenInfo = {
      label,
      serial,
      manufacturer: token.manufacturerID.trimEnd(),
      model: token.model.trimEnd(),
      hardwareSlot: (slotInfo.flags & CKF_SLOT.HW_SLOT) !== 0,
      knownSoftwareToken: KNOWN_SOFTWARE.test(`${token.manufacturerID} ${token.model}`),
      protectedAuthenticationPath: protectedPath,
    };
    const mechanisms = new Map<number, MechanismInfo>();
    for (const mechanism of lib.C_GetMechanismList(slot)) {
      mechanisms.set(mechanism, lib.C_GetMechanismInfo(slot, mechanism));
    }
    const session = lib.C_OpenSession(slot, CKF_RW_SESSION | CKF_SERIAL_SESSION);
    let fresh = true;
    try {
      try {
        // With a PIN pad the PIN goes to the device, not through the API (v2.40 §5.6 C_Login).
        if (options.pin === '') lib.C_Login(session, CKU_USER);
        else lib.C_Login(session, CKU_USER, options.pin);
      } catch (error) {
        if (ckrName(error) !== 'CKR_USER_ALREADY_LOGGED_IN') throw error;
        fresh = false;
      }
      const login = module.recordLogin(serial, options.pin, fresh);
      if (login === 'mismatch') {
        throw new CofferError(
          'ELOCKED',
          `PKCS#11: cannot log in to token '${label}': the PIN is incorrect (this process is already logged in with another PIN)`,
        );
      }
      return new Pkcs11Token(module, slot, session, info, mechanisms, login === 'ok');
    } catch (error) {
      try {
        lib.C_CloseSession(session);
      } catch {
        // The session may already be gone with the token; the login error is what matters.
      }
      throw fromPkcs11Error(error, { action: `log in to token '${label}'` });
    }
  }

  static #findSlot(
    module: Pkcs11Module,
    options: Pkcs11TokenOptions,
  ): { slot: Handle; token: ReturnType<Pkcs11Lib['C_GetTokenInfo']> } {
    const lib = module.lib;
    let slots: Handle[];
    try {
      slots = lib.C_GetSlotList(true);
    } catch (error) {
      throw fromPkcs11Error(error, { action: `list the slots of module ${module.path}` });
    }
    const matches: { slot: Handle; token: ReturnType<Pkcs11Lib['C_GetTokenInfo']> }[] = [];
    for (const slot of slots) {
      try {
        const token = lib.C_GetTokenInfo(slot);
        if (token.label.trimEnd() === options.tokenLabel.trimEnd()) matches.push({ slot, token });
      } catch {
        // A token pulled out between C_GetSlotList and C_GetTokenInfo is simply not a candidate.
      }
    }
    if (matches.length === 0) {
      throw new CofferError(
        'EUNAVAIL',
        `PKCS#11: no token labelled '${options.tokenLabel}' in module ${module.path}`,
      );
    }
    if (options.serial !== undefined) {
      const wanted = options.serial.trimEnd();
      const match = matches.find((m) => m.token.serialNumber.trimEnd() === wanted);
      if (match === undefined) {
        const seen = matches.map((m) => m.token.serialNumber.trimEnd()).join(', ');
        throw new CofferError(
          'EUNAVAIL',
          `PKCS#11: token '${options.tokenLabel}' has serial ${seen}, not ${wanted} as recorded; it is a different token`,
        );
      }
      return match;
    }
    const [only, second] = matches;
    if (only === undefined || second !== undefined) {
      throw new CofferError(
        'EINVAL',
        `PKCS#11: ${matches.length} tokens are labelled '${options.tokenLabel}'; relabel one`,
      );
    }
    return only;
  }

  /**
   * True only when the module reports a hardware slot and the token is not a known software
   * implementation: a conservative reading, since a claim of hardware custody must never be false.
   */
  get hardwareBacked(): boolean {
    return this.info.hardwareSlot && !this.info.knownSoftwareToken;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True when the token lists `mechanism` with every flag `uses` needs. */
  supports(mechanism: number, uses: MechanismUse[] = []): boolean {
    const info = this.#mechanisms.get(mechanism);
    if (info === undefined) return false;
    return uses.every((use) => (info.flags & MECHANISM_USE_FLAGS[use]) !== 0);
  }

  /** The token's CK_MECHANISM_INFO for `mechanism`, if it has it. */
  mechanismInfo(mechanism: number): Readonly<MechanismInfo> | undefined {
    return this.#mechanisms.get(mechanism);
  }

  /**
   * Throws EUNAVAIL naming every requirement the token cannot meet ("token 'x' lacks CKM_EDDSA",
   * "CKM_AES_KEY_WRAP_PAD cannot encrypt"), probing the list learned by C_GetMechanismList /
   * C_GetMechanismInfo at open.
   */
  requireMechanisms(requirements: readonly MechanismRequirement[]): void {
    const problems: string[] = [];
    for (const { mechanism, uses } of requirements) {
      const info = this.#mechanisms.get(mechanism);
      if (info === undefined) {
        problems.push(`lacks ${mechanismName(mechanism)}`);
        continue;
      }
      const missing = uses.filter((use) => (info.flags & MECHANISM_USE_FLAGS[use]) === 0);
      if (missing.length > 0) {
        problems.push(
          `has ${mechanismName(mechanism)} but not for ${missing.join(', ').replaceAll('_', ' ')}`,
        );
      }
    }
    if (problems.length > 0) {
      throw new CofferError('EUNAVAIL', `PKCS#11: token '${this.info.label}' ${problems.join('; ')}`);
    }
  }

  /**
   * Runs `fn` with the library and this token's session, after every earlier call on the module.
   * Errors become CofferErrors per `context`; after any PKCS#11 error the session is replaced, since a
   * failed C_Encrypt/C_Decrypt may leave its operation active (CKR_OPERATION_ACTIVE on the next one).
   */
  run<T>(context: CkrContext, fn: (lib: Pkcs11Lib, session: Handle) => T | Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new CofferError('EUNAVAIL', `PKCS#11: the session to token '${this.info.label}' is closed`),
      );
    }
    return this.#module.run(async () => {
      if (this.#closed) {
        throw new CofferError('EUNAVAIL', `PKCS#11: the session to token '${this.info.label}' is closed`);
      }
      try {
        return await fn(this.#module.lib, this.#session);
      } catch (error) {
        if (error instanceof CofferError) throw error;
        const name = ckrName(error);
        // SoftHSM2 and some vendors answer a failed GCM tag or RFC 5649 integrity check with
        // CKR_GENERAL_ERROR instead of CKR_ENCRYPTED_DATA_INVALID. When the session is still logged
        // in afterwards the token is healthy, so the failure was the data's: EBADMSG.
        const healthy =
          name === 'CKR_GENERAL_ERROR' && context.authenticates === true && this.#sessionHealthy();
        this.#replaceSession();
        if (healthy) {
          throw new CofferError(
            'EBADMSG',
            `PKCS#11: ${context.action} failed: ciphertext is not authentic under this token key (CKR_GENERAL_ERROR)`,
            { cause: error },
          );
        }
        throw fromPkcs11Error(error, context);
      }
    });
  }

  #sessionHealthy(): boolean {
    try {
      const state = this.#module.lib.C_GetSessionInfo(this.#session).state;
      return state === CKS_RW_USER_FUNCTIONS || state === CKS_RO_USER_FUNCTIONS;
    } catch {
      return false;
    }
  }

  /** Opens a new session before closing the old one, so the token's login state survives (§5.6). */
  #replaceSession(): void {
    const lib = this.#module.lib;
    try {
      const next = lib.C_OpenSession(this.#slot, CKF_RW_SESSION | CKF_SERIAL_SESSION);
      const previous = this.#session;
      this.#session = next;
      lib.C_CloseSession(previous);
    } catch {
      // The token is gone or out of sessions; the next call reports that as EUNAVAIL.
    }
  }

  /** Closes the session; the last user of the module C_Finalize's it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#module.run(() => {
      try {
        this.#module.lib.C_CloseSession(this.#session);
      } catch {
        // Already closed with the token; nothing left to release on the device.
      }
      if (this.#registered) this.#module.sessionClosed(this.info.serial);
    });
    await releaseModule(this.#module);
  }
}
