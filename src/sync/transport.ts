// What a device asks of a sync server (SPEC §17.8), as one interface so that the device side (the
// circle, SPEC §17.9, and the sync engine, §17.10) and the server (`SyncServer`, HTTP + WebSocket)
// are written against the same contract. `HttpSyncTransport` implements it over the network; the
// contract suite in `src/testing/sync-transport-suite.ts` runs against every implementation.
//
// The server is not trusted for confidentiality or integrity: everything it returns is checked by
// the caller (records by their AEADs and the signed device manifests, circle documents by their
// member signatures). It is trusted only to be available.
import type { RangeAnswer, RangeRequest } from './reconcile.js';
import type { WireRecord } from './wire-record.js';

/** A device's public signing identity: both signatures must verify (SPEC §17.9). */
export interface DevicePublicKeys {
  deviceId: string;
  /** Raw 32-byte Ed25519 public key, base64. */
  ed25519: string;
  /** Raw ML-DSA-65 public key (1952 bytes), base64. */
  mldsa65: string;
}

/** Signs as one device: the transport calls it to authenticate to the server. */
export interface DeviceSigner {
  readonly accountId: string;
  readonly deviceId: string;
  /** Ed25519 and ML-DSA-65 signatures of `message` by this device's non-exportable keys. */
  sign(message: Uint8Array): Promise<{ ed25519: Uint8Array; mldsa65: Uint8Array }>;
}

/** The signed member list as the server stores it: opaque `document`, plus the keys it authenticates. */
export interface CircleUpload {
  /** Strictly greater than the stored version (compare-and-swap, below). */
  version: number;
  /** The circle document (SPEC §17.9), base64; the server does not parse it. */
  document: string;
  /**
   * The devices the server must accept signatures from after this upload (current members and the
   * recovery identity). A device absent here is refused from then on, and its push sockets closed.
   */
  devices: readonly DevicePublicKeys[];
}

export interface StoredCircle {
  version: number;
  document: string;
}

export type CasOutcome<T> = { ok: true } | { ok: false; current: T };

/** One record write: accepted iff the server's gencount for the uuid is `ifGencount` (SPEC §17.2). */
export interface RecordPut {
  record: WireRecord;
  ifGencount: number;
}

export type RecordPutResult =
  | { uuid: string; ok: true; seq: number }
  | { uuid: string; ok: false; current: WireRecord };

/** The server's change log: every accepted write gets the account's next sequence number. */
export interface ChangesPage {
  records: { seq: number; record: WireRecord }[];
  /** Pass back as `sinceSeq` for the next page. */
  nextSeq: number;
  /** True when records after `nextSeq` exist (ask again). */
  more: boolean;
  /** The server's manifest digest (SPEC §17.5) of the whole account after this page's last write. */
  digest: string;
}

/** Pushed to a device's subscription: ids, gencounts and the acting device, never content. */
export interface PushEvent {
  uuid: string;
  gencount: number;
  seq: number;
  deviceId: string;
}

/** A joining device and its sponsor talk through a mailbox named by the invite (SPEC §17.9). */
export interface InviteMailbox {
  /** Hex of a hash of the invite secret: the server never learns the secret itself. */
  mailboxId: string;
  /** Milliseconds since the epoch after which the server deletes the mailbox and refuses it. */
  expiresAt: number;
}

export interface SyncTransport {
  // ── account and circle ───────────────────────────────────────────────────────────────────────
  /** Creates the account with its first circle (version 1). EALREADY if the account exists. */
  createAccount(accountId: string, circle: CircleUpload): Promise<void>;
  getCircle(): Promise<StoredCircle>;
  /** Compare-and-swap on the stored version; on a lost race, the server's current circle. */
  putCircle(ifVersion: number, circle: CircleUpload): Promise<CasOutcome<StoredCircle>>;

  // ── invites (the joining device has no identity on the server yet) ─────────────────────────
  /** Sponsor: opens a one-time mailbox. */
  openInvite(mailbox: InviteMailbox): Promise<void>;
  /** Joiner, unauthenticated: posts its request once; a second post is EALREADY, an expired or closed mailbox ENOENT. */
  postJoinRequest(mailboxId: string, request: Uint8Array): Promise<void>;
  /** Sponsor: the request, or undefined while none has arrived. */
  takeJoinRequest(mailboxId: string): Promise<Uint8Array | undefined>;
  /** Sponsor: the approval (envelopes and circle); closes the mailbox to further requests. */
  postJoinReply(mailboxId: string, reply: Uint8Array): Promise<void>;
  /** Joiner, unauthenticated: the reply once posted, then the mailbox is deleted. */
  takeJoinReply(mailboxId: string): Promise<Uint8Array | undefined>;

  // ── records ──────────────────────────────────────────────────────────────────────────────────
  putRecords(puts: readonly RecordPut[]): Promise<RecordPutResult[]>;
  getRecords(uuids: readonly string[]): Promise<WireRecord[]>;
  changes(sinceSeq: number, limit?: number): Promise<ChangesPage>;
  /** One round trip of range-based reconciliation against the server's manifest (SPEC §17.6). */
  ranges(requests: readonly RangeRequest[]): Promise<RangeAnswer[]>;

  // ── signed device manifests (SPEC §17.10): opaque to the server, latest one per device ─────────
  putDeviceManifest(manifest: Uint8Array): Promise<void>;
  getDeviceManifests(): Promise<{ deviceId: string; manifest: Uint8Array }[]>;

  // ── push ─────────────────────────────────────────────────────────────────────────────────────
  /** Subscribes to the account's writes; the returned function unsubscribes. */
  subscribe(onEvent: (event: PushEvent) => void, onClose?: (error?: Error) => void): Promise<() => void>;

  /** Bytes and round trips so far, for `sync.now()`'s figures. */
  readonly stats: { roundTrips: number; bytesUp: number; bytesDown: number };
  close(): Promise<void>;
}

/** A member of the circle as the engine believes it, after the circle's signatures were checked. */
export interface MemberKeys extends DevicePublicKeys {
  /** When the device was removed (ms): its manifests are believed only for writes before this. */
  removedAt?: number;
}

/**
 * What the sync engine (SPEC §17.10) needs from the device circle (§17.9): who this device is, whose
 * signatures to believe, and a way to pick up a newer circle (new members, a new epoch's class keys
 * installed into the keychain) when a record names a class key this device does not hold yet. The
 * device id is the keychain's own (`kc/meta.deviceId`, SPEC §16.1), so records, clocks and manifests
 * agree on it.
 */
export interface SyncMembership {
  readonly accountId: string;
  readonly deviceId: string;
  readonly signer: DeviceSigner;
  members(): Promise<readonly MemberKeys[]>;
  /** Fetches and verifies the server's circle; installs class keys shared with this device. */
  refresh(): Promise<void>;
}
