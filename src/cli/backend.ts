// The one surface CLI commands call (DESIGN §1: commands are thin — parse, call one method, format).
// Two implementations: direct.ts opens the store in this process, remote.ts talks to a daemon through
// coffer/client; both throw CofferError with the same codes, so exit codes do not depend on the mode.
import type { AuditEntry, AuditReport } from '../core/audit.js';
import type { ProtectorInfo } from '../core/keyslots.js';
import type { PublicKeyFormat } from '../core/public-key.js';
import type { CreateKeySpec, KeyInfo } from '../core/types.js';

export type SignatureEncoding = 'raw' | 'der';

export interface TokenSpec {
  name?: string;
  apps: string[];
  ops: string[];
  admin?: boolean;
}

export interface TokenInfo {
  id: string;
  name?: string;
  apps: string[];
  ops: string[];
  admin: boolean;
  createdAt: number;
  lastUsedAt?: number;
}

export interface Backend {
  readonly mode: 'direct' | 'daemon';
  /** Creates keys; `progress` is told how many finished after each step (bulk creation). */
  createKeys(specs: CreateKeySpec[], progress?: (done: number) => void): Promise<KeyInfo[]>;
  listKeys(filter: { app?: string; purpose?: string }): Promise<KeyInfo[]>;
  getKey(id: string): Promise<KeyInfo>;
  publicKey(
    id: string,
    format: PublicKeyFormat,
    options: { version?: number },
  ): Promise<Uint8Array | string | object>;
  rotate(id: string, options: { reason?: string }): Promise<KeyInfo>;
  /** Rotate now and mark the old version compromised, with an incident record. */
  emergencyRotate(id: string, incident: { id?: string; description: string }): Promise<KeyInfo>;
  suspend(id: string, options: { reason?: string }): Promise<KeyInfo>;
  resume(id: string): Promise<KeyInfo>;
  revoke(id: string, reason: string, options: { version?: number }): Promise<KeyInfo>;
  destroy(id: string, options: { version?: number; reason?: string }): Promise<KeyInfo>;
  sign(
    id: string,
    data: Uint8Array,
    options: { encoding?: SignatureEncoding },
  ): Promise<{ signature: Uint8Array; version: number }>;
  verify(
    id: string,
    data: Uint8Array,
    signature: Uint8Array,
    options: { version?: number; encoding?: SignatureEncoding },
  ): Promise<boolean>;
  seal(id: string, plaintext: Uint8Array, options: { aad?: Uint8Array }): Promise<Uint8Array>;
  unseal(id: string, sealed: Uint8Array, options: { aad?: Uint8Array }): Promise<Uint8Array>;
  createToken(spec: TokenSpec): Promise<{ id: string; token: string }>;
  listTokens(): Promise<TokenInfo[]>;
  revokeToken(id: string): Promise<void>;
  auditTail(count: number): Promise<AuditEntry[]>;
  auditVerify(): Promise<AuditReport>;
  listProtectors(): Promise<ProtectorInfo[]>;
  close(): Promise<void>;
}
