// `ks.unseal` and `ks.rewrap`: one entry for everything `seal` and `sealStream` produce. A one-shot blob (SPEC §6)
// opens in operations.ts; a sealed stream (SPEC §6.2.4) opens all or nothing through stream-seal.ts
// when its plaintext fits the one-shot bound. Kept apart so neither of those modules imports the other
// back.
import { assertBytes, wipe } from '../crypto/bytes.js';
import { isSealedStream } from '../format/sealed-stream.js';
import { seal, unsealBlob } from './operations.js';
import type { Session } from './session.js';
import { unsealStreamInMemory } from './stream-seal.js';

export async function unseal(
  s: Session,
  id: string,
  sealed: unknown,
  options: { aad?: Uint8Array | string } = {},
): Promise<Uint8Array> {
  if (sealed instanceof Uint8Array && isSealedStream(sealed))
    return unsealStreamInMemory(s, id, sealed, options);
  assertBytes('sealed', sealed);
  return unsealBlob(s, id, sealed, options);
}

/** Opens `sealed` (a blob or a stream within the one-shot bound) and seals it again under the primary. */
export async function rewrap(
  s: Session,
  id: string,
  sealed: unknown,
  options: { aad?: Uint8Array | string } = {},
): Promise<Uint8Array> {
  const plaintext = await unseal(s, id, sealed, options);
  try {
    return await seal(s, id, plaintext, options);
  } finally {
    wipe(plaintext);
  }
}
