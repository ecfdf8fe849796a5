// What the keychain needs from the open keystore (core/keystore.ts hands it one): storage, the
// keystore's RNG and clock, subkeys of the master key (SPEC §16.1), the record barrier, the one
// audited write path, and key metadata for items of kind `key`. Each call goes to the live session,
// so a locked keystore is ELOCKED here as everywhere, and no derived key outlives a call.

import type { KeyInfo } from '../core/types.js';
import type { Rng } from '../crypto/rng.js';
import type { Storage, WriteOp } from '../storage/types.js';

export interface AuditEventSpec {
  event: string;
  keyId?: string;
  details?: Record<string, unknown>;
}

export interface KeychainHost {
  readonly storage: Storage;
  readonly rng: Rng;
  readonly actor: string;
  now(): number;
  /** HKDF-SHA256(master key, salt = store id, info, 32): a fresh copy the caller wipes. */
  subkey(info: string): Uint8Array;
  sealRecord(key: string, value: unknown): Uint8Array;
  openRecord<T>(key: string, bytes: Uint8Array): T;
  /** Session.commit: ops and audit events in one batch; a lost compare-and-swap re-runs `build`. */
  commit<T>(build: () => Promise<{ ops: WriteOp[]; events: AuditEventSpec[]; result: T }>): Promise<T>;
  getKey(id: string): Promise<KeyInfo>;
}
