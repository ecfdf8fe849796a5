// The request target of a daemon request, parsed strictly (SPEC §10.1 "Request targets"): origin-form
// only (`/path?query`), path split into segments *before* each segment is percent-decoded (so `%2F`
// stays inside its segment), query pairs split on `&` and `=` with `+` as a space, and every
// percent-escape checked: a `%` not followed by two hex digits, decoded bytes that are not UTF-8, or a
// raw byte outside printable ASCII is EINVAL (400) — never a URIError reaching the client as a 500.
// WHATWG URL parsing is not used here: it resolves `..`, treats `//host/…` as an authority and decodes
// query strings leniently (malformed escapes kept, bad UTF-8 replaced), all of which would let two
// different byte strings reach the same route or the same parameter value.
import { CofferError } from '../errors.js';

export interface RequestTarget {
  /** Decoded path segments: `/v1/keys/k_1` → ['v1', 'keys', 'k_1']. */
  segments: string[];
  /** Decoded query pairs in order (a name may repeat; the query schema decides). */
  query: [string, string][];
}

/** Longest request target accepted (Node's header limit bounds it too; this keeps errors short). */
export const MAX_TARGET_LENGTH = 8192;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Strict percent-decoding of one path segment or query component. `plusIsSpace` applies the
 * application/x-www-form-urlencoded rule for query components (what URLSearchParams writes).
 */
export function decodeComponent(text: string, where: string, plusIsSpace = false): string {
  let plain = true;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f)
      throw new CofferError('EINVAL', `the ${where} holds a character that must be percent-encoded`);
    if (code === 0x25 || (plusIsSpace && code === 0x2b)) plain = false;
  }
  if (plain) return text;
  const bytes = new Uint8Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x25) {
      const high = hexValue(text.charCodeAt(i + 1));
      const low = hexValue(text.charCodeAt(i + 2));
      if (high < 0 || low < 0)
        throw new CofferError('EINVAL', `the ${where} holds a malformed percent-escape`);
      bytes[n++] = (high << 4) | low;
      i += 2;
    } else {
      bytes[n++] = plusIsSpace && code === 0x2b ? 0x20 : code;
    }
  }
  try {
    return utf8.decode(bytes.subarray(0, n));
  } catch {
    throw new CofferError('EINVAL', `the ${where} does not percent-decode to UTF-8`);
  }
}

/** Parses `req.url` as the daemon understands it; EINVAL for anything that is not a clean origin-form target. */
export function parseTarget(raw: string): RequestTarget {
  if (typeof raw !== 'string' || raw.length === 0 || raw.charCodeAt(0) !== 0x2f)
    throw new CofferError('EINVAL', 'the request target must be a path starting with /');
  if (raw.length > MAX_TARGET_LENGTH)
    throw new CofferError('E2BIG', `the request target is longer than ${MAX_TARGET_LENGTH} characters`);
  if (raw.includes('#')) throw new CofferError('EINVAL', 'the request target must not hold a fragment');
  const mark = raw.indexOf('?');
  const path = mark < 0 ? raw : raw.slice(0, mark);
  const segments = path
    .slice(1)
    .split('/')
    .map((segment) => decodeComponent(segment, 'path'));
  const query: [string, string][] = [];
  if (mark >= 0) {
    for (const piece of raw.slice(mark + 1).split('&')) {
      if (piece === '') continue;
      const eq = piece.indexOf('=');
      const name = eq < 0 ? piece : piece.slice(0, eq);
      const value = eq < 0 ? '' : piece.slice(eq + 1);
      query.push([decodeComponent(name, 'query', true), decodeComponent(value, 'query', true)]);
    }
  }
  return { segments, query };
}
