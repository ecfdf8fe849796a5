// The merge of two versions of one item (SPEC §17.4), run by a device on the decrypted bodies when
// its copy and the server's differ. Field by field, the change with the later hybrid-logical-clock
// stamp wins (the device id inside the clock breaks ties), so two edits of different fields both
// survive; delete against edit is decided by whether any edit is later than the delete. Whatever an
// input held that the result does not is returned for the item's history: a merge never destroys
// an acknowledged write.
import { canonicalJson } from '../core/encoding.js';
import { CofferError } from '../errors.js';
import { parseClock } from '../keychain/clock.js';
import type { ItemBody } from '../keychain/record.js';
import type { ItemAttributes } from '../keychain/types.js';

/** One version of an item as a device holds it after decryption (header fields + body). */
export interface ItemVersion {
  uuid: string;
  gencount: number;
  /** The record's clock: the write that made this version (for a tombstone, the delete). */
  clock: string;
  deviceId: string;
  /** Present on a tombstone: the deletion time in ms (SPEC §16.2). */
  tomb?: number;
  body: ItemBody;
}

/** A field value that did not make it into the result, with the stamp it carried. */
export interface SupersededEdit {
  field: string;
  /** The value (canonical JSON of it), or null when the losing edit removed the field. */
  value: string | null;
  clock: string;
}

export interface MergeResult {
  /** `kept`: the result is one of the inputs unchanged; `combined`: fields from both. */
  outcome: 'kept' | 'combined';
  /** The version the result is or is built on: the surviving one (SPEC §17.4). */
  winner: ItemVersion;
  /** The result's body; for `kept`, the winner's body itself. */
  body: ItemBody;
  /** Set when the result is a tombstone. */
  tomb?: number;
  /** The result's record clock: the winner's (a merge is not an edit and takes no new stamp). */
  clock: string;
  /** The inputs that differ from the result, oldest clock first: they go to the item's history. */
  history: ItemVersion[];
  /** Field values of the inputs that the result does not carry (each is in `history`). */
  superseded: SupersededEdit[];
}

const NO_CLOCK = '';
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
];

/** field name (as in `clocks`) → canonical JSON of its value, for every field the body holds. */
function fieldValues(body: ItemBody): Map<string, string> {
  const out = new Map<string, string>();
  if (body.secret !== '') out.set('secret', JSON.stringify(body.secret));
  const attributes = body.attributes as Record<string, unknown>;
  for (const name of PLAIN_FIELDS)
    if (attributes[name] !== undefined) out.set(`attr.${name}`, canonicalJson(attributes[name]));
  for (const [name, value] of Object.entries(body.attributes.custom ?? {}))
    out.set(`custom.${name}`, JSON.stringify(value));
  return out;
}

function maxFieldClock(body: ItemBody): string {
  let max = NO_CLOCK;
  for (const clock of Object.values(body.clocks)) if (clock > max) max = clock;
  return max;
}

/** Total order of versions: record clock, then the canonical body (only equal clocks reach it). */
function compareVersions(a: ItemVersion, b: ItemVersion): number {
  if (a.clock !== b.clock) return a.clock < b.clock ? -1 : 1;
  const ka = canonicalJson({ body: a.body, tomb: a.tomb ?? null });
  const kb = canonicalJson({ body: b.body, tomb: b.tomb ?? null });
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function sameContent(a: ItemVersion, body: ItemBody, tomb: number | undefined): boolean {
  return (a.tomb ?? null) === (tomb ?? null) && canonicalJson(a.body) === canonicalJson(body);
}

function sameFields(a: ItemBody, b: ItemBody): boolean {
  const pick = (x: ItemBody) =>
    canonicalJson({ attributes: x.attributes, clocks: x.clocks, secret: x.secret });
  return pick(a) === pick(b);
}

function check(v: ItemVersion): void {
  parseClock(v.clock);
  for (const clock of Object.values(v.body.clocks)) parseClock(clock);
  if (!Number.isSafeInteger(v.gencount) || v.gencount < 1)
    throw new CofferError('EINVAL', 'merge: bad gencount');
}

/** Builds a body's attributes and secret from chosen field values (inverse of fieldValues). */
function buildBody(base: ItemBody, values: Map<string, string>, clocks: Record<string, string>): ItemBody {
  const attributes: Record<string, unknown> = {};
  const custom: Record<string, string> = {};
  let secret = '';
  for (const [field, json] of values) {
    const value = JSON.parse(json) as unknown;
    if (field === 'secret') secret = value as string;
    else if (field.startsWith('attr.')) attributes[field.slice(5)] = value;
    else custom[field.slice(7)] = value as string;
  }
  if (Object.keys(custom).length > 0) attributes.custom = custom;
  return { ...base, attributes: attributes as ItemAttributes, secret, clocks };
}

function result(
  outcome: MergeResult['outcome'],
  winner: ItemVersion,
  body: ItemBody,
  inputs: ItemVersion[],
  superseded: SupersededEdit[],
): MergeResult {
  const history = inputs.filter((v) => !sameContent(v, body, winner.tomb)).sort(compareVersions);
  superseded.sort((x, y) => (x.field < y.field ? -1 : x.field > y.field ? 1 : x.clock < y.clock ? -1 : 1));
  return {
    outcome,
    winner,
    body,
    ...(winner.tomb !== undefined ? { tomb: winner.tomb } : {}),
    clock: winner.clock,
    history,
    superseded,
  };
}

function allFields(v: ItemVersion): SupersededEdit[] {
  const values = fieldValues(v.body);
  const names = new Set([...values.keys(), ...Object.keys(v.body.clocks)]);
  return [...names].map((field) => ({
    field,
    value: values.get(field) ?? null,
    clock: v.body.clocks[field] ?? NO_CLOCK,
  }));
}

/**
 * Merges two versions of one item (SPEC §17.4). The result does not depend on the argument order.
 * - live and live: per field, the value with the later clock; the result is `kept` when that is one
 *   input's whole content, otherwise `combined` (metadata from the later record, modifiedAt the max).
 * - tombstone and live: the live version survives, whole, if any of its field clocks is later than
 *   the delete's clock (an edit made after, or without seeing, the delete in clock order resurrects
 *   the item); otherwise the delete stands and the live version goes to history.
 * - two tombstones: the later delete.
 */
export function mergeVersions(first: ItemVersion, second: ItemVersion): MergeResult {
  if (first.uuid !== second.uuid) throw new CofferError('EINVAL', 'merge: versions of two different items');
  check(first);
  check(second);
  const [older, newer] = compareVersions(first, second) <= 0 ? [first, second] : [second, first];
  const inputs = [older, newer];
  if (sameContent(older, newer.body, newer.tomb)) return result('kept', newer, newer.body, inputs, []);

  if (older.tomb !== undefined || newer.tomb !== undefined) {
    if (older.tomb !== undefined && newer.tomb !== undefined)
      return result('kept', newer, newer.body, inputs, []);
    const tombstone = older.tomb !== undefined ? older : newer;
    const live = tombstone === older ? newer : older;
    if (maxFieldClock(live.body) > tombstone.clock) return result('kept', live, live.body, inputs, []);
    return result('kept', tombstone, tombstone.body, inputs, allFields(live));
  }

  const olderValues = fieldValues(older.body);
  const newerValues = fieldValues(newer.body);
  const names = new Set([
    ...olderValues.keys(),
    ...newerValues.keys(),
    ...Object.keys(older.body.clocks),
    ...Object.keys(newer.body.clocks),
  ]);
  const values = new Map<string, string>();
  const clocks: Record<string, string> = {};
  const superseded: SupersededEdit[] = [];
  for (const field of [...names].sort()) {
    const a = { value: olderValues.get(field) ?? null, clock: older.body.clocks[field] ?? NO_CLOCK };
    const b = { value: newerValues.get(field) ?? null, clock: newer.body.clocks[field] ?? NO_CLOCK };
    // Later stamp wins; equal stamps with unequal values (only a bug or a forgery makes them) are
    // ordered by value so that every device still picks the same one.
    const bWins = b.clock !== a.clock ? b.clock > a.clock : (b.value ?? '') >= (a.value ?? '');
    const [win, lose] = bWins ? [b, a] : [a, b];
    if (win.value !== null) values.set(field, win.value);
    if (win.clock !== NO_CLOCK) clocks[field] = win.clock;
    // A side that never held the field (no value, no stamp) loses nothing.
    const held = lose.value !== null || lose.clock !== NO_CLOCK;
    if (held && (lose.value !== win.value || lose.clock !== win.clock)) superseded.push({ field, ...lose });
  }
  const merged = buildBody(newer.body, values, clocks);
  if (sameContent(newer, merged, undefined)) return result('kept', newer, newer.body, inputs, superseded);
  // The older record can carry every winning field when the newer one only re-wrote old stamps.
  if (sameFields(older.body, merged)) return result('kept', older, older.body, inputs, superseded);
  const combined = { ...merged, modifiedAt: Math.max(older.body.modifiedAt, newer.body.modifiedAt) };
  return result('combined', newer, combined, inputs, superseded);
}
