// The keystore's operations surface (docs/cli.md "One surface, three transports"): the methods a
// caller uses on keys — lifecycle, sign/verify, seal/unseal, MACs, KEM, audit, keyslots — declared
// once. `Keystore` implements it in this process; `CofferClient` (coffer/client) implements it over the
// daemon's HTTP API, so code written against it (the CLI) runs unchanged in either place. Types only:
// the client imports this file without loading any of core's runtime code.
//
// Features built above core (hd/, backup/, rotation/, the daemon's tokens) extend this surface with
// namespaces in `CofferOperations` (client/surface.ts), the lowest layer that sees all of them.

import type { KeyInput } from '../format/key-import.js';
import type { AuditEntry, AuditReport } from './audit.js';
import type { SignDigestOptions } from './digest-sign.js';
import type { ImportKeySpec, TrustAnchorSpec } from './imported.js';
import type { ProtectorInfo } from './keyslots.js';
import type { PublicKeyFormat } from './public-key.js';
import type { CreateKeySpec, KeyInfo, KeyState } from './types.js';

export type SignatureEncoding = 'raw' | 'der';
export type Aad = Uint8Array | string;

export interface KeyFilter {
  app?: string;
  purpose?: string;
}

/** One page of a key listing (SPEC §4.6). */
export interface KeyPageRequest extends KeyFilter {
  /** Keys per page, 1…1000 (default 100). */
  limit?: number;
  /** The cursor of the previous page; absent for the first. */
  cursor?: string;
}

export interface KeyPage {
  keys: KeyInfo[];
  /** Present while more keys may follow: pass it back to get them. Opaque; valid while the keystore's keys are. */
  cursor?: string;
}

/** One page of the audit log (SPEC §8.1): entries in seq order, filtered, checked against the chain. */
export interface AuditPageRequest {
  /** Entries per page, 1…1000 (default 100). */
  limit?: number;
  /** The cursor of the previous page (same order and filters); absent for the first. */
  cursor?: string;
  /** 'asc' (oldest first, the default) or 'desc' (newest first). */
  order?: 'asc' | 'desc';
  /** Only entries with `at` ≥ since (ms since the epoch). */
  since?: number;
  /** Only entries with `at` < until (ms since the epoch). */
  until?: number;
  /** Only entries about this key. */
  keyId?: string;
  /** Only this event (`key.create`), or every event under a prefix ending in a dot (`key.`). */
  event?: string;
  /** Only entries written by this actor. */
  actor?: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  /**
   * Present while more entries may follow (a filtered page may hold fewer than `limit`, even none,
   * and still carry one): pass it back to continue. Opaque; valid for the same order and filters.
   */
  cursor?: string;
}

/** An incident recorded by an emergency rotation. */
export interface Incident {
  id?: string;
  description: string;
}

/**
 * The outcome of `checkSignature`: verification as a public operation (SPEC §2 "Public
 * verification"). It answers for compromised and destroyed versions too and says so in the states,
 * so the caller decides what a signature under a leaked key is worth.
 */
export interface SignatureCheck {
  valid: boolean;
  /** The version whose public key verified the signature (only when valid). */
  version?: number;
  /** How the signature was read: given by the caller, or recognised (ECDSA: 64 bytes raw, else DER). */
  encoding: SignatureEncoding;
  /** The key's state now. */
  keyState: KeyState;
  /** The state of the verifying version now (only when valid). */
  versionState?: KeyState;
}

/** Daemon bearer tokens (SPEC §10.3): what a new token may do. */
export interface TokenSpec {
  name?: string;
  apps: string[];
  ops: string[];
  admin?: boolean;
}

/** A token as listed: never the token itself, which is shown once at creation. */
export interface TokenInfo {
  id: string;
  name?: string;
  apps: string[];
  ops: string[];
  admin: boolean;
  createdAt: number;
  lastUsedAt?: number;
}

export interface TokenOperations {
  /** Creates a token and returns it this once; only its hash is stored. */
  create(spec: TokenSpec): Promise<{ id: string; token: string }>;
  list(): Promise<TokenInfo[]>;
  revoke(id: string): Promise<void>;
}

export interface KeyOperations {
  // ---- keys and their lifecycle (SPEC §2) ----
  createKey(spec: CreateKeySpec): Promise<KeyInfo>;
  /** Creates the keys in one durable batch (at most MAX_CREATE_BATCH = 2000). */
  createKeys(specs: CreateKeySpec[]): Promise<KeyInfo[]>;
  listKeys(filter?: KeyFilter): Promise<KeyInfo[]>;
  /** At most `limit` keys after `cursor`, in (app, purpose, id) order, and the cursor for the next page. */
  listKeysPage(request?: KeyPageRequest): Promise<KeyPage>;
  getKey(id: string): Promise<KeyInfo>;
  publicKey(
    id: string,
    format?: PublicKeyFormat,
    options?: { version?: number },
  ): Promise<Uint8Array | string | object>;
  /** Makes a pre-active key active. */
  activate(id: string): Promise<KeyInfo>;
  rotate(id: string, options?: { reason?: string }): Promise<KeyInfo>;
  suspend(id: string, options?: { reason?: string }): Promise<KeyInfo>;
  resume(id: string): Promise<KeyInfo>;
  revoke(id: string, reason: string, options?: { version?: number }): Promise<KeyInfo>;
  destroy(id: string, options?: { version?: number; reason?: string }): Promise<KeyInfo>;

  // ---- operations (SPEC §6, §7) ----
  sign(
    id: string,
    data: Uint8Array,
    options?: { encoding?: SignatureEncoding; context?: Uint8Array },
  ): Promise<{ signature: Uint8Array; version: number }>;
  /** True for a valid signature; EKEYREVOKED for a compromised or destroyed key (SPEC §2). */
  verify(
    id: string,
    data: Uint8Array,
    signature: Uint8Array,
    options?: { version?: number; encoding?: SignatureEncoding; context?: Uint8Array },
  ): Promise<boolean>;
  /** Verification as a public operation: answers for compromised keys too, with their state. */
  checkSignature(
    id: string,
    data: Uint8Array,
    signature: Uint8Array,
    options?: { version?: number; encoding?: SignatureEncoding; context?: Uint8Array },
  ): Promise<SignatureCheck>;
  seal(id: string, plaintext: Uint8Array, options?: { aad?: Aad }): Promise<Uint8Array>;
  unseal(id: string, sealed: Uint8Array, options?: { aad?: Aad }): Promise<Uint8Array>;
  rewrap(id: string, sealed: Uint8Array, options?: { aad?: Aad }): Promise<Uint8Array>;
  generateDataKey(
    id: string,
    options?: { aad?: Aad; includePlaintext?: boolean },
  ): Promise<{ wrapped: Uint8Array; plaintext?: Uint8Array; version: number }>;
  encapsulate(id: string): Promise<{ ciphertext: Uint8Array; sharedSecret: Uint8Array; version: number }>;
  decapsulate(id: string, ciphertext: Uint8Array, options?: { version?: number }): Promise<Uint8Array>;
  mac(id: string, data: Uint8Array): Promise<{ mac: Uint8Array; version: number }>;
  verifyMac(id: string, data: Uint8Array, mac: Uint8Array, options?: { version?: number }): Promise<boolean>;

  // ---- audit log and keyslots ----
  auditTail(count?: number): Promise<AuditEntry[]>;
  /** One page of the audit log, each entry checked against the hash chain (SPEC §8.1). */
  auditPage(request?: AuditPageRequest): Promise<AuditPage>;
  verifyAudit(): Promise<AuditReport>;
  listProtectors(): Promise<ProtectorInfo[]>;

  // ---- standard formats (SPEC §14; docs/formats.md) ----
  /**
   * Imports a private key (PKCS#8, encrypted PKCS#8, SEC 1, OpenSSH, JWK) as a non-exportable key
   * with `origin: 'imported'`. Through the daemon it travels encrypted to the daemon's import key
   * (SPEC §14.15); a passphrase never leaves the caller.
   */
  importKey(spec: ImportKeySpec, key: KeyInput, options?: { passphrase?: string }): Promise<KeyInfo>;
  /** Holds a public key as a verify-only trust anchor (`origin: 'trust-anchor'`). */
  addTrustAnchor(spec: TrustAnchorSpec, key: KeyInput): Promise<KeyInfo>;
  /** Signs a digest (sha256/384/512, keccak256) with an ECDSA key; `recoverable` for secp256k1. */
  signDigest(
    id: string,
    digest: Uint8Array,
    options: SignDigestOptions,
  ): Promise<{ signature: Uint8Array; version: number }>;
}
