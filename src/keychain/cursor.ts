// The opaque paging cursor of `find` (SPEC §16.6): where the scan stopped, bound by a MAC under the
// index key to the query it belongs to, so an edited cursor or one from another query is EINVAL.

import { canonicalJson, textDecoder, textEncoder } from '../core/encoding.js';
import { concatBytes, equalBytes } from '../crypto/bytes.js';
import { hmac } from '../crypto/mac.js';
import { CofferError } from '../errors.js';

const LABEL = textEncoder.encode('coffer:keychain-cursor:v1');
const MAX_CURSOR = 4096;

function mac(indexKey: Uint8Array, json: Uint8Array): Uint8Array {
  return hmac('sha256', indexKey, concatBytes(LABEL, new Uint8Array([0]), json)).subarray(0, 16);
}

/** 16-byte hex hash of a normalised query under the index key. */
export function queryHash(indexKey: Uint8Array, normalisedQuery: Record<string, unknown>): string {
  const json = textEncoder.encode(canonicalJson(normalisedQuery));
  return Buffer.from(
    hmac('sha256', indexKey, concatBytes(LABEL, new Uint8Array([1]), json)).subarray(0, 16),
  ).toString('hex');
}

export function encodeCursor(indexKey: Uint8Array, q: string, after: string): string {
  const json = textEncoder.encode(canonicalJson({ after, q }));
  return `${Buffer.from(json).toString('base64url')}.${Buffer.from(mac(indexKey, json)).toString('base64url')}`;
}

/** The record key to continue after; EINVAL for anything not made by encodeCursor for this query. */
export function decodeCursor(indexKey: Uint8Array, q: string, cursor: string): string {
  const invalid = () => new CofferError('EINVAL', 'cursor is not one this keychain returned for this query');
  if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR) throw invalid();
  const [body, tag, ...rest] = cursor.split('.');
  if (body === undefined || tag === undefined || rest.length > 0) throw invalid();
  const json = Buffer.from(body, 'base64url');
  if (!equalBytes(Buffer.from(tag, 'base64url'), mac(indexKey, json))) throw invalid();
  const value = JSON.parse(textDecoder.decode(json)) as { after?: unknown; q?: unknown };
  if (value.q !== q || typeof value.after !== 'string') throw invalid();
  return value.after;
}
