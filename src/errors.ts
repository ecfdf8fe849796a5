// The one error type of Coffer (docs/errors.md). Library, daemon, client and CLI all throw and map
// CofferError, so a code means the same thing everywhere: HTTP status and CLI exit code come from
// this table and nowhere else. Messages must never carry secret material.

export const ERROR_CODES = {
  EINVAL: { http: 400, exit: 2, meaning: 'malformed or out-of-bounds input' },
  E2BIG: { http: 413, exit: 2, meaning: 'input over a size bound' },
  EPERM: { http: 403, exit: 3, meaning: 'caller not allowed (app scope, key use, policy)' },
  ENOENT: { http: 404, exit: 4, meaning: 'no such key / item / version' },
  EALREADY: { http: 409, exit: 5, meaning: 'already exists / already in that state' },
  ECONFLICT: { http: 409, exit: 5, meaning: 'concurrent modification (compare-and-swap lost)' },
  EKEYREVOKED: { http: 410, exit: 6, meaning: 'key (version) compromised or destroyed' },
  EKEYEXPIRED: { http: 410, exit: 6, meaning: 'version past its grace period / min version' },
  ESTATE: { http: 409, exit: 6, meaning: 'key state forbids the operation (suspended, pre-active)' },
  EBADMSG: { http: 400, exit: 7, meaning: 'authentication failed: tampered, wrong key, wrong AAD' },
  ELOCKED: { http: 423, exit: 8, meaning: 'keystore locked, or unlock locked out' },
  ERATE: { http: 429, exit: 9, meaning: 'rate limited' },
  EUNAVAIL: { http: 503, exit: 10, meaning: 'protector or storage backend unavailable' },
  EINTERNAL: { http: 500, exit: 1, meaning: 'a bug' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export class CofferError extends Error {
  override readonly name = 'CofferError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Throws CofferError(code, message) unless the condition holds. */
export function ensure(condition: unknown, code: ErrorCode, message: string): asserts condition {
  if (!condition) throw new CofferError(code, message);
}

/**
 * Wraps an unexpected throwable as EINTERNAL while keeping CofferErrors as they are, so callers at
 * an edge (daemon, CLI) always have a code to map.
 */
export function asCofferError(error: unknown): CofferError {
  if (error instanceof CofferError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CofferError('EINTERNAL', `unexpected error: ${message}`, { cause: error });
}
