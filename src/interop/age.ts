// age with keystore keys (SPEC §14.12, §14.15.4): an x-wing key's age recipient (`age1pq1…`), and
// decryption of age files to it, the file key unwrapped by the keystore's `decapsulate` so the seed
// never leaves it. Encryption needs only the recipient string (format/age.ts).
import type { KeyOperations } from '../core/surface.js';
import { CofferError } from '../errors.js';
import { ageDecrypt, encodeAgeRecipient, xwingIdentity } from '../format/age.js';

async function xwingKey(ops: KeyOperations, id: string) {
  const info = await ops.getKey(id);
  if (info.algorithm !== 'x-wing')
    throw new CofferError('EPERM', `key ${id} is ${info.algorithm}: age needs an x-wing key`);
  return info;
}

/** The age recipient (`age1pq1…`) of the key's primary version. */
export async function ageRecipientOfKey(ops: KeyOperations, id: string): Promise<string> {
  await xwingKey(ops, id);
  return encodeAgeRecipient((await ops.publicKey(id, 'raw')) as Uint8Array);
}

/** Decrypts an age file (binary or armoured) with the key; every version that may still decrypt is tried. */
export async function ageDecryptWithKey(
  ops: KeyOperations,
  id: string,
  file: Uint8Array | string,
): Promise<Uint8Array> {
  const info = await xwingKey(ops, id);
  const versions = info.versions
    .filter((v) => v.state === 'active' || v.state === 'deactivated')
    .map((v) => v.version)
    .sort((a, b) => b - a);
  const identities = versions.map((version) => xwingIdentity((enc) => ops.decapsulate(id, enc, { version })));
  if (identities.length === 0) throw new CofferError('ESTATE', `key ${id} has no version that decrypts`);
  return ageDecrypt(file, identities);
}
