// Input checks for the keychain (SPEC §16.7): malformed input is EINVAL, over a bound E2BIG, always
// before anything is read or written; the outputs are normalised copies the keychain can trust.
import { assertName } from '../core/names.js';
import { CofferError } from '../errors.js';
import {
  type AddItemSpec,
  DEFAULT_GROUP,
  type FindQuery,
  type HistoryBound,
  ITEM_KINDS,
  ITEM_LIMITS,
  type ItemAttributes,
  type ItemAttributesPatch,
  type ItemKind,
} from './types.js';

const STRING_ATTRIBUTES = ['label', 'service', 'account', 'server', 'protocol', 'path'] as const;
const CUSTOM_NAME = /^[A-Za-z0-9 ._-]{1,64}$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Well-formed UTF-16 (no lone surrogate), so the UTF-8 stored round-trips exactly. */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}
const ATTRIBUTE_NAMES = new Set([...STRING_ATTRIBUTES, 'comment', 'port', 'keyId', 'custom']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function assertText(name: string, value: unknown, maxBytes: number): asserts value is string {
  if (typeof value !== 'string') throw new CofferError('EINVAL', `${name} must be a string`);
  if (Buffer.byteLength(value, 'utf8') > maxBytes)
    throw new CofferError('E2BIG', `${name} is longer than ${maxBytes} bytes`);
  if (!isWellFormed(value)) throw new CofferError('EINVAL', `${name} is not well-formed Unicode`);
}

export function assertKind(value: unknown): asserts value is ItemKind {
  if (typeof value !== 'string' || !(ITEM_KINDS as readonly string[]).includes(value))
    throw new CofferError('EINVAL', `kind must be one of ${ITEM_KINDS.join(', ')}`);
}

export function assertGroup(value: unknown): asserts value is string {
  try {
    assertName('app', value);
  } catch {
    throw new CofferError('EINVAL', 'access group must match [a-z0-9][a-z0-9._-]{0,63} (an app name)');
  }
}

function checkCustom(value: unknown, allowNull: boolean): Record<string, string | null> {
  if (!isObject(value)) throw new CofferError('EINVAL', 'attributes.custom must be an object of strings');
  const entries = Object.entries(value);
  if (entries.length > ITEM_LIMITS.customFields)
    throw new CofferError('E2BIG', `at most ${ITEM_LIMITS.customFields} custom fields`);
  const out: Record<string, string | null> = {};
  for (const [name, v] of entries) {
    if (!CUSTOM_NAME.test(name))
      throw new CofferError('EINVAL', 'custom field names must match [A-Za-z0-9 ._-]{1,64}');
    if (v === null && allowNull) out[name] = null;
    else {
      assertText(`custom field '${name}'`, v, ITEM_LIMITS.customValueBytes);
      out[name] = v;
    }
  }
  return out;
}

function checkAttributes(value: unknown, allowNull: boolean): Record<string, unknown> {
  if (!isObject(value)) throw new CofferError('EINVAL', 'attributes must be an object');
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(value)) {
    if (!ATTRIBUTE_NAMES.has(name)) throw new CofferError('EINVAL', `unknown attribute ${name}`);
    if (v === undefined) continue;
    if (v === null) {
      if (!allowNull || name === 'custom' || name === 'keyId')
        throw new CofferError('EINVAL', `attribute ${name} cannot be null`);
      out[name] = null;
    } else if (name === 'port') {
      if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > 65535)
        throw new CofferError('EINVAL', 'port must be 0..65535');
      out[name] = v;
    } else if (name === 'custom') {
      out[name] = checkCustom(v, allowNull);
    } else {
      assertText(
        `attribute ${name}`,
        v,
        name === 'comment' ? ITEM_LIMITS.commentBytes : ITEM_LIMITS.attributeBytes,
      );
      out[name] = v;
    }
  }
  return out;
}

export function toSecretBytes(value: unknown): Uint8Array {
  let bytes: Uint8Array;
  if (typeof value === 'string') {
    if (!isWellFormed(value)) throw new CofferError('EINVAL', 'secret is not well-formed Unicode');
    bytes = new TextEncoder().encode(value);
  } else if (value instanceof Uint8Array) bytes = Uint8Array.from(value);
  else throw new CofferError('EINVAL', 'secret must be bytes or a string');
  if (bytes.length > ITEM_LIMITS.secretBytes)
    throw new CofferError('E2BIG', `secret is larger than ${ITEM_LIMITS.secretBytes} bytes`);
  return bytes;
}

/** What each kind needs (SPEC §16.2 attributes). */
export function checkKindAttributes(kind: ItemKind, attributes: ItemAttributes): void {
  const need = (field: keyof ItemAttributes) => {
    const v = attributes[field];
    if (typeof v !== 'string' || v.trim().length === 0)
      throw new CofferError('EINVAL', `a ${kind} item needs attributes.${field}`);
  };
  if (kind === 'generic-password') need('service');
  if (kind === 'internet-password') need('server');
  if (kind === 'key') need('keyId');
  else if (attributes.keyId !== undefined)
    throw new CofferError('EINVAL', 'attributes.keyId belongs to items of kind key');
}

export interface ValidAdd {
  kind: ItemKind;
  attributes: ItemAttributes;
  secret: Uint8Array;
  sync: boolean;
  group: string;
}

export function validateAdd(spec: unknown): ValidAdd {
  if (!isObject(spec)) throw new CofferError('EINVAL', 'item must be an object');
  for (const field of Object.keys(spec)) {
    if (!['kind', 'attributes', 'secret', 'sync', 'group'].includes(field))
      throw new CofferError('EINVAL', `unknown item field ${field}`);
  }
  const s = spec as unknown as AddItemSpec;
  assertKind(s.kind);
  const attributes = checkAttributes(s.attributes ?? {}, false) as ItemAttributes;
  checkKindAttributes(s.kind, attributes);
  if (s.sync !== undefined && typeof s.sync !== 'boolean')
    throw new CofferError('EINVAL', 'sync must be a boolean');
  const group = s.group ?? DEFAULT_GROUP;
  assertGroup(group);
  if (s.kind === 'key' && s.secret !== undefined)
    throw new CofferError('EINVAL', 'a key item takes no secret: its material stays with the key');
  const secret = s.secret === undefined ? new Uint8Array(0) : toSecretBytes(s.secret);
  return { kind: s.kind, attributes, secret, sync: s.sync !== false, group };
}

export interface ValidPatch {
  attributes?: ItemAttributesPatch;
  secret?: Uint8Array;
}

export function validatePatch(patch: unknown): ValidPatch {
  if (!isObject(patch)) throw new CofferError('EINVAL', 'changes must be an object');
  for (const field of Object.keys(patch)) {
    if (!['attributes', 'secret'].includes(field)) throw new CofferError('EINVAL', `unknown change ${field}`);
  }
  const out: ValidPatch = {};
  if (patch.attributes !== undefined)
    out.attributes = checkAttributes(patch.attributes, true) as ItemAttributesPatch;
  if (patch.secret !== undefined) out.secret = toSecretBytes(patch.secret);
  if (out.attributes === undefined && out.secret === undefined)
    throw new CofferError('EINVAL', 'an update needs attributes or a secret');
  return out;
}

export function validateExpectedVersion(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 1)
    throw new CofferError('EINVAL', 'expectedVersion must be a positive integer');
  return value as number;
}

export function validateFind(query: unknown): FindQuery & { limit: number } {
  const q = query === undefined ? {} : query;
  if (!isObject(q)) throw new CofferError('EINVAL', 'query must be an object');
  const known = ['kind', 'service', 'account', 'server', 'label', 'group', 'limit', 'cursor'];
  for (const field of Object.keys(q)) {
    if (!known.includes(field)) throw new CofferError('EINVAL', `unknown query field ${field}`);
  }
  const out: FindQuery & { limit: number } = { limit: ITEM_LIMITS.defaultFindLimit };
  if (q.kind !== undefined) {
    assertKind(q.kind);
    out.kind = q.kind;
  }
  for (const field of ['service', 'account', 'server', 'label'] as const) {
    if (q[field] === undefined) continue;
    assertText(field, q[field], ITEM_LIMITS.attributeBytes);
    out[field] = q[field] as string;
  }
  if (q.group !== undefined) {
    assertGroup(q.group);
    out.group = q.group;
  }
  if (q.limit !== undefined) {
    if (
      !Number.isSafeInteger(q.limit) ||
      (q.limit as number) < 1 ||
      (q.limit as number) > ITEM_LIMITS.findLimit
    )
      throw new CofferError('EINVAL', `limit must be 1..${ITEM_LIMITS.findLimit}`);
    out.limit = q.limit as number;
  }
  if (q.cursor !== undefined) {
    if (typeof q.cursor !== 'string') throw new CofferError('EINVAL', 'cursor must be a string');
    out.cursor = q.cursor;
  }
  return out;
}

export function validateHistoryBound(value: unknown): HistoryBound {
  if (!isObject(value)) throw new CofferError('EINVAL', 'history bound must be an object');
  const { count, bytes } = value;
  if (!Number.isSafeInteger(count) || (count as number) < 1 || (count as number) > ITEM_LIMITS.historyCount)
    throw new CofferError('EINVAL', `history count must be 1..${ITEM_LIMITS.historyCount} (never zero)`);
  if (!Number.isSafeInteger(bytes) || (bytes as number) < 1 || (bytes as number) > ITEM_LIMITS.historyBytes)
    throw new CofferError('EINVAL', `history bytes must be 1..${ITEM_LIMITS.historyBytes} (never zero)`);
  return { count: count as number, bytes: bytes as number };
}
