// Distinguished names for X.509 (SPEC §14.8.1): a strict parser for a subset of RFC 4514 strings
// and the DER encoding of the Name (RFC 5280 §4.1.2.4). Supported: the attribute types below by
// name (case-insensitive) or as a dotted OID; multi-valued RDNs with '+'; RFC 4514 §2.4 escapes
// (`\` before , + " \ < > ; = # or a leading/trailing space, and `\XX` hex bytes forming UTF-8).
// Not supported (EINVAL): '#'-prefixed BER values, unescaped special characters, spaces around
// separators (RFC 2253 legacy leniency), empty values, control characters (even escaped),
// duplicate types inside one RDN.
//
// RFC 4514 writes the *last* RDN of the sequence first ("CN=host,O=Org,C=DE" encodes C, O, CN in
// that order), so the parsed list is reversed before encoding; `formatName` writes it back that way.
import { CofferError } from '../errors.js';
import { encodeOid, encodeSequence, encodeTlv } from './asn1.js';

const STRING_TAG = Object.freeze({ UTF8: 0x0c, PRINTABLE: 0x13, IA5: 0x16 });
const SET = 0x31;

interface AttributeType {
  oid: string;
  /** RFC 5280 App. A: countryName, serialNumber, dnQualifier are PrintableString; emailAddress IA5. */
  tag: number;
  maxLength: number;
}

/** The names RFC 4514 §3 defines, plus the PKCS#9 emailAddress and serialNumber that CAs use. */
export const ATTRIBUTE_TYPES: Readonly<Record<string, AttributeType>> = Object.freeze({
  CN: { oid: '2.5.4.3', tag: STRING_TAG.UTF8, maxLength: 64 },
  L: { oid: '2.5.4.7', tag: STRING_TAG.UTF8, maxLength: 128 },
  ST: { oid: '2.5.4.8', tag: STRING_TAG.UTF8, maxLength: 128 },
  O: { oid: '2.5.4.10', tag: STRING_TAG.UTF8, maxLength: 64 },
  OU: { oid: '2.5.4.11', tag: STRING_TAG.UTF8, maxLength: 64 },
  C: { oid: '2.5.4.6', tag: STRING_TAG.PRINTABLE, maxLength: 2 },
  STREET: { oid: '2.5.4.9', tag: STRING_TAG.UTF8, maxLength: 128 },
  SERIALNUMBER: { oid: '2.5.4.5', tag: STRING_TAG.PRINTABLE, maxLength: 64 },
  DC: { oid: '0.9.2342.19200300.100.1.25', tag: STRING_TAG.IA5, maxLength: 63 },
  UID: { oid: '0.9.2342.19200300.100.1.1', tag: STRING_TAG.UTF8, maxLength: 256 },
  EMAILADDRESS: { oid: '1.2.840.113549.1.9.1', tag: STRING_TAG.IA5, maxLength: 255 },
});

export interface NameAttribute {
  type: string;
  oid: string;
  value: string;
}

/** RDNs in *encoding* order (the first RDN of the Name SEQUENCE first). */
export type ParsedName = NameAttribute[][];

const MAX_DN_LENGTH = 4096;
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const SPECIAL = ',+"\\<>;=#';

function fail(why: string): never {
  throw new CofferError('EINVAL', `malformed distinguished name: ${why}`);
}

function attributeType(name: string): { type: string; spec: AttributeType } {
  if (/^[0-9]+(\.[0-9]+)+$/.test(name)) {
    const known = Object.entries(ATTRIBUTE_TYPES).find(([, t]) => t.oid === name);
    if (known) return { type: known[0], spec: known[1] };
    encodeOid(name); // validates the OID
    return { type: name, spec: { oid: name, tag: STRING_TAG.UTF8, maxLength: 256 } };
  }
  const upper = name.toUpperCase();
  const spec = ATTRIBUTE_TYPES[upper === 'E' ? 'EMAILADDRESS' : upper];
  if (spec === undefined) fail(`unknown attribute type '${name}'`);
  return { type: upper === 'E' ? 'EMAILADDRESS' : upper, spec };
}

/** Reads one value up to an unescaped ',' or '+'; returns the value and the index after it. */
function readValue(dn: string, start: number): { value: string; end: number } {
  if (dn[start] === '#') fail("'#'-prefixed BER values are not supported");
  const bytes: number[] = [];
  const enc = new TextEncoder();
  let i = start;
  let escapedTail = false;
  for (; i < dn.length; i++) {
    const c = dn[i]!;
    if (c === ',' || c === '+') break;
    escapedTail = false;
    if (c === '\\') {
      const next = dn[i + 1];
      if (next === undefined) fail('dangling escape');
      if (SPECIAL.includes(next) || next === ' ') {
        bytes.push(next.charCodeAt(0));
        i++;
        escapedTail = next === ' ';
        continue;
      }
      const hex = dn.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) fail(`bad escape '\\${next}'`);
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
      continue;
    }
    if (c === '"' || c === ';' || c === '<' || c === '>' || c === '=') fail(`unescaped '${c}' in a value`);
    bytes.push(...enc.encode(c));
  }
  if (bytes.length === 0) fail('empty value');
  // Control characters (also when hex-escaped) make names that display as something else.
  if (bytes.some((b) => b < 0x20 || b === 0x7f)) fail('control characters in a value');
  // RFC 4514 §2.4: a leading or trailing space is part of the value only when escaped.
  if (dn[start] === ' ' || (dn[i - 1] === ' ' && !escapedTail)) fail('unescaped leading or trailing space');
  let value: string;
  try {
    value = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    fail('escaped bytes are not UTF-8');
  }
  return { value, end: i };
}

/** Parses an RFC 4514 string (the subset above) into RDNs in encoding order. */
export function parseName(dn: unknown): ParsedName {
  if (typeof dn !== 'string' || dn.length === 0)
    throw new CofferError('EINVAL', 'distinguished name must be a non-empty string');
  if (dn.length > MAX_DN_LENGTH)
    throw new CofferError('EINVAL', `distinguished name over ${MAX_DN_LENGTH} characters`);
  const rdns: ParsedName = [];
  let rdn: NameAttribute[] = [];
  let i = 0;
  for (;;) {
    const eq = dn.indexOf('=', i);
    if (eq <= i) fail(`expected 'type=value' at offset ${i}`);
    const typeName = dn.slice(i, eq);
    if (!/^[A-Za-z][A-Za-z0-9-]*$|^[0-9]+(\.[0-9]+)+$/.test(typeName))
      fail(`bad attribute type '${typeName}'`);
    const { type, spec } = attributeType(typeName);
    const { value, end } = readValue(dn, eq + 1);
    if ([...value].length > spec.maxLength)
      fail(`${type} is longer than ${spec.maxLength} characters (RFC 5280 App. A)`);
    if (spec.tag === STRING_TAG.PRINTABLE && !PRINTABLE.test(value))
      fail(`${type} must be PrintableString characters`);
    if (spec.tag === STRING_TAG.IA5 && !/^[\x21-\x7e]+$/.test(value))
      fail(`${type} must be ASCII without spaces`);
    if (type === 'C' && !/^[A-Z]{2}$/.test(value)) fail('C must be a two-letter ISO 3166 code in capitals');
    if (rdn.some((a) => a.oid === spec.oid)) fail(`${type} appears twice in one RDN`);
    rdn.push({ type, oid: spec.oid, value });
    if (end === dn.length) break;
    if (dn[end] === ',') {
      rdns.push(rdn);
      rdn = [];
    }
    i = end + 1;
    if (i === dn.length) fail('trailing separator');
  }
  rdns.push(rdn);
  return rdns.reverse();
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** DER Name: SEQUENCE OF SET OF SEQUENCE { OID, string }; SET members sorted (X.690 §11.6). */
export function encodeName(name: ParsedName): Uint8Array {
  const rdns = name.map((rdn) => {
    const members = rdn.map((a) => {
      const spec = Object.values(ATTRIBUTE_TYPES).find((t) => t.oid === a.oid) ?? { tag: STRING_TAG.UTF8 };
      return encodeSequence(encodeOid(a.oid), encodeTlv(spec.tag, new TextEncoder().encode(a.value)));
    });
    members.sort(compareBytes);
    return encodeTlv(SET, ...members);
  });
  return encodeSequence(...rdns);
}

function escapeValue(value: string): string {
  let out = '';
  [...value].forEach((c, i, all) => {
    const edgeSpace = c === ' ' && (i === 0 || i === all.length - 1);
    out += SPECIAL.includes(c) || edgeSpace ? `\\${c}` : c;
  });
  return out;
}

/** The RFC 4514 string of a parsed name (last RDN first), for messages and round trips. */
export function formatName(name: ParsedName): string {
  return [...name]
    .reverse()
    .map((rdn) =>
      rdn
        .map((a) => `${a.type === 'EMAILADDRESS' ? 'emailAddress' : a.type}=${escapeValue(a.value)}`)
        .join('+'),
    )
    .join(',');
}
