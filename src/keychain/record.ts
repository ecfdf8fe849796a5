// The item record of SPEC §16.2 — the unit the sync protocol will send: a plaintext header, a fresh
// content key wrapped under a class key, and the padded body encrypted under the content key. Both
// AEADs take the header bytes as stored as associated data, so every header field (including ones a
// later version adds) is bound, and kind, group, attributes and secret are inside the ciphertext.

import { canonicalJson, textDecoder, textEncoder } from '../core/encoding.js';
import { openWithKey, sealWithKey } from '../core/master-key.js';
import { concatBytes, wipe } from '../crypto/bytes.js';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import type { StoredRecord } from '../storage/types.js';
import { assertClock } from './clock.js';
import { pad, unpad } from './padding.js';
import type { ItemAttributes, ItemKind } from './types.js';

const MAGIC = textEncoder.encode('CKI1');
const WRAPPED_LENGTH = 12 + 32 + 16;
const MAX_HEADER = 64 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const CLASS_KEY_ID = /^ck_[a-z2-7]{16}$/;

/** The plaintext header; unknown fields are kept and bound (SPEC §16.2). */
export interface RecordHeader {
  uuid: string;
  parentKeyId: string;
  version: number;
  clock: string;
  deviceId: string;
  tomb?: number;
  [future: string]: unknown;
}

/** The decrypted body. `secret` is b64 of the secret bytes. */
export interface ItemBody {
  kind: ItemKind;
  group: string;
  sync: boolean;
  createdAt: number;
  modifiedAt: number;
  attributes: ItemAttributes;
  secret: string;
  clocks: Record<string, string>;
}

/** A current record, read and checked against its record key (SPEC §16.3), not yet decrypted. */
export interface CurrentRecord {
  stored: StoredRecord;
  parsed: ParsedRecord;
}

export interface ParsedRecord {
  header: RecordHeader;
  headerBytes: Uint8Array;
  wrappedKey: Uint8Array;
  encItem: Uint8Array;
}

function bad(message: string): CofferError {
  return new CofferError('EBADMSG', `item record: ${message}`);
}

function aad(label: string, headerBytes: Uint8Array): Uint8Array {
  return concatBytes(textEncoder.encode(label), new Uint8Array([0]), headerBytes);
}

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** An RFC 4122 version-4 uuid from the keystore RNG (seeded RNG → reproducible ids in test mode). */
export function newUuid(rng: Rng): string {
  const b = rng.randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Buffer.from(b).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function checkHeader(value: unknown): RecordHeader {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad('header is not an object');
  const h = value as Record<string, unknown>;
  if (!isUuid(h.uuid)) throw bad('header uuid');
  if (typeof h.parentKeyId !== 'string' || !CLASS_KEY_ID.test(h.parentKeyId)) throw bad('header parentKeyId');
  if (!Number.isSafeInteger(h.version) || (h.version as number) < 1) throw bad('header version');
  if (typeof h.deviceId !== 'string' || !/^[0-9a-f]{16}$/.test(h.deviceId)) throw bad('header deviceId');
  assertClock(h.clock, 'header clock');
  if (h.tomb !== undefined && (!Number.isSafeInteger(h.tomb) || (h.tomb as number) < 0))
    throw bad('header tomb');
  return h as RecordHeader;
}

/** Splits a record into its parts and parses the header; layout errors are EBADMSG. */
export function parseRecord(bytes: Uint8Array): ParsedRecord {
  if (bytes.length < 4 + 4 + 2 || !MAGIC.every((b, i) => bytes[i] === b)) throw bad('unknown format');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(4, false);
  if (headerLength > MAX_HEADER || 8 + headerLength + 2 > bytes.length) throw bad('header length');
  const headerBytes = bytes.subarray(8, 8 + headerLength);
  const wrappedLength = view.getUint16(8 + headerLength, false);
  const wrappedStart = 10 + headerLength;
  if (wrappedLength !== WRAPPED_LENGTH || wrappedStart + wrappedLength + 12 + 16 > bytes.length)
    throw bad('wrapped key length');
  let parsed: unknown;
  try {
    parsed = JSON.parse(textDecoder.decode(headerBytes));
  } catch {
    throw bad('header is not JSON');
  }
  return {
    header: checkHeader(parsed),
    headerBytes,
    wrappedKey: bytes.subarray(wrappedStart, wrappedStart + wrappedLength),
    encItem: bytes.subarray(wrappedStart + wrappedLength),
  };
}

/**
 * Seals one record under a fresh content key (SPEC §16.2). `contentKey` is for the vectors only:
 * every real write takes 32 new bytes from the RNG.
 */
export function sealItemRecord(
  header: RecordHeader,
  body: ItemBody,
  classKey: Uint8Array,
  rng: Rng,
  contentKey: Uint8Array = rng.randomBytes(32),
): Uint8Array {
  checkHeader(header);
  const headerBytes = textEncoder.encode(canonicalJson(header));
  const plain = pad(textEncoder.encode(canonicalJson(body)));
  try {
    const wrappedKey = sealWithKey(classKey, contentKey, aad('coffer:item-key:v1', headerBytes), rng);
    const encItem = sealWithKey(contentKey, plain, aad('coffer:item:v1', headerBytes), rng);
    const out = new Uint8Array(8 + headerBytes.length + 2 + wrappedKey.length + encItem.length);
    const view = new DataView(out.buffer);
    out.set(MAGIC, 0);
    view.setUint32(4, headerBytes.length, false);
    out.set(headerBytes, 8);
    view.setUint16(8 + headerBytes.length, wrappedKey.length, false);
    out.set(wrappedKey, 10 + headerBytes.length);
    out.set(encItem, 10 + headerBytes.length + wrappedKey.length);
    return out;
  } finally {
    wipe(contentKey, plain);
  }
}

/** Decrypts a parsed record with its class key; tampering anywhere is EBADMSG. */
export function openItemRecord(parsed: ParsedRecord, classKey: Uint8Array): ItemBody {
  let contentKey: Uint8Array | undefined;
  let plain: Uint8Array | undefined;
  try {
    contentKey = openWithKey(classKey, parsed.wrappedKey, aad('coffer:item-key:v1', parsed.headerBytes));
    if (contentKey.length !== 32) throw bad('content key length');
    plain = openWithKey(contentKey, parsed.encItem, aad('coffer:item:v1', parsed.headerBytes));
    const body = JSON.parse(textDecoder.decode(unpad(plain))) as ItemBody;
    if (typeof body !== 'object' || body === null || typeof body.kind !== 'string') throw bad('body');
    return body;
  } catch (error) {
    if (error instanceof CofferError && error.code === 'EBADMSG')
      throw bad('failed authentication (tampered, moved or under another key)');
    if (error instanceof SyntaxError) throw bad('body is not JSON');
    throw error;
  } finally {
    wipe(contentKey, plain);
  }
}
