// The keychain records of a version-2 backup payload (SPEC §11.4): `0x03` keychain (class keys and
// history bound) and `0x04` item (the current record and the history records, byte for byte).
// Raw bytes follow a small JSON that gives their lengths, as for key secrets, so class keys stay in
// wipeable buffers. Parsing checks the layout only; backup/restore.ts then opens every record.

import { utf8 } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import type { ExportedClassKey, ExportedItem, ExportedKeychain } from '../keychain/backup-types.js';
import type { HistoryBound } from '../keychain/types.js';

export const RECORD_KEYCHAIN = 0x03;
export const RECORD_ITEM = 0x04;
const CLASS_KEY_BYTES = 32;
const CLASS_KEY_ID = /^ck_[a-z2-7]{16}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function corrupt(message: string): CofferError {
  return new CofferError('EBADMSG', `backup payload: ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function count(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
}

function withJson(json: unknown, raw: Uint8Array[]): Uint8Array[] {
  const text = utf8.encode(JSON.stringify(json));
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, text.length);
  return [length, text, ...raw];
}

/** Splits `uint32 J ‖ JSON ‖ rest` and parses the JSON. */
function splitJson(body: Uint8Array, what: string): { json: unknown; rest: Uint8Array } {
  if (body.length < 4) throw corrupt(`${what} record too short`);
  const jsonLength = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
  if (4 + jsonLength > body.length) throw corrupt(`${what} record JSON runs past the record`);
  try {
    return {
      json: JSON.parse(utf8.decode(body.subarray(4, 4 + jsonLength))),
      rest: body.subarray(4 + jsonLength),
    };
  } catch {
    throw corrupt(`${what} record is not JSON`);
  }
}

/** Body of the `0x03` record: `{ classKeyId, history, classKeys: [{ id, createdAt }] }` ‖ the keys. */
export function encodeKeychainBody(keychain: Omit<ExportedKeychain, 'items'>): Uint8Array[] {
  return withJson(
    {
      classKeyId: keychain.classKeyId,
      history: { count: keychain.history.count, bytes: keychain.history.bytes },
      classKeys: keychain.classKeys.map((k) => ({ id: k.id, createdAt: k.createdAt })),
    },
    keychain.classKeys.map((k) => k.key),
  );
}

/** Body of a `0x04` record: `{ uuid, current, history: [{ version, bytes }] }` ‖ current ‖ history. */
export function encodeItemBody(item: ExportedItem): Uint8Array[] {
  return withJson(
    {
      uuid: item.uuid,
      current: item.current.length,
      history: item.history.map((h) => ({ version: h.version, bytes: h.record.length })),
    },
    [item.current, ...item.history.map((h) => h.record)],
  );
}

/** Class keys are views into `body` (no copies): wiping the payload wipes them. */
export function decodeKeychainBody(body: Uint8Array): Omit<ExportedKeychain, 'items'> {
  const { json, rest } = splitJson(body, 'keychain');
  if (
    !isObject(json) ||
    Object.keys(json).length !== 3 ||
    typeof json.classKeyId !== 'string' ||
    !CLASS_KEY_ID.test(json.classKeyId) ||
    !isObject(json.history) ||
    Object.keys(json.history).length !== 2 ||
    !count(json.history.count, 1) ||
    !count(json.history.bytes, 1) ||
    !Array.isArray(json.classKeys) ||
    json.classKeys.length === 0
  )
    throw corrupt('keychain record is malformed');
  const history: HistoryBound = { count: json.history.count, bytes: json.history.bytes };
  if (rest.length !== json.classKeys.length * CLASS_KEY_BYTES)
    throw corrupt('keychain record: class keys do not fill the record');
  const classKeys: ExportedClassKey[] = json.classKeys.map((k: unknown, i: number) => {
    if (
      !isObject(k) ||
      Object.keys(k).length !== 2 ||
      typeof k.id !== 'string' ||
      !CLASS_KEY_ID.test(k.id) ||
      !count(k.createdAt, 0)
    )
      throw corrupt('keychain record: a class key entry is malformed');
    return {
      id: k.id,
      createdAt: k.createdAt,
      key: rest.subarray(i * CLASS_KEY_BYTES, (i + 1) * CLASS_KEY_BYTES),
    };
  });
  return { classKeyId: json.classKeyId, history, classKeys };
}

/** Records are views into `body`. */
export function decodeItemBody(body: Uint8Array): ExportedItem {
  const { json, rest } = splitJson(body, 'item');
  if (
    !isObject(json) ||
    Object.keys(json).length !== 3 ||
    typeof json.uuid !== 'string' ||
    !UUID.test(json.uuid) ||
    !count(json.current, 1) ||
    !Array.isArray(json.history)
  )
    throw corrupt('item record is malformed');
  const uuid = json.uuid;
  let at = json.current;
  if (at > rest.length) throw corrupt(`item ${uuid}: records run past the record`);
  const current = rest.subarray(0, at);
  const history = json.history.map((h: unknown) => {
    if (!isObject(h) || Object.keys(h).length !== 2 || !count(h.version, 1) || !count(h.bytes, 1))
      throw corrupt(`item ${uuid}: a history entry is malformed`);
    if (at + h.bytes > rest.length) throw corrupt(`item ${uuid}: records run past the record`);
    const record = rest.subarray(at, at + h.bytes);
    at += h.bytes;
    return { version: h.version, record };
  });
  if (at !== rest.length) throw corrupt(`item ${uuid}: trailing bytes in its record`);
  return { uuid, current, history };
}
