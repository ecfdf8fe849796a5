// Items as plain values (SPEC §16.2 body): building a body for a new item, applying an update's
// changes with per-field clocks, and turning a decrypted record into the ItemInfo / Item callers see.
import { b64 } from '../core/encoding.js';
import type { ItemBody, RecordHeader } from './record.js';
import type { Item, ItemAttributes, ItemAttributesPatch, ItemInfo } from './types.js';

const PLAIN_FIELDS = [
  'label',
  'comment',
  'service',
  'account',
  'server',
  'protocol',
  'port',
  'path',
  'keyId',
] as const;

/** Every field an item has, as named in `clocks` (`secret`, `attr.<name>`, `custom.<name>`). */
export function fieldNames(attributes: ItemAttributes, hasSecret: boolean): string[] {
  const out = hasSecret ? ['secret'] : [];
  for (const name of PLAIN_FIELDS) if (attributes[name] !== undefined) out.push(`attr.${name}`);
  for (const name of Object.keys(attributes.custom ?? {})) out.push(`custom.${name}`);
  return out;
}

/** A copy with empty `custom` dropped, so equal items have equal bodies. */
export function tidyAttributes(attributes: ItemAttributes): ItemAttributes {
  const out: ItemAttributes = {};
  for (const name of PLAIN_FIELDS) {
    const value = attributes[name];
    if (value !== undefined) (out as Record<string, unknown>)[name] = value;
  }
  if (attributes.custom && Object.keys(attributes.custom).length > 0) out.custom = { ...attributes.custom };
  return out;
}

/**
 * Applies an update: named attributes replaced, null removes, `custom` merged by name. Only fields
 * whose value changes get the new clock; a removed field keeps a clock (SPEC §16.2).
 */
export function applyPatch(
  body: ItemBody,
  patch: { attributes?: ItemAttributesPatch; secret?: Uint8Array },
  clock: string,
  now: number,
): ItemBody {
  const attributes: Record<string, unknown> = { ...body.attributes };
  const custom: Record<string, string> = { ...(body.attributes.custom ?? {}) };
  const clocks = { ...body.clocks };
  for (const [name, value] of Object.entries(patch.attributes ?? {})) {
    if (name === 'custom') {
      for (const [field, v] of Object.entries(value as Record<string, string | null>)) {
        if (v === null) {
          if (field in custom) {
            delete custom[field];
            clocks[`custom.${field}`] = clock;
          }
        } else if (custom[field] !== v) {
          custom[field] = v;
          clocks[`custom.${field}`] = clock;
        }
      }
    } else if (value === null) {
      if (attributes[name] !== undefined) {
        delete attributes[name];
        clocks[`attr.${name}`] = clock;
      }
    } else if (attributes[name] !== value) {
      attributes[name] = value;
      clocks[`attr.${name}`] = clock;
    }
  }
  attributes.custom = custom;
  let secret = body.secret;
  if (patch.secret !== undefined) {
    const next = b64.encode(patch.secret);
    if (next !== secret) {
      secret = next;
      clocks.secret = clock;
    }
  }
  return {
    ...body,
    attributes: tidyAttributes(attributes as ItemAttributes),
    secret,
    clocks,
    modifiedAt: now,
  };
}

export function toInfo(header: RecordHeader, body: ItemBody): ItemInfo {
  return {
    id: header.uuid,
    kind: body.kind,
    group: body.group,
    sync: body.sync,
    attributes: structuredClone(body.attributes),
    version: header.version,
    createdAt: body.createdAt,
    modifiedAt: body.modifiedAt,
    deviceId: header.deviceId,
    ...(header.tomb !== undefined ? { deletedAt: header.tomb } : {}),
  };
}

export function toItem(header: RecordHeader, body: ItemBody): Item {
  return { ...toInfo(header, body), secret: b64.decode(body.secret) };
}
