// Long-lived secret keys held as OpenSSL key objects by the code that owns them (issue 14). Handing
// Node raw key bytes makes every cipher and HMAC import the key again: a KeyObject, a copy, and native
// state that lives until the next garbage collection. A keystore seals four to six records per key it
// creates under the same few subkeys (SPEC §3), so it holds those once while it is unlocked.
//
// Only an owner that never changes the bytes while they are held may hold them: the session's
// subkeys (core/master-key.ts), released before they are wiped at lock. Nothing else is looked up by
// identity, so a caller's own buffer, wiped or reused, is always imported afresh.
//
// Bytes that are not held still go to OpenSSL as a key object on a Node whose key objects keep their
// state in private slots (Node 24): there every cipher, HMAC or HKDF given plain bytes first asks
// "is this a KeyObject? a CryptoKey?" by catching an exception from each brand check, which costs more
// than the AES-GCM of a 1 KiB payload (createCipheriv 18–24 µs with bytes, 7–9 µs importing them
// first; HMAC 18–22 µs against 4–6 µs). On Node 20, whose key objects carry symbol-keyed state, the
// check is a property read and an import would only add ~2 µs, so bytes go as they are.
import { createSecretKey, type KeyObject } from 'node:crypto';

const held = new WeakMap<Uint8Array, KeyObject>();

/** Whether plain key bytes cost Node two thrown exceptions (key objects without own symbols). */
export const IMPORT_BYTES_FIRST =
  Object.getOwnPropertySymbols(createSecretKey(new Uint8Array(16))).length === 0;

/** Imports `key` once; until `releaseKey`, ciphers and HMACs under these same bytes use the import. */
export function holdKey(key: Uint8Array): void {
  held.set(key, createSecretKey(key));
}

/** Forgets the import of `key` (before its owner wipes it). Its copy is freed with the KeyObject. */
export function releaseKey(key: Uint8Array): void {
  held.delete(key);
}

/**
 * Runs a node:crypto key import (createPrivateKey, createPublicKey) with V8's stack capture off where
 * plain inputs cost thrown exceptions (IMPORT_BYTES_FIRST): an import's input is never a KeyObject, so
 * both brand checks throw, and capturing those two stacks is a quarter of an Ed25519 import there
 * (60 µs against 46 µs). `run` is synchronous and the limit is restored in `finally`, so no other code
 * runs under it; an import that fails throws an error without a stack, which the keystore reports
 * through its own CofferError anyway.
 */
export function importQuietly<T>(run: () => T): T {
  if (!IMPORT_BYTES_FIRST) return run();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return run();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * What to hand OpenSSL for `key`: the held import, else a fresh import where bytes are the slow path
 * (IMPORT_BYTES_FIRST), else the bytes themselves. Either import copies the bytes into memory freed
 * with the object, as Node's own import of plain bytes does.
 */
export function keyInput(key: Uint8Array): Uint8Array | KeyObject {
  return held.get(key) ?? (IMPORT_BYTES_FIRST && key.length > 0 ? createSecretKey(key) : key);
}
