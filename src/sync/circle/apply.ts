// Applying a verified circle to this device (SPEC §17.9): opening the envelopes addressed to it in
// the links it has not processed yet, checking they cover the class keys the circle names for it,
// and installing them into the keychain with the current epoch's key made current — all or nothing.
import { wipe } from '../../crypto/bytes.js';
import { CofferError } from '../../errors.js';
import type { KeychainHost } from '../../keychain/host.js';
import { installClassKeys } from '../../keychain/shared-class-keys.js';
import { type CircleState, currentClassKeyId, type Link } from './document.js';
import { openEnvelope, type SharedClassKey } from './envelope.js';
import type { CircleActor } from './signer.js';

/** Opens every envelope to `actor` in `links` (verified already), newest key for an id winning. */
export async function openEnvelopesFor(
  links: readonly Link[],
  actor: CircleActor,
): Promise<Map<string, SharedClassKey>> {
  const keys = new Map<string, SharedClassKey>();
  for (const link of links)
    for (const envelope of link.body.envelopes) {
      if (envelope.to !== actor.identity.deviceId) continue;
      const ctx = { accountId: link.body.accountId, epoch: link.body.epoch, version: link.body.version };
      for (const key of await openEnvelope(ctx, envelope, actor)) {
        if (
          !(link.body.change.op === 'remove' ? key.epoch === link.body.epoch : key.epoch <= link.body.epoch)
        )
          throw new CofferError(
            'EBADMSG',
            `circle version ${link.body.version} sends a class key of another epoch`,
          );
        keys.set(key.id, key);
      }
    }
  return keys;
}

/**
 * Installs the opened keys (which must include every id in `required` and nothing the circle does
 * not name) and makes the circle's current class key the keychain's.
 */
export async function installShared(
  host: KeychainHost,
  state: CircleState,
  keys: Map<string, SharedClassKey>,
  required: readonly string[],
): Promise<string[]> {
  try {
    const named = new Set(Object.values(state.classKeys).flat());
    for (const id of keys.keys())
      if (!named.has(id))
        throw new CofferError('EBADMSG', `an envelope holds class key ${id}, which the circle does not name`);
    for (const id of required)
      if (!keys.has(id)) throw new CofferError('EBADMSG', `no envelope gives this device class key ${id}`);
    const { installed } = await installClassKeys(
      host,
      [...keys.values()].map(({ id, key }) => ({ id, key })),
      currentClassKeyId(state),
    );
    return installed;
  } finally {
    for (const key of keys.values()) wipe(key.key);
  }
}
