// Records as they travel (SPEC §17.2): the keychain's stored record (§16.2) as the JSON object
// `{uuid, parentKeyId, gencount, clock, deviceId, wrappedKey, encItem, tomb?}` and back, byte for
// byte, so that both AEADs (which bind the header bytes as stored) verify on the receiving device
// and any change to a travelling field fails there. A stored header that the wire fields cannot
// rebuild exactly (an unknown field, a non-canonical encoding) is refused before it is sent.
import { b64, canonicalJson, textEncoder } from '../core/encoding.js';
import { CofferError } from '../errors.js';
import { parseRecord } from '../keychain/record.js';

export interface WireRecord {
  uuid: string;
  parentKeyId: string;
  gencount: number;
  clock: string;
  deviceId: string;
  /** b64 of the 60-byte wrapped content key. */
  wrappedKey: string;
  /** b64 of nonce ‖ ciphertext ‖ tag of the padded body. */
  encItem: string;
  /** Deletion time in ms, on a tombstone only. */
  tomb?: number;
}

const WIRE_FIELDS = new Set([
  'uuid',
  'parentKeyId',
  'gencount',
  'clock',
  'deviceId',
  'wrappedKey',
  'encItem',
  'tomb',
]);
const HEADER_FIELDS = new Set(['uuid', 'parentKeyId', 'version', 'clock', 'deviceId', 'tomb']);

function headerOf(w: {
  uuid: unknown;
  parentKeyId: unknown;
  gencount: unknown;
  clock: unknown;
  deviceId: unknown;
  tomb?: unknown;
}) {
  return canonicalJson({
    clock: w.clock,
    deviceId: w.deviceId,
    parentKeyId: w.parentKeyId,
    ...(w.tomb !== undefined ? { tomb: w.tomb } : {}),
    uuid: w.uuid,
    version: w.gencount,
  });
}

/** The stored record → its wire form. EINVAL for a header the wire cannot carry exactly. */
export function toWire(recordBytes: Uint8Array): WireRecord {
  const parsed = parseRecord(recordBytes);
  const h = parsed.header;
  for (const name of Object.keys(h))
    if (!HEADER_FIELDS.has(name))
      throw new CofferError('EINVAL', `record header field ${name} cannot travel in sync v1`);
  const wire: WireRecord = {
    uuid: h.uuid,
    parentKeyId: h.parentKeyId,
    gencount: h.version,
    clock: h.clock,
    deviceId: h.deviceId,
    wrappedKey: b64.encode(parsed.wrappedKey),
    encItem: b64.encode(parsed.encItem),
    ...(h.tomb !== undefined ? { tomb: h.tomb } : {}),
  };
  if (headerOf({ ...h, gencount: h.version }) !== Buffer.from(parsed.headerBytes).toString('utf8'))
    throw new CofferError('EINVAL', 'record header is not in canonical form and cannot travel');
  return wire;
}

function decodeB64(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string') throw new CofferError('EBADMSG', `sync record: ${what}`);
  try {
    const bytes = b64.decode(value);
    if (b64.encode(bytes) !== value) throw new Error('not canonical');
    return bytes;
  } catch {
    throw new CofferError('EBADMSG', `sync record: ${what} is not base64`);
  }
}

/**
 * A received wire record → the stored record's bytes (SPEC §17.2), checked by the keychain's own
 * parser. Decryption with the class key is what authenticates it; this only rebuilds the layout.
 */
export function fromWire(value: unknown): Uint8Array {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CofferError('EBADMSG', 'sync record: not an object');
  const w = value as Record<string, unknown>;
  for (const name of Object.keys(w))
    if (!WIRE_FIELDS.has(name)) throw new CofferError('EBADMSG', `sync record: unknown field ${name}`);
  const header = textEncoder.encode(headerOf(w as Parameters<typeof headerOf>[0]));
  const wrappedKey = decodeB64(w.wrappedKey, 'wrappedKey');
  const encItem = decodeB64(w.encItem, 'encItem');
  const out = new Uint8Array(4 + 4 + header.length + 2 + wrappedKey.length + encItem.length);
  const view = new DataView(out.buffer);
  out.set(textEncoder.encode('CKI1'), 0);
  view.setUint32(4, header.length, false);
  out.set(header, 8);
  if (wrappedKey.length > 0xffff) throw new CofferError('EBADMSG', 'sync record: wrappedKey length');
  view.setUint16(8 + header.length, wrappedKey.length, false);
  out.set(wrappedKey, 10 + header.length);
  out.set(encItem, 10 + header.length + wrappedKey.length);
  const parsed = parseRecord(out);
  // The rebuilt header must say what the wire said (types included: "2" is not 2).
  const h = parsed.header;
  if (h.uuid !== w.uuid || h.version !== w.gencount || h.clock !== w.clock || h.tomb !== w.tomb)
    throw new CofferError('EBADMSG', 'sync record: fields do not round-trip');
  return out;
}
