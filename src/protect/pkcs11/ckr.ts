// Maps PKCS#11 return values (CKR_*) to Coffer error codes (docs/errors.md, SPEC "PKCS#11 error mapping").
// The mapping depends on what was being done: CKR_ENCRYPTED_DATA_INVALID during a decrypt is a forged
// or damaged ciphertext (EBADMSG), while a vanished object handle means the token key is gone
// (EUNAVAIL, naming the key so an operator knows what to restore). Messages carry CKR names, labels
// and paths only — never a PIN or key bytes.
import { CofferError, type ErrorCode } from '../../errors.js';

/** What the failing call was doing, so one CKR value can mean different things. */
export interface CkrContext {
  /** Short verb phrase for the message: "log in to token 'coffer'", "decrypt". */
  action: string;
  /** The call authenticates data (C_Decrypt under GCM, C_UnwrapKey under RFC 5649). */
  authenticates?: boolean;
  /** Names the key object the call used, for "key gone" messages. */
  keyName?: string;
}

/** The CKR name of a pkcs11js error ("CKR_PIN_INCORRECT"), or undefined for any other throwable. */
export function ckrName(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const match = /\b(CKR_[A-Z0-9_]+)\b/.exec(error.message);
  return match?.[1];
}

const PIN_ERRORS: Readonly<Record<string, string>> = {
  CKR_PIN_INCORRECT: 'the PIN is incorrect',
  CKR_PIN_INVALID: 'the PIN is incorrect',
  CKR_PIN_LEN_RANGE: 'the PIN is incorrect (its length is outside what the token accepts)',
  CKR_PIN_LOCKED: 'the user PIN is locked; the security officer must reset it',
  CKR_PIN_EXPIRED: 'the user PIN has expired; change it with the token tools',
  CKR_USER_PIN_NOT_INITIALIZED: 'the token has no user PIN; initialise it with the token tools',
  CKR_USER_NOT_LOGGED_IN: 'the session is no longer logged in',
};

/**
 * Errors meaning the token, its slot or the session went away, or the token cannot do what was asked
 * (documentation: codeForCkr's default is EUNAVAIL, this list is what the SPEC table names).
 */
export const UNAVAILABLE_CKR: ReadonlySet<string> = new Set([
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_DEVICE_REMOVED',
  'CKR_DEVICE_ERROR',
  'CKR_DEVICE_MEMORY',
  'CKR_SLOT_ID_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_COUNT',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
  'CKR_TOKEN_WRITE_PROTECTED',
  'CKR_HOST_MEMORY',
  'CKR_FUNCTION_FAILED',
  'CKR_GENERAL_ERROR',
  'CKR_FUNCTION_NOT_SUPPORTED',
  'CKR_MECHANISM_INVALID',
  'CKR_MECHANISM_PARAM_INVALID',
  'CKR_KEY_TYPE_INCONSISTENT',
  'CKR_KEY_FUNCTION_NOT_PERMITTED',
  'CKR_TEMPLATE_INCONSISTENT',
  'CKR_TEMPLATE_INCOMPLETE',
  'CKR_ATTRIBUTE_VALUE_INVALID',
  'CKR_ATTRIBUTE_TYPE_INVALID',
  'CKR_DOMAIN_PARAMS_INVALID',
  'CKR_CURVE_NOT_SUPPORTED',
]);

/** Errors from an authenticating call that mean "this ciphertext does not verify". */
const FORGERY = new Set([
  'CKR_ENCRYPTED_DATA_INVALID',
  'CKR_ENCRYPTED_DATA_LEN_RANGE',
  'CKR_WRAPPED_KEY_INVALID',
  'CKR_WRAPPED_KEY_LEN_RANGE',
  'CKR_DATA_INVALID',
  'CKR_DATA_LEN_RANGE',
  'CKR_AEAD_DECRYPT_FAILED',
  'CKR_SIGNATURE_INVALID',
]);

const KEY_GONE = new Set([
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_WRAPPING_KEY_HANDLE_INVALID',
  'CKR_UNWRAPPING_KEY_HANDLE_INVALID',
]);

/** Picks the Coffer code for a CKR name in a context; exported for the table test. */
export function codeForCkr(name: string, context: CkrContext): ErrorCode {
  if (Object.hasOwn(PIN_ERRORS, name)) return 'ELOCKED';
  if (KEY_GONE.has(name)) return 'EUNAVAIL';
  if (FORGERY.has(name)) {
    if (context.authenticates) return 'EBADMSG';
    return name === 'CKR_DATA_LEN_RANGE' ? 'E2BIG' : 'EINVAL';
  }
  if (name === 'CKR_ARGUMENTS_BAD' || name === 'CKR_BUFFER_TOO_SMALL') return 'EINTERNAL';
  // Anything else (UNAVAILABLE or a value this table does not know) is the token failing us.
  return 'EUNAVAIL';
}

/**
 * Converts anything a pkcs11js call threw into a CofferError. CofferErrors pass through; pkcs11js
 * errors become the code from codeForCkr with a message naming the action, the key and the CKR value.
 */
export function fromPkcs11Error(error: unknown, context: CkrContext): CofferError {
  if (error instanceof CofferError) return error;
  const name = ckrName(error);
  if (name === undefined) {
    const detail = error instanceof Error ? error.message : String(error);
    return new CofferError('EUNAVAIL', `PKCS#11: cannot ${context.action}: ${detail}`, { cause: error });
  }
  const code = codeForCkr(name, context);
  const pinText = PIN_ERRORS[name];
  let message: string;
  if (pinText !== undefined) message = `PKCS#11: cannot ${context.action}: ${pinText} (${name})`;
  else if (KEY_GONE.has(name) && context.keyName !== undefined)
    message = `PKCS#11: cannot ${context.action}: token key ${context.keyName} is gone from the token (${name})`;
  else if (code === 'EBADMSG')
    message = `PKCS#11: ${context.action} failed: ciphertext is not authentic under this token key (${name})`;
  else message = `PKCS#11: cannot ${context.action} (${name})`;
  return new CofferError(code, message, { cause: error });
}
