// The client's side of key import (SPEC §14.15.3), loaded only when a key is imported: the key file is
// parsed (and decrypted with its passphrase) here, re-encoded as PKCS#8 and wrapped to the daemon's
// import key, so neither the key nor its passphrase crosses the connection in clear.
import { wipe } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import { importKeyFingerprint, wrapKeyForImport } from '../format/import-wrap.js';
import { encodeKemPrivateKeyDer } from '../format/kem-keys.js';
import { type KeyInput, parsePrivateKey } from '../format/key-import.js';
import { privateKeyToPkcs8 } from '../format/private-key.js';

/** The wrap of `key` for `destination`, to the import key the daemon published. */
export function wrapForDaemon(
  published: { algorithm: string; fingerprint: string; publicKey: Uint8Array },
  destination: { app: string; purpose: string },
  key: KeyInput,
  passphrase: string | undefined,
): Uint8Array {
  if (published.algorithm !== 'x-wing')
    throw new CofferError('EINVAL', `the daemon's import key is ${published.algorithm}, not x-wing`);
  const fingerprint = Buffer.from(importKeyFingerprint(published.publicKey)).toString('hex');
  if (fingerprint !== published.fingerprint)
    throw new CofferError('EBADMSG', "the daemon's import key does not match its fingerprint");
  const parsed = parsePrivateKey(key, passphrase === undefined ? {} : { passphrase });
  let pkcs8: Uint8Array | undefined;
  try {
    if (parsed.alg === 'ml-kem-768')
      throw new CofferError('EINVAL', 'ml-kem-768 keys are not keystore keys: import an x-wing key');
    pkcs8 =
      parsed.alg === 'x-wing'
        ? encodeKemPrivateKeyDer('x-wing', parsed.secretKey)
        : privateKeyToPkcs8(parsed.alg, parsed.secretKey);
    return wrapKeyForImport(published.publicKey, destination, pkcs8);
  } finally {
    wipe(parsed.secretKey, pkcs8);
  }
}
