// The backup payload before compression (SPEC §11.4): a sequence of records, one per key, then one
// end record. Secrets travel as raw bytes after each key's JSON, never as JSON text, so they stay in
// buffers the code can wipe instead of immutable JS strings.

import { decodeBase64 } from '../base64.js';
import type { ExportedKey, ExportedVersion } from '../core/dangerous-material.js';
import { KEY_ALGORITHMS, type KeyInfo } from '../core/types.js';
import { utf8 } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import type { ExportedItem, ExportedKeychain } from '../keychain/backup-types.js';
import {
  decodeItemBody,
  decodeKeychainBody,
  encodeItemBody,
  encodeKeychainBody,
  RECORD_ITEM,
  RECORD_KEYCHAIN,
} from './payload-items.js';

export const RECORD_KEY = 0x01;
export const RECORD_END = 0x02;
/** Every key secret is 32 bytes (SPEC §3). */
export const SECRET_BYTES = 32;
const MAX_RECORD_BYTES = 64 * 1024 * 1024;

interface KeyRecordJson {
  info: KeyInfo;
  usage: Record<string, number>;
  versions: { version: number; secret?: number; publicKey?: string }[];
}

export interface EndRecord {
  keyCount: number;
  /** Version 2 (SPEC §11.4): how many item records precede it. */
  itemCount?: number;
  /** Incremental backups: key ids and item uuids the base must already have put in the target store. */
  requires: string[];
}

export interface DecodedPayload {
  keys: ExportedKey[];
  /** Version 2 with items: the keychain record and every item record, in file order. */
  keychain?: ExportedKeychain;
  end: EndRecord;
}

function record(type: number, body: Uint8Array[]): Uint8Array[] {
  const head = new Uint8Array(5);
  head[0] = type;
  new DataView(head.buffer).setUint32(
    1,
    body.reduce((n, part) => n + part.length, 0),
  );
  return [head, ...body];
}

/** One key record: type ‖ uint32 length ‖ uint32 JSON length ‖ JSON ‖ the version secrets in order. */
export function encodeKeyRecord(key: ExportedKey): Uint8Array[] {
  const json: KeyRecordJson = {
    info: key.info,
    usage: key.usage,
    versions: key.versions.map((v) => ({
      version: v.version,
      ...(v.secret ? { secret: v.secret.length } : {}),
      ...(v.publicKey ? { publicKey: Buffer.from(v.publicKey).toString('base64') } : {}),
    })),
  };
  const text = utf8.encode(JSON.stringify(json));
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, text.length);
  const secrets = key.versions.flatMap((v) => (v.secret ? [v.secret] : []));
  return record(RECORD_KEY, [length, text, ...secrets]);
}

export function encodeEndRecord(end: EndRecord): Uint8Array[] {
  const json =
    end.itemCount === undefined
      ? { keyCount: end.keyCount, requires: end.requires }
      : { keyCount: end.keyCount, itemCount: end.itemCount, requires: end.requires };
  return record(RECORD_END, [utf8.encode(JSON.stringify(json))]);
}

/** The `0x03` keychain record (version 2): class keys and history bound. */
export function encodeKeychainRecord(keychain: Omit<ExportedKeychain, 'items'>): Uint8Array[] {
  return record(RECORD_KEYCHAIN, encodeKeychainBody(keychain));
}

/** One `0x04` item record (version 2): its records byte for byte. */
export function encodeItemRecord(item: ExportedItem): Uint8Array[] {
  return record(RECORD_ITEM, encodeItemBody(item));
}

function corrupt(message: string): CofferError {
  // Reached only after every chunk authenticated: a bug in the writer or a forged file with the key.
  return new CofferError('EBADMSG', `backup payload: ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const KEY_ID = /^k_[a-z2-7]{26}$/;
const ITEM_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** The structural checks a restore relies on: ids, names, algorithm, versions 1..n in order. */
function checkKeyJson(value: unknown): KeyRecordJson {
  if (!isObject(value) || !isObject(value.info) || !isObject(value.usage) || !Array.isArray(value.versions)) {
    throw corrupt('key record is malformed');
  }
  const info = value.info as unknown as KeyInfo;
  if (typeof info.id !== 'string' || !KEY_ID.test(info.id)) throw corrupt('key record has no valid id');
  if (typeof info.app !== 'string' || !NAME.test(info.app)) throw corrupt(`key ${info.id}: bad app`);
  if (typeof info.purpose !== 'string' || !NAME.test(info.purpose))
    throw corrupt(`key ${info.id}: bad purpose`);
  if (!(KEY_ALGORITHMS as readonly string[]).includes(info.algorithm))
    throw corrupt(`key ${info.id}: bad algorithm`);
  if (!Array.isArray(info.versions)) throw corrupt(`key ${info.id}: no versions`);
  const versions = value.versions as KeyRecordJson['versions'];
  if (versions.length !== info.versions.length || versions.length === 0) {
    throw corrupt(`key ${info.id}: version list does not match its metadata`);
  }
  versions.forEach((v, i) => {
    if (!isObject(v) || v.version !== i + 1 || info.versions[i]?.version !== i + 1) {
      throw corrupt(`key ${info.id}: versions are not numbered 1..n`);
    }
    if (v.secret !== undefined && v.secret !== SECRET_BYTES)
      throw corrupt(`key ${info.id}: bad secret length`);
    if (v.publicKey !== undefined && typeof v.publicKey !== 'string')
      throw corrupt(`key ${info.id}: bad public key`);
  });
  return value as unknown as KeyRecordJson;
}

function decodeB64(text: string, where: string): Uint8Array {
  try {
    return decodeBase64(text, 'base64', where);
  } catch {
    throw corrupt(`${where}: public key is not canonical base64`);
  }
}

/**
 * Parses the whole uncompressed payload. Secrets are views into `payload` (no copies): wiping
 * `payload` after the import wipes them all.
 */
export function decodePayload(payload: Uint8Array, formatVersion = 2): DecodedPayload {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const keys: ExportedKey[] = [];
  let keychain: ExportedKeychain | undefined;
  const seen = new Set<string>();
  let end: EndRecord | undefined;
  let offset = 0;
  while (offset < payload.length) {
    if (end) throw corrupt('data after the end record');
    if (offset + 5 > payload.length) throw corrupt('truncated record header');
    const type = payload[offset]!;
    const length = view.getUint32(offset + 1);
    const start = offset + 5;
    if (length > MAX_RECORD_BYTES || start + length > payload.length)
      throw corrupt('record runs past the end');
    const body = payload.subarray(start, start + length);
    offset = start + length;
    if (type === RECORD_END) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(utf8.decode(body));
      } catch {
        throw corrupt('end record is not JSON');
      }
      const v2 = formatVersion >= 2;
      if (
        !isObject(parsed) ||
        Object.keys(parsed).length !== (v2 ? 3 : 2) ||
        !Number.isSafeInteger(parsed.keyCount) ||
        (v2 && !Number.isSafeInteger(parsed.itemCount)) ||
        !Array.isArray(parsed.requires) ||
        !parsed.requires.every(
          (id) => typeof id === 'string' && (KEY_ID.test(id) || (v2 && ITEM_ID.test(id))),
        )
      ) {
        throw corrupt('end record is malformed');
      }
      end = {
        keyCount: parsed.keyCount as number,
        ...(v2 ? { itemCount: parsed.itemCount as number } : {}),
        requires: parsed.requires as string[],
      };
      continue;
    }
    if ((type === RECORD_KEYCHAIN || type === RECORD_ITEM) && formatVersion < 2)
      throw corrupt(`record type ${type} in a version-${formatVersion} backup`);
    if (type === RECORD_KEYCHAIN) {
      if (keychain) throw corrupt('a second keychain record');
      keychain = { ...decodeKeychainBody(body), items: [] };
      continue;
    }
    if (type === RECORD_ITEM) {
      if (!keychain) throw corrupt('an item record before the keychain record');
      keychain.items.push(decodeItemBody(body));
      continue;
    }
    if (type !== RECORD_KEY) throw corrupt(`unknown record type ${type}`);
    if (length < 4) throw corrupt('key record too short');
    const jsonLength = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
    if (4 + jsonLength > body.length) throw corrupt('key record JSON runs past the record');
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(body.subarray(4, 4 + jsonLength)));
    } catch {
      throw corrupt('key record is not JSON');
    }
    const json = checkKeyJson(parsed);
    if (seen.has(json.info.id)) throw corrupt(`key ${json.info.id} appears twice`);
    seen.add(json.info.id);
    let at = 4 + jsonLength;
    const versions: ExportedVersion[] = json.versions.map((v) => {
      const out: ExportedVersion = { version: v.version };
      if (v.secret !== undefined) {
        if (at + v.secret > body.length) throw corrupt(`key ${json.info.id}: secrets run past the record`);
        out.secret = body.subarray(at, at + v.secret);
        at += v.secret;
      }
      if (v.publicKey !== undefined) out.publicKey = decodeB64(v.publicKey, `key ${json.info.id}`);
      return out;
    });
    if (at !== body.length) throw corrupt(`key ${json.info.id}: trailing bytes in its record`);
    keys.push({ info: json.info, versions, usage: json.usage });
  }
  if (!end) throw corrupt('no end record (truncated)');
  if (end.keyCount !== keys.length) throw corrupt('end record key count does not match the records');
  if (end.itemCount !== undefined && end.itemCount !== (keychain?.items.length ?? 0))
    throw corrupt('end record item count does not match the records');
  return { keys, ...(keychain ? { keychain } : {}), end };
}
