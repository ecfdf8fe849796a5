// What a keystore reports about itself to whoever embeds it (docs/metrics.md): the daemon implements
// this to count audit append failures without the core depending on a metrics library. Every method is
// optional and must not throw; the keystore calls it after the fact and never waits on it.
import type { CofferError } from '../errors.js';

export interface KeystoreObserver {
  /**
   * A change carrying audit entries was not written (the audit log is fail-closed: the change failed
   * with it), or a batch of per-operation audit entries could not be appended.
   */
  auditAppendFailed?(error: CofferError): void;
}
