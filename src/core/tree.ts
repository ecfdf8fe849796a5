// The record tree's bytes and algorithms (SPEC §4.1), with no I/O: positions and value hashes of
// records, bucket and inner nodes, the MAC'd root, lookups and batch updates over a node loader the
// caller supplies (verified-storage.ts loads nodes from storage, checks each against the hash its
// parent names and caches them). The shape is a function of the set of entries alone — a node holds
// at most BUCKET_MAX entries as a bucket, more as an inner node of 16 children — so every writer that
// applies the same changes builds byte-identical nodes.
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { keyInput } from '../crypto/held-keys.js';
import { CofferError } from '../errors.js';
import { canonicalJson, textDecoder, textEncoder } from './encoding.js';
import { RollbackError } from './rollback.js';

export const TREE_PREFIX = 'coffer/tree/';
export const ROOT_KEY = 'coffer/tree/root';
const NODE_KEY_PREFIX = 'coffer/tree/n/x';
export const BUCKET_MAX = 64;
const ENTRY_BYTES = 64;
const HASH_BYTES = 32;
const CHILD_BYTES = 4 + HASH_BYTES;
const INNER_BYTES = 1 + 16 * CHILD_BYTES;
const BUCKET = 0x01;
const INNER = 0x02;
const HEX64 = /^[0-9a-f]{64}$/;
const ZERO_HASH = Buffer.alloc(HASH_BYTES);

/** Records the tree commits to: all but the tree itself, audit entries (chained to audit/head) and daemon/. */
export function isTracked(key: string): boolean {
  return !key.startsWith(TREE_PREFIX) && !key.startsWith('audit/e/') && !key.startsWith('daemon/');
}

// One-shot hashing (crypto.hash): a position and a value hash per record written or read, and a node
// hash per node, are on every write's and every cold read's path.
const TAGS = new Map<string, Buffer>();

function tagged(tag: string, data: Uint8Array | string): Buffer {
  if (typeof data === 'string') return hash('sha256', `${tag}\0${data}`, 'buffer');
  let prefix = TAGS.get(tag);
  if (!prefix) {
    prefix = Buffer.from(`${tag}\0`);
    TAGS.set(tag, prefix);
  }
  const input = Buffer.allocUnsafe(prefix.length + data.length);
  prefix.copy(input, 0);
  input.set(data, prefix.length);
  return hash('sha256', input, 'buffer');
}

const KEY_ID_IN_KEY = /(?:^|\/)(k_[a-z2-7]{26})(?=\/|$)/;

/** The key id a record belongs to (all of a key's records share a bucket), else the record key itself. */
export function groupOf(key: string): string {
  return KEY_ID_IN_KEY.exec(key)?.[1] ?? key;
}

/** pos(k) = H(group tag, group(k))[0..4] ‖ H(path tag, k)[0..28]. */
export function position(key: string): Buffer {
  const out = Buffer.allocUnsafe(32);
  tagged('coffer:tree:group:v1', groupOf(key)).copy(out, 0, 0, 4);
  tagged('coffer:tree:path:v1', key).copy(out, 4, 0, 28);
  return out;
}

/** vh(v) over the stored bytes. */
export function valueHash(value: Uint8Array): Buffer {
  return tagged('coffer:tree:value:v1', value);
}

export function nodeHash(bytes: Uint8Array): Buffer {
  return tagged('coffer:tree:node:v1', bytes);
}

export function nodeKey(prefix: string): string {
  return NODE_KEY_PREFIX + prefix;
}

function nibble(pos: Uint8Array, depth: number): number {
  const byte = pos[depth >> 1]!;
  return depth % 2 === 0 ? byte >> 4 : byte & 0x0f;
}

function under(pos: Uint8Array, prefix: string): boolean {
  for (let i = 0; i < prefix.length; i++)
    if (nibble(pos, i) !== Number.parseInt(prefix[i]!, 16)) return false;
  return true;
}

export interface Entry {
  pos: Buffer;
  vh: Buffer;
}

/** A change to the tree: vh undefined deletes the entry at pos. */
export interface Change {
  pos: Buffer;
  vh: Buffer | undefined;
}

// ---- nodes -----------------------------------------------------------------------------------------

export function encodeBucket(entries: readonly Entry[]): Buffer {
  const out = Buffer.allocUnsafe(2 + entries.length * ENTRY_BYTES);
  out[0] = BUCKET;
  out[1] = entries.length;
  entries.forEach((e, i) => {
    e.pos.copy(out, 2 + i * ENTRY_BYTES);
    e.vh.copy(out, 2 + i * ENTRY_BYTES + 32);
  });
  return out;
}

interface Child {
  count: number;
  hash: Buffer | undefined;
}

function encodeInner(children: readonly Child[]): Buffer {
  const out = Buffer.alloc(INNER_BYTES);
  out[0] = INNER;
  children.forEach((child, x) => {
    out.writeUInt32BE(child.count, 1 + x * CHILD_BYTES);
    if (child.hash) child.hash.copy(out, 5 + x * CHILD_BYTES);
  });
  return out;
}

/** Thrown by node checks: the node bytes are not a node the tree could hold at that prefix. */
function damaged(prefix: string, why: string): RollbackError {
  return new RollbackError(
    { kind: 'record', record: nodeKey(prefix) },
    `record tree node ${nodeKey(prefix)} was rolled back or tampered with: ${why} (SPEC §4.1)`,
  );
}

/**
 * Checks a node that hashed to what its parent named (so only a writer holding the tree key's trust
 * could have made it) and returns how many entries lie below it.
 */
export function checkNode(bytes: Buffer, prefix: string): number {
  if (bytes[0] === BUCKET) {
    const n = bytes[1] ?? 0;
    if (n < 1 || n > BUCKET_MAX || bytes.length !== 2 + n * ENTRY_BYTES)
      throw damaged(prefix, 'bad bucket size');
    let previous: Buffer | undefined;
    for (let i = 0; i < n; i++) {
      const pos = bytes.subarray(2 + i * ENTRY_BYTES, 2 + i * ENTRY_BYTES + 32);
      if (!under(pos, prefix)) throw damaged(prefix, 'entry outside the node');
      if (previous && Buffer.compare(previous, pos) >= 0) throw damaged(prefix, 'entries out of order');
      previous = pos;
    }
    return n;
  }
  if (bytes[0] === INNER && bytes.length === INNER_BYTES && prefix.length < 64) {
    let total = 0;
    for (let x = 0; x < 16; x++) {
      const { count, hash } = innerChild(bytes, x);
      if ((count === 0) !== (hash === undefined)) throw damaged(prefix, 'child count and hash disagree');
      total += count;
    }
    if (total <= BUCKET_MAX) throw damaged(prefix, 'inner node with too few entries');
    return total;
  }
  throw damaged(prefix, 'not a tree node');
}

function innerChild(bytes: Buffer, x: number): Child {
  const at = 1 + x * CHILD_BYTES;
  const count = bytes.readUInt32BE(at);
  const hash = bytes.subarray(at + 4, at + CHILD_BYTES);
  return { count, hash: hash.equals(ZERO_HASH) ? undefined : Buffer.from(hash) };
}

function bucketEntries(bytes: Buffer): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < bytes[1]!; i++) {
    const at = 2 + i * ENTRY_BYTES;
    out.push({ pos: bytes.subarray(at, at + 32), vh: bytes.subarray(at + 32, at + 64) });
  }
  return out;
}

function findInBucket(bytes: Buffer, pos: Buffer): Buffer | undefined {
  let lo = 0;
  let hi = bytes[1]! - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const at = 2 + mid * ENTRY_BYTES;
    const order = bytes.compare(pos, 0, 32, at, at + 32);
    if (order === 0) return bytes.subarray(at + 32, at + 64);
    if (order < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/**
 * Loads the node at `prefix` that must hash to `hash`, checked (checkNode) and with its entry count;
 * the loader throws NodeMismatch when storage holds something else there.
 */
export type NodeLoader = (prefix: string, hash: Buffer) => Promise<{ bytes: Buffer; total: number }>;

/** Storage holds another node than the one expected: a concurrent writer, or tampering (caller decides). */
export class NodeMismatch extends Error {
  constructor(readonly prefix: string) {
    super(`record tree node ${nodeKey(prefix)} does not match its parent`);
  }
}

function consistent(prefix: string, expected: number, total: number): void {
  if (expected !== total) throw damaged(prefix, `holds ${total} entries, its parent says ${expected}`);
}

/** The value hash committed at `pos`, or undefined when the tree has no entry there. */
export async function lookup(
  top: Buffer | undefined,
  count: number,
  pos: Buffer,
  load: NodeLoader,
): Promise<Buffer | undefined> {
  let hash = top;
  let expected = count;
  let prefix = '';
  while (hash !== undefined) {
    const node = await load(prefix, hash);
    consistent(prefix, expected, node.total);
    if (node.bytes[0] === BUCKET) return findInBucket(node.bytes, pos);
    const x = nibble(pos, prefix.length);
    const child = innerChild(node.bytes, x);
    hash = child.hash;
    expected = child.count;
    prefix += x.toString(16);
  }
  return undefined;
}

// ---- updates -----------------------------------------------------------------------------------------

export interface TreeUpdate {
  top: Buffer | undefined;
  count: number;
  /** Node record key → new bytes, or null to delete it. */
  writes: Map<string, Buffer | null>;
  /** Every node written, with its prefix and hash, for the caller's cache. */
  made: { prefix: string; hash: Buffer; bytes: Buffer; total: number }[];
}

interface Built {
  hash: Buffer | undefined;
  count: number;
  /** The node's entries when it is a bucket (count ≤ BUCKET_MAX), so a parent can absorb it. */
  entries?: Entry[];
}

class Writer {
  readonly writes = new Map<string, Buffer | null>();
  readonly made: TreeUpdate['made'] = [];

  put(prefix: string, bytes: Buffer, total: number): Buffer {
    const hash = nodeHash(bytes);
    this.writes.set(nodeKey(prefix), bytes);
    this.made.push({ prefix, hash, bytes, total });
    return hash;
  }

  remove(prefix: string): void {
    this.writes.set(nodeKey(prefix), null);
  }

  /** The canonical subtree of sorted `entries` at `prefix`. */
  build(prefix: string, entries: Entry[]): Built {
    if (entries.length === 0) return { hash: undefined, count: 0 };
    if (entries.length <= BUCKET_MAX) {
      return {
        hash: this.put(prefix, encodeBucket(entries), entries.length),
        count: entries.length,
        entries,
      };
    }
    const depth = prefix.length;
    const children: Child[] = [];
    let from = 0;
    for (let x = 0; x < 16; x++) {
      let to = from;
      while (to < entries.length && nibble(entries[to]!.pos, depth) === x) to++;
      const child = this.build(prefix + x.toString(16), entries.slice(from, to));
      children.push({ count: child.count, hash: child.hash });
      from = to;
    }
    return { hash: this.put(prefix, encodeInner(children), entries.length), count: entries.length };
  }
}

/** Merges sorted changes into sorted entries (a change replaces or deletes the entry at its position). */
function merge(entries: readonly Entry[], changes: readonly Change[]): Entry[] {
  const out: Entry[] = [];
  let i = 0;
  let j = 0;
  while (i < entries.length || j < changes.length) {
    const order =
      i >= entries.length ? 1 : j >= changes.length ? -1 : Buffer.compare(entries[i]!.pos, changes[j]!.pos);
    if (order < 0) out.push(entries[i++]!);
    else {
      const change = changes[j++]!;
      if (order === 0) i++;
      if (change.vh !== undefined) out.push({ pos: change.pos, vh: change.vh });
    }
  }
  return out;
}

async function updateNode(
  w: Writer,
  prefix: string,
  hash: Buffer | undefined,
  expected: number,
  changes: Change[],
  load: NodeLoader,
): Promise<Built> {
  if (hash === undefined) {
    const built = w.build(prefix, merge([], changes));
    return built;
  }
  const node = await load(prefix, hash);
  consistent(prefix, expected, node.total);
  if (node.bytes[0] === BUCKET) {
    const merged = merge(bucketEntries(node.bytes), changes);
    if (merged.length === 0) {
      w.remove(prefix);
      return { hash: undefined, count: 0 };
    }
    return w.build(prefix, merged);
  }
  const depth = prefix.length;
  const children: (Child & { entries?: Entry[] })[] = [];
  let from = 0;
  for (let x = 0; x < 16; x++) {
    let to = from;
    while (to < changes.length && nibble(changes[to]!.pos, depth) === x) to++;
    const old = innerChild(node.bytes, x);
    if (to > from) {
      const built = await updateNode(
        w,
        prefix + x.toString(16),
        old.hash,
        old.count,
        changes.slice(from, to),
        load,
      );
      children.push({
        count: built.count,
        hash: built.hash,
        ...(built.entries ? { entries: built.entries } : {}),
      });
    } else {
      children.push(old);
    }
    from = to;
  }
  const total = children.reduce((sum, c) => sum + c.count, 0);
  if (total === 0) {
    w.remove(prefix);
    return { hash: undefined, count: 0 };
  }
  if (total > BUCKET_MAX) {
    return { hash: w.put(prefix, encodeInner(children), total), count: total };
  }
  // Shrunk to a bucket's size: every child is a bucket now (or nothing); absorb them.
  const entries: Entry[] = [];
  for (let x = 0; x < 16; x++) {
    const child = children[x]!;
    if (child.count === 0) continue;
    const childPrefix = prefix + x.toString(16);
    if (child.entries) entries.push(...child.entries);
    else {
      const loaded = await load(childPrefix, child.hash!);
      consistent(childPrefix, child.count, loaded.total);
      entries.push(...bucketEntries(loaded.bytes));
    }
    w.remove(childPrefix);
  }
  return w.build(prefix, entries);
}

function sortChanges(changes: Change[]): Change[] {
  return [...changes].sort((a, b) => Buffer.compare(a.pos, b.pos));
}

/** Applies changes (at most one per position) to the tree with top `top` holding `count` entries. */
export async function updateTree(
  top: Buffer | undefined,
  count: number,
  changes: Change[],
  load: NodeLoader,
): Promise<TreeUpdate> {
  const w = new Writer();
  const built =
    changes.length === 0
      ? { hash: top, count }
      : await updateNode(w, '', top, count, sortChanges(changes), load);
  return { top: built.hash, count: built.count, writes: w.writes, made: w.made };
}

/** The whole tree of `entries` (for the format upgrade, SPEC §4.3). */
export function buildTree(entries: Entry[]): TreeUpdate {
  const w = new Writer();
  const sorted = [...entries].sort((a, b) => Buffer.compare(a.pos, b.pos));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1]!.pos.equals(sorted[i]!.pos))
      throw new CofferError('EINTERNAL', 'two records share a tree position');
  }
  const built = w.build('', sorted);
  return { top: built.hash, count: built.count, writes: w.writes, made: w.made };
}

// ---- root ---------------------------------------------------------------------------------------------

/** One process's claim on an anchor's seal (SPEC §4.2): who is moving it. */
export interface SealOwner {
  host: string;
  pid: number;
  boot?: string;
  start?: string;
  token: string;
  /** When the seal began (ms): owners on another host count as alive for a while after it. */
  at: number;
}

export interface AnchorEntry {
  /** The claim: the anchor value this store has reached. */
  c: number;
  /** The process whose seal (or enrolment) is in flight. */
  p?: SealOwner;
  /** Enrolment in flight. */
  e?: 1;
  /** The anchor blob's instance id (data anchors). */
  i?: string;
}

export interface TreeRoot {
  v: 1;
  seq: number;
  count: number;
  /** Hex hash of the top node, '' for an empty tree. */
  top: string;
  anchors: Record<string, AnchorEntry>;
}

function rootMac(treeKey: Uint8Array, body: TreeRoot): string {
  return createHmac('sha256', keyInput(treeKey))
    .update('coffer:tree:root:v1\0')
    .update(canonicalJson(body))
    .digest('hex');
}

export function encodeRoot(treeKey: Uint8Array, root: TreeRoot): { bytes: Uint8Array; mac: string } {
  const body: TreeRoot = { v: 1, seq: root.seq, count: root.count, top: root.top, anchors: root.anchors };
  const mac = rootMac(treeKey, body);
  return { bytes: textEncoder.encode(JSON.stringify({ ...body, mac })), mac };
}

function damagedRoot(why: string): RollbackError {
  return new RollbackError(
    { kind: 'record', record: ROOT_KEY },
    `record ${ROOT_KEY} was rolled back or tampered with: ${why} (SPEC §4.1)`,
  );
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function validOwner(p: unknown): p is SealOwner {
  if (typeof p !== 'object' || p === null) return false;
  const o = p as Record<string, unknown>;
  return (
    typeof o.host === 'string' &&
    isCount(o.pid) &&
    typeof o.token === 'string' &&
    isCount(o.at) &&
    (o.boot === undefined || typeof o.boot === 'string') &&
    (o.start === undefined || typeof o.start === 'string')
  );
}

function validAnchors(value: unknown): value is Record<string, AnchorEntry> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  for (const entry of Object.values(value)) {
    if (typeof entry !== 'object' || entry === null) return false;
    const e = entry as Record<string, unknown>;
    if (!isCount(e.c)) return false;
    if (e.p !== undefined && !validOwner(e.p)) return false;
    if (e.e !== undefined && e.e !== 1) return false;
    if (e.i !== undefined && (typeof e.i !== 'string' || !/^[0-9a-f]{32}$/.test(e.i))) return false;
  }
  return true;
}

/** Parses and authenticates a root; anything wrong is a RollbackError naming the root record. */
export function decodeRoot(treeKey: Uint8Array, bytes: Uint8Array): { root: TreeRoot; mac: string } {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(textDecoder.decode(bytes)) as Record<string, unknown>;
  } catch {
    throw damagedRoot('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw damagedRoot('not an object');
  const { v, seq, count, top, anchors, mac } = parsed;
  if (
    v !== 1 ||
    !isCount(seq) ||
    seq < 1 ||
    !isCount(count) ||
    typeof top !== 'string' ||
    (top === '' ? count !== 0 : !HEX64.test(top) || count === 0) ||
    !validAnchors(anchors) ||
    typeof mac !== 'string' ||
    !HEX64.test(mac) ||
    Object.keys(parsed).length !== 6
  ) {
    throw damagedRoot('malformed');
  }
  const root: TreeRoot = { v: 1, seq, count, top, anchors };
  const expected = Buffer.from(rootMac(treeKey, root), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(mac, 'hex'))) throw damagedRoot('its MAC does not verify');
  return { root, mac };
}

export function topHash(root: TreeRoot): Buffer | undefined {
  return root.top === '' ? undefined : Buffer.from(root.top, 'hex');
}
