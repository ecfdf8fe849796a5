// The error a rollback raises (SPEC §4.1, §4.2): EBADMSG like every other authentication failure, as a
// CofferError subclass whose message says "rolled back" and names what was rolled back, with the same
// facts on a `rollback` property for callers that act on them (the daemon, the CLI, tests).
import { CofferError } from '../errors.js';

/**
 * - `record`: one record (or a tree node) is not what the store's record tree commits to: an older
 *   value written back, a deleted record resurrected, a committed record deleted, or damaged bytes;
 * - `store`: the whole store is older than what this process (or its root) has already seen;
 * - `anchor`: the store and its rollback anchor disagree (store older than the anchor, anchor behind,
 *   an interrupted enrolment).
 */
export type RollbackKind = 'record' | 'store' | 'anchor';

export interface RollbackDetail {
  kind: RollbackKind;
  /** The record key, for kind 'record'. */
  record?: string;
  /** The anchor's name, for kind 'anchor'. */
  anchor?: string;
}

export class RollbackError extends CofferError {
  readonly rollback: Readonly<RollbackDetail>;

  constructor(detail: RollbackDetail, message: string) {
    super('EBADMSG', message);
    this.rollback = Object.freeze({ ...detail });
  }
}

/** A record the tree does not vouch for, with the record named in the message. */
export function staleRecord(key: string, what: 'changed' | 'deleted' | 'resurrected'): RollbackError {
  const how =
    what === 'deleted'
      ? 'was deleted from the store although the record tree still holds it'
      : what === 'resurrected'
        ? 'is in the store although the record tree says it was deleted'
        : 'is not the value the record tree commits to';
  return new RollbackError(
    { kind: 'record', record: key },
    `record ${key} was rolled back or tampered with: it ${how} (stale, replayed or damaged; SPEC §4.1)`,
  );
}

export function isRollback(error: unknown): error is RollbackError {
  return error instanceof RollbackError;
}
