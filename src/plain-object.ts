// The one test for "a plain JSON object" used by every parser of untrusted configuration and state
// (protector configs, KDF parameters): an object literal or a null-prototype object, never an array,
// a class instance or null, so a value with getters or an odd prototype cannot pass as a config.
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
