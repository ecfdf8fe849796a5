// Long-lived secret keys held as OpenSSL key objects by the code that owns them (issue 14). Handing
// Node raw key bytes makes every cipher and HMAC import the key again: a KeyObject, a copy, and native
// state that lives until the next garbage collection. A keystore seals four to six records per key it
// creates under the same few subkeys (SPEC §3), so it holds those once while it is unlocked.
//
// Only an owner that never changes the bytes while they are held may hold them: the session's
// subkeys (core/master-key.ts), released before they are wiped at lock. Nothing else is looked up by
// identity, so a caller's own buffer, wiped or reused, is always imported afresh.
import { createSecretKey, type KeyObject } from 'node:crypto';

const held = new WeakMap<Uint8Array, KeyObject>();

/** Imports `key` once; until `releaseKey`, ciphers and HMACs under these same bytes use the import. */
export function holdKey(key: Uint8Array): void {
  held.set(key, createSecretKey(key));
}

/** Forgets the import of `key` (before its owner wipes it). Its copy is freed with the KeyObject. */
export function releaseKey(key: Uint8Array): void {
  held.delete(key);
}

/** What to hand OpenSSL for `key`: the held import, or the bytes themselves. */
export function keyInput(key: Uint8Array): Uint8Array | KeyObject {
  return held.get(key) ?? key;
}
