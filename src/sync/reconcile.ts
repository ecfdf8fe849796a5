// Range-based set reconciliation (SPEC §17.6; after Aljoscha Meyer, "Range-Based Set
// Reconciliation", 2022): finds which items differ between this device's manifest and a peer's
// (the sync server's) with work and round trips that grow with the number of differences and the
// logarithm of the set size, never with the set size alone. Ranges are uuid prefixes: a range whose
// fingerprints differ is either listed by the peer (when small) or split into its 16 sub-prefixes.
import { CofferError } from '../errors.js';
import { assertPrefix, Manifest, type ManifestEntry, uuidKey } from './manifest.js';

/** The peer lists a range instead of splitting it when it holds at most this many entries. */
export const DEFAULT_LIST_THRESHOLD = 16;
const HEX_DIGITS = '0123456789abcdef';
const FULL_PREFIX = 32;
const FINGERPRINT = /^[0-9a-f]{64}$/;

export interface RangeRequest {
  prefix: string;
  /** The requester's fingerprint of the range (SPEC §17.5). */
  fingerprint: string;
}

export type RangeAnswer =
  | { prefix: string; result: 'same' }
  | { prefix: string; result: 'entries'; entries: ManifestEntry[] }
  | { prefix: string; result: 'split'; count: number };

/** What the requester asks of the other side: one call is one round trip. */
export interface ReconcilePeer {
  query(requests: readonly RangeRequest[]): Promise<readonly RangeAnswer[]>;
}

/**
 * The answering side (what the sync server runs over its manifest): `same` when the fingerprints
 * agree, the entries when the range holds at most `listThreshold`, otherwise `split`.
 */
export function answerRanges(
  manifest: Manifest,
  requests: readonly RangeRequest[],
  listThreshold = DEFAULT_LIST_THRESHOLD,
): RangeAnswer[] {
  if (!Number.isSafeInteger(listThreshold) || listThreshold < 1)
    throw new CofferError('EINVAL', 'listThreshold must be ≥ 1');
  return requests.map(({ prefix, fingerprint }) => {
    assertPrefix(prefix);
    if (typeof fingerprint !== 'string' || !FINGERPRINT.test(fingerprint))
      throw new CofferError('EINVAL', 'range fingerprint must be 64 hex');
    if (manifest.fingerprint(prefix) === fingerprint) return { prefix, result: 'same' };
    const count = manifest.count(prefix);
    // A full-length prefix holds at most one uuid, so the recursion always ends (SPEC §17.6).
    if (count <= listThreshold || prefix.length === FULL_PREFIX)
      return { prefix, result: 'entries', entries: manifest.range(prefix) };
    return { prefix, result: 'split', count };
  });
}

/** A peer answering from a manifest held in this process (the server side, or a test's other device). */
export function manifestPeer(manifest: Manifest, listThreshold = DEFAULT_LIST_THRESHOLD): ReconcilePeer {
  return { query: async (requests) => answerRanges(manifest, requests, listThreshold) };
}

export interface Differences {
  /** Every uuid whose entry differs: on one side only, or with another record hash. Sorted. */
  ids: string[];
  /** Present here and not at the peer. */
  localOnly: string[];
  /** Present at the peer and not here. */
  remoteOnly: string[];
  /** Present at both with different record hashes. */
  changed: string[];
  roundTrips: number;
  /** Range requests sent and entries received, the protocol's transfer beyond the records. */
  rangesSent: number;
  entriesReceived: number;
}

function badPeer(message: string): CofferError {
  return new CofferError('EBADMSG', `reconciliation peer: ${message}`);
}

function compareLists(
  local: readonly ManifestEntry[],
  remote: readonly ManifestEntry[],
  out: Differences,
): void {
  const mine = new Map(local.map((e) => [e.uuid, e.hash]));
  const theirs = new Map<string, string>();
  for (const e of remote) theirs.set(e.uuid, e.hash);
  for (const [uuid, hash] of mine) {
    const other = theirs.get(uuid);
    if (other === undefined) out.localOnly.push(uuid);
    else if (other !== hash) out.changed.push(uuid);
  }
  for (const uuid of theirs.keys()) if (!mine.has(uuid)) out.remoteOnly.push(uuid);
}

/**
 * Finds the symmetric difference between `local` and the peer's set. The first round trip sends the
 * manifest digest alone, so an unchanged keychain costs exactly one. Answers that do not fit the
 * requests (another prefix, an entry outside its range, a split that cannot be split, a malformed
 * entry) are EBADMSG: a peer that lies is refused, never believed.
 */
export async function reconcile(local: Manifest, peer: ReconcilePeer): Promise<Differences> {
  const out: Differences = {
    ids: [],
    localOnly: [],
    remoteOnly: [],
    changed: [],
    roundTrips: 0,
    rangesSent: 0,
    entriesReceived: 0,
  };
  let pending = [''];
  while (pending.length > 0) {
    const requests = pending.map((prefix) => ({ prefix, fingerprint: local.fingerprint(prefix) }));
    out.roundTrips += 1;
    out.rangesSent += requests.length;
    const answers = await peer.query(requests);
    if (!Array.isArray(answers) || answers.length !== requests.length) throw badPeer('answer count');
    const next: string[] = [];
    for (let i = 0; i < requests.length; i++) {
      const prefix = requests[i]!.prefix;
      const answer = answers[i] as RangeAnswer;
      if (typeof answer !== 'object' || answer === null || answer.prefix !== prefix)
        throw badPeer('answers out of order');
      if (answer.result === 'same') continue;
      if (answer.result === 'split') {
        if (prefix.length >= FULL_PREFIX) throw badPeer('split of a full-length prefix');
        for (const digit of HEX_DIGITS) next.push(prefix + digit);
        continue;
      }
      if (answer.result !== 'entries' || !Array.isArray(answer.entries)) throw badPeer('unknown answer');
      let remote: Manifest;
      try {
        remote = new Manifest(answer.entries);
      } catch {
        throw badPeer('malformed entries');
      }
      for (const e of remote.entries())
        if (!uuidKey(e.uuid).startsWith(prefix)) throw badPeer(`entry ${e.uuid} outside range ${prefix}`);
      out.entriesReceived += remote.size;
      compareLists(local.range(prefix), remote.entries(), out);
    }
    pending = next;
  }
  out.localOnly.sort();
  out.remoteOnly.sort();
  out.changed.sort();
  out.ids = [...out.localOnly, ...out.remoteOnly, ...out.changed].sort();
  return out;
}
