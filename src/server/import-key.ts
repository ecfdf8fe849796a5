// The daemon's import key (SPEC §14.15.3): an X-Wing key pair made in memory on first use and never
// stored, to which clients wrap private keys for `importKey`. A restart makes a new one, so a wrap
// captured on its way is useless after the daemon that could open it is gone.
import * as kem from '../crypto/kem.js';
import { importKeyFingerprint, unwrapImportedKey } from '../format/import-wrap.js';
import type { Daemon } from './daemon.js';

interface ImportKey {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  fingerprint: Uint8Array;
}

const keys = new WeakMap<Daemon, ImportKey>();

function importKeyOf(daemon: Daemon): ImportKey {
  let key = keys.get(daemon);
  if (key === undefined) {
    const pair = kem.keygen('x-wing');
    key = { ...pair, fingerprint: importKeyFingerprint(pair.publicKey) };
    keys.set(daemon, key);
  }
  return key;
}

/** What `GET /v1/import-key` publishes. */
export function publishedImportKey(daemon: Daemon): {
  algorithm: 'x-wing';
  fingerprint: string;
  publicKey: Uint8Array;
} {
  const key = importKeyOf(daemon);
  return {
    algorithm: 'x-wing',
    fingerprint: Buffer.from(key.fingerprint).toString('hex'),
    publicKey: key.publicKey,
  };
}

/** Opens a wrap made to this daemon's import key for `destination`: the key's PKCS#8 DER. */
export function openImportWrap(
  daemon: Daemon,
  destination: { app: string; purpose: string },
  wrapped: Uint8Array,
): Promise<Uint8Array> {
  const key = importKeyOf(daemon);
  return unwrapImportedKey(
    (enc) => kem.decapsulate('x-wing', key.secretKey, enc),
    key.fingerprint,
    destination,
    wrapped,
  );
}
