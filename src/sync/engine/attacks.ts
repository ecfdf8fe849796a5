// The attacks a lying sync server can try that a device detects (SPEC §17.10.4), each with its own
// name so that `status()` and the error say which one: the error is a CofferError EBADMSG whose
// message starts `sync server attack (<name>)`, and nothing the attack carried is installed.
import { CofferError } from '../../errors.js';

export type SyncAttackName =
  /** A record older than one already seen for its uuid served again as new (change log). */
  | 'replayed-record'
  /** An item served at a gencount below one this or another device saw (rollback). */
  | 'rolled-back-gencount'
  /** Two different records with the same uuid and gencount. */
  | 'forked-record'
  /** The change log out of order: positions not strictly increasing or before the one asked for. */
  | 'reordered-records'
  /** A record that fails authentication: moved to another uuid, another account, or altered. */
  | 'swapped-record'
  /** An item a device saw or wrote that the server no longer serves. */
  | 'dropped-record'
  /** A device manifest whose generation went back, or two manifests with one generation. */
  | 'older-manifest'
  /** A device manifest not signed by a member of the circle (or for another account). */
  | 'forged-manifest'
  /** The server showed two devices different sets at the same change-log position. */
  | 'forked-server'
  /** The change log is behind a position a device already read. */
  | 'rolled-back-log';

export const ATTACK_PREFIX = 'sync server attack';

export class SyncAttackError extends CofferError {
  readonly attack: SyncAttackName;

  constructor(attack: SyncAttackName, detail: string, options?: { cause?: unknown }) {
    super('EBADMSG', `${ATTACK_PREFIX} (${attack}): ${detail}`, options);
    this.attack = attack;
  }
}

export function attack(name: SyncAttackName, detail: string, cause?: unknown): SyncAttackError {
  return new SyncAttackError(name, detail, cause === undefined ? undefined : { cause });
}
