// Paged key listing (SPEC §4.6): `listKeysPage` returns at
// most `limit` keys in record-key order (app, purpose, id) and an opaque cursor to continue after the
// last one. Only `…/meta` records are read (Storage.listEnding); version records are never read. Paging by position
// (the cursor is the last listed meta key) is what makes a walk visit every key that exists throughout
// exactly once while keys are created or deleted between pages. The cursor is sealed (AES-256-GCM
// under a key derived from the record barrier key, bound to the listing's prefix), so it reveals
// nothing and cannot be forged or moved to another filter: anything else is EINVAL, never a crash.
import { decodeBase64, encodeBase64 } from '../base64.js';
import { hkdf } from '../crypto/kdf.js';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { openRecord } from './barrier.js';
import { textDecoder, textEncoder } from './encoding.js';
import { openWithKey, sealWithKey } from './master-key.js';
import { assertName } from './names.js';
import { metaKey, type Session } from './session.js';
import type { KeyPage, KeyPageRequest } from './surface.js';
import type { KeyInfo } from './types.js';

export const MAX_PAGE_LIMIT = 1000;
export const DEFAULT_PAGE_LIMIT = 100;
/** Format byte of a cursor (SPEC §4.6). */
const CURSOR_VERSION = 1;
const CURSOR_INFO = textEncoder.encode('coffer:list-cursor:v1');

/** The cursor key (SPEC §4.6): HKDF-SHA256 of the barrier key, so it exists only while unlocked. */
export function cursorKey(barrierKey: Uint8Array): Uint8Array {
  return hkdf('sha256', barrierKey, new Uint8Array(0), CURSOR_INFO, 32);
}

function cursorAad(prefix: string): Uint8Array {
  return textEncoder.encode(`coffer:keys-page:v1\0${prefix}`);
}

/** base64url(0x01 ‖ AES-256-GCM(cursor key, nonce, after, aad = "coffer:keys-page:v1" 0x00 prefix)). */
export function sealCursor(key: Uint8Array, prefix: string, after: string, rng: Rng): string {
  const sealed = sealWithKey(key, textEncoder.encode(after), cursorAad(prefix), rng);
  const out = new Uint8Array(1 + sealed.length);
  out[0] = CURSOR_VERSION;
  out.set(sealed, 1);
  return encodeBase64(out, 'base64url');
}

/** The record key a cursor continues after; EINVAL for anything not made by sealCursor for `prefix`. */
export function openCursor(key: Uint8Array, prefix: string, cursor: unknown): string {
  if (typeof cursor !== 'string' || cursor.length > 1024) throw new CofferError('EINVAL', 'invalid cursor');
  let after: string;
  try {
    const bytes = decodeBase64(cursor, 'base64url', 'cursor');
    if (bytes[0] !== CURSOR_VERSION) throw new Error('version');
    after = textDecoder.decode(openWithKey(key, bytes.subarray(1), cursorAad(prefix)));
  } catch {
    throw new CofferError('EINVAL', 'invalid cursor (not from this listing, or altered)');
  }
  // Sealed by us, so this holds; checked anyway since storage refuses a bad `after` less clearly.
  if (!after.startsWith(prefix) || !after.endsWith('/meta'))
    throw new CofferError('EINVAL', 'invalid cursor (not from this listing)');
  return after;
}

function checkRequest(request: KeyPageRequest): { prefix: string; limit: number } {
  if (typeof request !== 'object' || request === null)
    throw new CofferError('EINVAL', 'request must be an object');
  const { app, purpose } = request;
  if (app !== undefined) assertName('app', app);
  if (purpose !== undefined) {
    assertName('purpose', purpose);
    if (app === undefined) throw new CofferError('EINVAL', 'filtering by purpose needs an app');
  }
  const limit = request.limit ?? DEFAULT_PAGE_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT)
    throw new CofferError('EINVAL', `limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
  return { prefix: `keystore/${app ? `${app}/` : ''}${purpose ? `${purpose}/` : ''}`, limit };
}

/**
 * One page of keys. Reads the store in chunks after the cursor's position, opening only meta records,
 * until `limit` keys and one more (to know whether a cursor is needed) are seen or the prefix ends.
 */
export async function listKeysPage(
  s: Session,
  request: KeyPageRequest,
  effective: (info: KeyInfo, now: number) => KeyInfo,
): Promise<KeyPage> {
  const { prefix, limit } = checkRequest(request);
  const key = cursorKey(s.keys.barrier);
  const after = request.cursor === undefined ? undefined : openCursor(key, prefix, request.cursor);
  const now = s.now();
  const keys: KeyInfo[] = [];
  // Meta records only, one more than asked for (to know whether a cursor is needed); version
  // records are neither read nor checked against the tree.
  const records = await s.storage.listEnding(prefix, '/meta', {
    ...(after !== undefined ? { after } : {}),
    limit: limit + 1,
  });
  const more = records.length > limit;
  for (const record of records.slice(0, limit)) {
    keys.push(effective(openRecord<KeyInfo>(s.keys.barrier, record.key, record.value), now));
  }
  const last = keys[keys.length - 1];
  if (!more || last === undefined) return { keys };
  const lastKey = metaKey(last);
  return { keys, cursor: sealCursor(key, prefix, lastKey, s.rng) };
}
