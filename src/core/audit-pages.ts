// Paged reads of the audit log (SPEC §8.1): `auditPage` returns at most `limit` entries in seq order
// (oldest or newest first), optionally filtered, and an opaque cursor to continue. A page costs what
// it reads, not what the log holds: it reads the head and the entries it scans, nothing else.
//
// Reading a page keeps the verification of SPEC §8: every entry scanned is opened, its seq must match
// its record key, its hash must recompute and its MAC verify, and it must link to the entry before it
// in the walk. The walk is anchored at one end of the chain — the genesis hash going up, the head's
// hash going down — and the cursor carries (sealed) the hash the next entry must link to, so a walk
// over every page checks exactly what `verifyAudit` checks, page by page. Anything that does not hold
// is EBADMSG naming the entry; a cursor that was altered, forged, made by another keystore or for
// another order or filter is EINVAL.
import { decodeBase64, encodeBase64 } from '../base64.js';
import { hkdf } from '../crypto/kdf.js';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import type { Storage } from '../storage/types.js';
import {
  AUDIT_HEAD,
  type AuditEntry,
  type AuditHead,
  auditEntryKey,
  entryHash,
  macOf,
  sameHex,
  ZERO_HASH,
} from './audit.js';
import { openRecord } from './barrier.js';
import { canonicalJson, textEncoder } from './encoding.js';
import { openWithKey, sealWithKey } from './master-key.js';
import type { AuditPage, AuditPageRequest } from './surface.js';

export const MAX_AUDIT_PAGE_LIMIT = 1000;
export const DEFAULT_AUDIT_PAGE_LIMIT = 100;
/**
 * At most this many entries are scanned for one filtered page (SPEC §8.1): a filter that matches
 * rarely gives short (even empty) pages with a cursor instead of one request reading the whole log.
 */
export const AUDIT_SCAN_BUDGET = 10_000;
/** Records asked of the store at once while scanning. */
const CHUNK = 500;
/** Format byte of an audit cursor (SPEC §8.1). */
const CURSOR_VERSION = 1;
const CURSOR_INFO = textEncoder.encode('coffer:audit-cursor:v1');
const POSITION_BYTES = 8 + 32;

/** The audit cursor key (SPEC §8.1): HKDF-SHA256 of the audit key, so it exists only while unlocked. */
export function auditCursorKey(auditKey: Uint8Array): Uint8Array {
  return hkdf('sha256', auditKey, new Uint8Array(0), CURSOR_INFO, 32);
}

/** Where a walk stands: the last entry scanned, and the hash the next entry must link to. */
export interface AuditPosition {
  seq: number;
  /** Going up: the hash of entry `seq` (the next one's `prev`). Going down: entry `seq`'s `prev`. */
  link: string;
}

interface Query {
  order: 'asc' | 'desc';
  limit: number;
  since?: number;
  until?: number;
  keyId?: string;
  event?: string;
  actor?: string;
}

/** What a cursor is bound to: the order and every filter, never the limit (pages may change size). */
export function auditCursorAad(query: Omit<Query, 'limit'>): Uint8Array {
  const { order, since, until, keyId, event, actor } = query;
  return textEncoder.encode(
    `coffer:audit-page:v1\0${canonicalJson({ order, since, until, keyId, event, actor })}`,
  );
}

/** base64url(0x01 ‖ nonce ‖ AES-256-GCM(cursor key, nonce, seq (u64 BE) ‖ link (32), aad)). */
export function sealAuditCursor(key: Uint8Array, aad: Uint8Array, position: AuditPosition, rng: Rng): string {
  const plain = new Uint8Array(POSITION_BYTES);
  new DataView(plain.buffer).setBigUint64(0, BigInt(position.seq));
  plain.set(Buffer.from(position.link, 'hex'), 8);
  const sealed = sealWithKey(key, plain, aad, rng);
  const out = new Uint8Array(1 + sealed.length);
  out[0] = CURSOR_VERSION;
  out.set(sealed, 1);
  return encodeBase64(out, 'base64url');
}

/** The position a cursor continues from; EINVAL for anything not sealed by this keystore for `aad`. */
export function openAuditCursor(key: Uint8Array, aad: Uint8Array, cursor: unknown): AuditPosition {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 1024)
    throw new CofferError('EINVAL', 'invalid cursor');
  let plain: Uint8Array;
  try {
    const bytes = decodeBase64(cursor, 'base64url', 'cursor');
    if (bytes[0] !== CURSOR_VERSION) throw new Error('version');
    plain = openWithKey(key, bytes.subarray(1), aad);
  } catch {
    throw new CofferError('EINVAL', 'invalid cursor (not from this audit listing, or altered)');
  }
  const seq =
    plain.length === POSITION_BYTES ? new DataView(plain.buffer, plain.byteOffset).getBigUint64(0) : 0n;
  // Sealed by us, so this holds; checked anyway so a bad position can never reach the store.
  if (seq < 1n || seq > BigInt(Number.MAX_SAFE_INTEGER))
    throw new CofferError('EINVAL', 'invalid cursor (bad position)');
  return { seq: Number(seq), link: Buffer.from(plain.subarray(8)).toString('hex') };
}

function optionalText(request: AuditPageRequest, name: 'keyId' | 'event' | 'actor'): string | undefined {
  const value = request[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 256)
    throw new CofferError('EINVAL', `${name} must be a non-empty string of at most 256 characters`);
  return value;
}

function optionalInstant(request: AuditPageRequest, name: 'since' | 'until'): number | undefined {
  const value = request[name];
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0)
    throw new CofferError('EINVAL', `${name} must be ms since the epoch (a non-negative integer)`);
  return value;
}

function checkRequest(request: AuditPageRequest): Query {
  if (typeof request !== 'object' || request === null)
    throw new CofferError('EINVAL', 'request must be an object');
  const order = request.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw new CofferError('EINVAL', "order must be 'asc' or 'desc'");
  const limit = request.limit ?? DEFAULT_AUDIT_PAGE_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE_LIMIT)
    throw new CofferError('EINVAL', `limit must be an integer from 1 to ${MAX_AUDIT_PAGE_LIMIT}`);
  const query: Query = { order, limit };
  const since = optionalInstant(request, 'since');
  const until = optionalInstant(request, 'until');
  if (since !== undefined) query.since = since;
  if (until !== undefined) query.until = until;
  for (const name of ['keyId', 'event', 'actor'] as const) {
    const value = optionalText(request, name);
    if (value !== undefined) query[name] = value;
  }
  return query;
}

function matches(query: Query, entry: AuditEntry): boolean {
  if (query.since !== undefined && !(entry.at >= query.since)) return false;
  if (query.until !== undefined && !(entry.at < query.until)) return false;
  if (query.keyId !== undefined && entry.keyId !== query.keyId) return false;
  if (query.actor !== undefined && entry.actor !== query.actor) return false;
  if (query.event !== undefined) {
    const prefix = query.event.endsWith('.');
    if (prefix ? !entry.event.startsWith(query.event) : entry.event !== query.event) return false;
  }
  return true;
}

function isFiltered(query: Query): boolean {
  return ['since', 'until', 'keyId', 'event', 'actor'].some((k) => query[k as keyof Query] !== undefined);
}

/** Reads entries lo..hi (inclusive) in one or more store reads; a missing entry is EBADMSG. */
async function readRange(
  storage: Storage,
  barrier: Uint8Array,
  lo: number,
  hi: number,
): Promise<AuditEntry[]> {
  const records = await storage.list('audit/e/', { after: auditEntryKey(lo - 1), limit: hi - lo + 1 });
  const out: AuditEntry[] = [];
  for (let seq = lo; seq <= hi; seq++) {
    const record = records[seq - lo];
    const key = auditEntryKey(seq);
    if (record?.key !== key)
      throw new CofferError('EBADMSG', `audit entry ${seq} is missing (log truncated or tampered)`);
    out.push(openRecord<AuditEntry>(barrier, key, record.value));
  }
  return out;
}

/** The checks of SPEC §8 for one entry, except the link, which depends on the walk's direction. */
function checkEntry(auditKey: Uint8Array, seq: number, entry: AuditEntry): void {
  if (entry.seq !== seq) throw new CofferError('EBADMSG', `audit entry ${seq} is stored out of place`);
  const { hash, mac, ...body } = entry;
  if (entryHash(body) !== hash)
    throw new CofferError('EBADMSG', `audit entry ${seq}: content does not match its hash`);
  if (!sameHex(macOf(auditKey, hash), mac))
    throw new CofferError('EBADMSG', `audit entry ${seq}: MAC does not verify`);
}

/**
 * One page of the audit log. Reads the head (a tracked record: a rolled-back head fails the read,
 * SPEC §4.1), then scans from the cursor's position towards the other end of the chain.
 */
export async function readAuditPage(
  storage: Storage,
  keys: { barrier: Uint8Array; audit: Uint8Array },
  rng: Rng,
  request: AuditPageRequest,
): Promise<AuditPage> {
  const query = checkRequest(request);
  const cursorKey = auditCursorKey(keys.audit);
  const aad = auditCursorAad(query);
  const from = request.cursor === undefined ? undefined : openAuditCursor(cursorKey, aad, request.cursor);
  const headRecord = await storage.get(AUDIT_HEAD);
  if (!headRecord) {
    if ((await storage.list('audit/e/', { limit: 1 })).length > 0)
      throw new CofferError(
        'EBADMSG',
        'the audit log head is missing while entries exist (log truncated or tampered)',
      );
    if (from !== undefined) throw new CofferError('EBADMSG', 'the audit log head is missing (log deleted)');
    return { entries: [] };
  }
  const head = openRecord<AuditHead>(keys.barrier, AUDIT_HEAD, headRecord.value);
  if (!sameHex(macOf(keys.audit, head.hash), head.mac))
    throw new CofferError('EBADMSG', 'the audit head: MAC does not verify');
  if (from !== undefined && from.seq > head.seq)
    throw new CofferError(
      'EBADMSG',
      `the audit log ends before entry ${from.seq}, which this walk already read (log truncated)`,
    );
  const walk: Walk = {
    storage,
    barrier: keys.barrier,
    auditKey: keys.audit,
    query,
    head,
    from,
    budget: isFiltered(query) ? AUDIT_SCAN_BUDGET : query.limit,
  };
  const { entries, stop } = query.order === 'asc' ? await walkUp(walk) : await walkDown(walk);
  return stop === undefined ? { entries } : { entries, cursor: sealAuditCursor(cursorKey, aad, stop, rng) };
}

/** One page's scan: where it starts, how far it may read, and what it checks against. */
interface Walk {
  storage: Storage;
  barrier: Uint8Array;
  auditKey: Uint8Array;
  query: Query;
  head: AuditHead;
  from: AuditPosition | undefined;
  budget: number;
}

/** The entries a walk kept, and where the next page resumes (undefined: the walk reached the end). */
interface WalkResult {
  entries: AuditEntry[];
  stop?: AuditPosition;
}

async function walkUp({ storage, barrier, auditKey, query, head, from, budget }: Walk): Promise<WalkResult> {
  const entries: AuditEntry[] = [];
  let seq = from?.seq ?? 0;
  let link = from?.link ?? ZERO_HASH;
  let scanned = 0;
  while (seq < head.seq && scanned < budget && entries.length < query.limit) {
    const hi = Math.min(head.seq, seq + Math.min(CHUNK, budget - scanned));
    for (const entry of await readRange(storage, barrier, seq + 1, hi)) {
      seq += 1;
      scanned += 1;
      checkEntry(auditKey, seq, entry);
      if (!sameHex(entry.prev, link))
        throw new CofferError('EBADMSG', `audit entry ${seq}: does not link to the entry before it`);
      link = entry.hash;
      if (matches(query, entry)) entries.push(entry);
      if (entries.length === query.limit) break;
    }
  }
  if (seq === head.seq) {
    if (!sameHex(link, head.hash))
      throw new CofferError('EBADMSG', `the audit head does not match entry ${seq}, the last one`);
    return { entries };
  }
  return { entries, stop: { seq, link } };
}

async function walkDown({
  storage,
  barrier,
  auditKey,
  query,
  head,
  from,
  budget,
}: Walk): Promise<WalkResult> {
  const entries: AuditEntry[] = [];
  // `next` is the seq above the next entry to read; `link` the hash that entry must have.
  let next = from?.seq ?? head.seq + 1;
  let link = from?.link ?? head.hash;
  let scanned = 0;
  while (next > 1 && scanned < budget && entries.length < query.limit) {
    const lo = Math.max(1, next - Math.min(CHUNK, budget - scanned));
    const chunk = await readRange(storage, barrier, lo, next - 1);
    for (let i = chunk.length - 1; i >= 0; i--) {
      const entry = chunk[i] as AuditEntry;
      next -= 1;
      scanned += 1;
      checkEntry(auditKey, next, entry);
      if (!sameHex(entry.hash, link))
        throw new CofferError(
          'EBADMSG',
          from === undefined && next === head.seq
            ? `the audit head does not match entry ${next}, the last one`
            : `audit entry ${next + 1}: does not link to the entry before it`,
        );
      link = entry.prev;
      if (matches(query, entry)) entries.push(entry);
      if (entries.length === query.limit) break;
    }
  }
  if (next <= 1) {
    if (head.seq > 0 && !sameHex(link, ZERO_HASH))
      throw new CofferError('EBADMSG', 'audit entry 1: does not start the chain');
    return { entries };
  }
  return { entries, stop: { seq: next, link } };
}
