// The blind index of SPEC §16.5: `find` looks items up by keyed hashes of normalised attribute
// values, so the store holds no plaintext attribute yet a lookup reads one index range, not the
// whole keychain. The index is a hint: keychain.ts re-checks every candidate after decrypting it.
import { domainToASCII } from 'node:url';
import { textEncoder } from '../core/encoding.js';
import { concatBytes } from '../crypto/bytes.js';
import { hmac } from '../crypto/mac.js';
import type { IndexedField, ItemAttributes, ItemKind } from './types.js';

const LABEL = textEncoder.encode('coffer:keychain-index:v1');

/** SPEC §16.5 normalisation: NFC, trimmed, lower-cased; servers in IDNA ASCII without a final dot. */
export function normalise(field: IndexedField, value: string): string {
  const text = value.normalize('NFC').trim().toLowerCase();
  if (field !== 'server') return text;
  const host = text.endsWith('.') ? text.slice(0, -1) : text;
  const ascii = host.length > 0 ? domainToASCII(host) : '';
  return ascii.length > 0 ? ascii : host;
}

/** The 32-hex tag of one (field, value) under the index key. */
export function indexTag(indexKey: Uint8Array, field: IndexedField, value: string): string {
  const message = concatBytes(
    LABEL,
    new Uint8Array([0]),
    textEncoder.encode(field),
    new Uint8Array([0]),
    textEncoder.encode(normalise(field, value)),
  );
  return Buffer.from(hmac('sha256', indexKey, message).subarray(0, 16)).toString('hex');
}

export function indexPrefix(field: IndexedField, tag: string): string {
  return `kc/x/${field}/${tag}/`;
}

/** The (field, value) pairs an item is indexed under. */
export function indexedValues(kind: ItemKind, attributes: ItemAttributes): [IndexedField, string][] {
  const out: [IndexedField, string][] = [['kind', kind]];
  for (const field of ['service', 'server', 'account', 'label'] as const) {
    const value = attributes[field];
    if (typeof value === 'string' && normalise(field, value).length > 0) out.push([field, value]);
  }
  return out;
}

/** The index record keys of an item (a set: equal tags collapse). */
export function indexKeys(
  indexKey: Uint8Array,
  uuid: string,
  kind: ItemKind,
  attributes: ItemAttributes,
): Set<string> {
  return new Set(
    indexedValues(kind, attributes).map(
      ([field, value]) => indexPrefix(field, indexTag(indexKey, field, value)) + uuid,
    ),
  );
}
