// Request bodies of the sync server (SPEC §17.8), checked before anything is read or written: a
// bad body is a CofferError (EINVAL, EBADMSG for a record that is not a record, E2BIG over a bound)
// and never reaches the store. Records are checked with the wire parser of SPEC §17.2.
import { canonicalJson } from '../../core/encoding.js';
import { CofferError } from '../../errors.js';
import { isUuid } from '../../keychain/record.js';
import { recordHash } from '../manifest.js';
import type { RangeRequest } from '../reconcile.js';
import { fromWire, type WireRecord } from '../wire-record.js';
import type { CheckedPut } from './store.js';

export const MAX_PUTS = 500;
export const MAX_GET = 1000;
export const MAX_RANGES = 4096;
export const MAX_CHANGES = 1000;
export const DEFAULT_CHANGES = 500;

export function object(value: unknown, what: string, fields: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CofferError('EINVAL', `${what} must be a JSON object`);
  for (const name of Object.keys(value))
    if (!fields.includes(name)) throw new CofferError('EINVAL', `${what}: unknown field ${name}`);
  return value as Record<string, unknown>;
}

export function safeInt(value: unknown, what: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
    throw new CofferError('EINVAL', `${what} must be an integer ≥ ${min}`);
  return value;
}

function list(value: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw new CofferError('EINVAL', `${what} must be an array`);
  if (value.length > max) throw new CofferError('E2BIG', `${what} holds more than ${max} entries`);
  return value;
}

/** `{puts: [{record, ifGencount}]}` → checked puts with the record's canonical JSON and hash. */
export function parsePuts(body: unknown): CheckedPut[] {
  const puts = list(object(body, 'body', ['puts']).puts, 'puts', MAX_PUTS);
  const seen = new Set<string>();
  return puts.map((value, i) => {
    const put = object(value, `puts[${i}]`, ['record', 'ifGencount']);
    const ifGencount = safeInt(put.ifGencount, `puts[${i}].ifGencount`);
    const bytes = fromWire(put.record); // EBADMSG for anything that is not a record
    const record = put.record as WireRecord;
    if (record.gencount <= ifGencount)
      throw new CofferError('EINVAL', `puts[${i}]: record.gencount must be greater than ifGencount`);
    if (seen.has(record.uuid)) throw new CofferError('EINVAL', `puts: uuid ${record.uuid} twice`);
    seen.add(record.uuid);
    const wire = canonicalJson(record);
    return { record: JSON.parse(wire) as WireRecord, ifGencount, wire, hash: recordHash(bytes) };
  });
}

export function parseUuids(body: unknown): string[] {
  const uuids = list(object(body, 'body', ['uuids']).uuids, 'uuids', MAX_GET);
  for (const uuid of uuids) if (!isUuid(uuid)) throw new CofferError('EINVAL', 'uuids[] must be uuids');
  return uuids as string[];
}

export function parseRanges(body: unknown): RangeRequest[] {
  const requests = list(object(body, 'body', ['requests']).requests, 'requests', MAX_RANGES);
  // The values themselves (prefix, fingerprint) are checked by answerRanges (EINVAL).
  return requests.map((value, i) => {
    const r = object(value, `requests[${i}]`, ['prefix', 'fingerprint']);
    return { prefix: r.prefix as string, fingerprint: r.fingerprint as string };
  });
}

function queryInt(value: string | null, what: string, fallback: number, min: number, max: number): number {
  if (value === null) return fallback;
  if (!/^\d{1,15}$/.test(value)) throw new CofferError('EINVAL', `${what} must be a decimal integer`);
  const n = Number(value);
  if (n < min || n > max) throw new CofferError('EINVAL', `${what} must be in ${min}..${max}`);
  return n;
}

export function parseChangesQuery(query: URLSearchParams): { since: number; limit: number } {
  for (const name of query.keys())
    if (name !== 'since' && name !== 'limit')
      throw new CofferError('EINVAL', `unknown query parameter ${name}`);
  return {
    since: queryInt(query.get('since'), 'since', 0, 0, Number.MAX_SAFE_INTEGER),
    limit: queryInt(query.get('limit'), 'limit', DEFAULT_CHANGES, 1, MAX_CHANGES),
  };
}

const MAILBOX = /^[0-9a-f]{64}$/;
export function checkMailboxId(value: unknown): string {
  if (typeof value !== 'string' || !MAILBOX.test(value))
    throw new CofferError('EINVAL', 'mailboxId must be 64 lowercase hex digits (a hash of the invite)');
  return value;
}
