// The circle document (SPEC §17.9): a chain of signed links, each one change (create, add, remove)
// signed with Ed25519 AND ML-DSA-65 by a member of the version before it. Parsing is strict (every
// field checked, canonical bytes only); verification folds the chain into the member list, refusing
// a link that skips a version, breaks the hash chain, moves the epoch wrongly, is signed by a
// non-member or by one key only, or sends envelopes to anyone but the change's recipients.
import { b64 } from '../../core/encoding.js';
import { CofferError } from '../../errors.js';
import {
  ACCOUNT_ID,
  arr,
  bad,
  CLASS_KEY_ID,
  checkName,
  cjBytes,
  DEVICE_ID,
  type DualSignature,
  hex,
  type Identity,
  int,
  obj,
  parseIdentity,
  parseJsonBytes,
  parseSignature,
  pickIdentity,
  sha256,
  str,
} from './codec.js';
import { type Envelope, parseEnvelope } from './envelope.js';
import { type CircleActor, verifyDual } from './signer.js';

export const LINK_LABEL = 'coffer:sync-circle-link:v1';

export interface Member extends Identity {
  name: string;
  addedAt: number;
  addedBy: string;
  removedAt?: number;
}

export type Change =
  | { op: 'create'; member: Member; recovery: Identity; classKeyIds: string[] }
  | { op: 'add'; member: Member }
  | { op: 'remove'; deviceId: string; classKeyIds: string[] };

export interface LinkBody {
  accountId: string;
  version: number;
  epoch: number;
  prev?: string;
  at: number;
  signer: string;
  change: Change;
  envelopes: Envelope[];
}

export interface Link {
  body: LinkBody;
  sig: DualSignature;
}

/** The circle as a verified chain folds to. */
export interface CircleState {
  accountId: string;
  version: number;
  epoch: number;
  members: Member[];
  recovery: Identity;
  /** Class key ids per epoch, the current one last. */
  classKeys: Record<number, string[]>;
  /** Hex hash of the last link. */
  head: string;
}

export function linkHash(link: Link): string {
  return hex(sha256(cjBytes(link)));
}

export async function signLink(actor: CircleActor, body: LinkBody): Promise<Link> {
  return { body, sig: await actor.sign(LINK_LABEL, cjBytes(body)) };
}

export function encodeDocument(links: readonly Link[]): Uint8Array {
  return cjBytes({ format: 'coffer-sync-circle', links, v: 1 });
}

export function encodeDocumentB64(links: readonly Link[]): string {
  return b64.encode(encodeDocument(links));
}

// ── parsing ───────────────────────────────────────────────────────────────────────────────────────

function parseMember(value: unknown, what: string): Member {
  const o = obj(value, what, ['deviceId', 'ed25519', 'mldsa65', 'xwing', 'name', 'addedAt', 'addedBy']);
  const { name, addedAt, addedBy, ...identity } = o;
  return {
    ...parseIdentity(identity, what),
    name: checkName(name, 'EBADMSG'),
    addedAt: int(addedAt, `${what}.addedAt`),
    addedBy: str(addedBy, `${what}.addedBy`, DEVICE_ID),
  };
}

function parseIds(value: unknown, what: string): string[] {
  const ids = arr(value, what).map((id) => str(id, what, CLASS_KEY_ID));
  if (ids.length === 0 || new Set(ids).size !== ids.length)
    throw bad(`${what} must be distinct and not empty`);
  return ids;
}

function parseChange(value: unknown): Change {
  const op = (value as { op?: unknown } | null)?.op;
  if (op === 'create') {
    const o = obj(value, 'change', ['op', 'member', 'recovery', 'classKeyIds']);
    return {
      op,
      member: parseMember(o.member, 'member'),
      recovery: parseIdentity(o.recovery, 'recovery'),
      classKeyIds: parseIds(o.classKeyIds, 'classKeyIds'),
    };
  }
  if (op === 'add') {
    const o = obj(value, 'change', ['op', 'member']);
    return { op, member: parseMember(o.member, 'member') };
  }
  if (op === 'remove') {
    const o = obj(value, 'change', ['op', 'deviceId', 'classKeyIds']);
    return {
      op,
      deviceId: str(o.deviceId, 'deviceId', DEVICE_ID),
      classKeyIds: parseIds(o.classKeyIds, 'classKeyIds'),
    };
  }
  throw bad('circle link has an unknown change');
}

function parseLink(value: unknown, i: number): Link {
  const o = obj(value, `link ${i + 1}`, ['body', 'sig']);
  const b = obj(
    o.body,
    `link ${i + 1} body`,
    ['accountId', 'version', 'epoch', 'at', 'signer', 'change', 'envelopes'],
    ['prev'],
  );
  const body: LinkBody = {
    accountId: str(b.accountId, 'accountId', ACCOUNT_ID),
    version: int(b.version, 'version', 1),
    epoch: int(b.epoch, 'epoch', 1),
    at: int(b.at, 'at'),
    signer: str(b.signer, 'signer', DEVICE_ID),
    change: parseChange(b.change),
    envelopes: arr(b.envelopes, 'envelopes').map((e, j) => parseEnvelope(e, `envelope ${j}`)),
  };
  if (b.prev !== undefined) body.prev = str(b.prev, 'prev', /^[0-9a-f]{64}$/);
  return { body, sig: parseSignature(o.sig, `link ${i + 1} sig`) };
}

/** Structural parse of a document's bytes (no signature checked yet). */
export function parseDocument(bytes: Uint8Array): Link[] {
  const o = obj(parseJsonBytes(bytes, 'circle document'), 'circle document', ['format', 'links', 'v']);
  if (o.format !== 'coffer-sync-circle' || o.v !== 1) throw bad('not a circle document of this version');
  const links = arr(o.links, 'links').map(parseLink);
  if (links.length === 0) throw bad('the circle document has no links');
  return links;
}

// ── verification ──────────────────────────────────────────────────────────────────────────────────

const active = (state: CircleState) => state.members.filter((m) => m.removedAt === undefined);

function expectRecipients(link: Link, recipients: readonly string[]): void {
  const to = link.body.envelopes.map((e) => e.to).sort();
  const want = [...recipients].sort();
  if (to.length !== want.length || to.some((t, i) => t !== want[i]))
    throw bad(`circle version ${link.body.version} sends envelopes to the wrong devices`);
  if (link.body.envelopes.some((e) => e.from !== link.body.signer))
    throw bad(`circle version ${link.body.version} carries an envelope not from its signer`);
}

function checkSignature(link: Link, signer: Identity): void {
  if (!verifyDual(signer, LINK_LABEL, cjBytes(link.body), link.sig))
    throw bad(
      `circle version ${link.body.version}: a signature of ${signer.deviceId} does not verify (both are required)`,
    );
}

function genesis(link: Link): CircleState {
  const { body } = link;
  if (body.version !== 1 || body.epoch !== 1 || body.prev !== undefined || body.change.op !== 'create')
    throw bad('circle version 1 is not a create');
  const { member, recovery, classKeyIds } = body.change;
  if (
    body.signer !== member.deviceId ||
    member.addedBy !== member.deviceId ||
    recovery.deviceId === member.deviceId
  )
    throw bad('circle version 1 is not signed by its first member');
  checkSignature(link, member);
  expectRecipients(link, [member.deviceId, recovery.deviceId]);
  return {
    accountId: body.accountId,
    version: 1,
    epoch: 1,
    members: [member],
    recovery,
    classKeys: { 1: classKeyIds },
    head: linkHash(link),
  };
}

function step(state: CircleState, link: Link): CircleState {
  const { body } = link;
  const v = body.version;
  if (body.accountId !== state.accountId) throw bad(`circle version ${v} belongs to another account`);
  if (v !== state.version + 1) throw bad(`circle version ${v} does not follow version ${state.version}`);
  if (body.prev !== state.head) throw bad(`circle version ${v} does not chain to version ${state.version}`);
  const recoverySigns = body.signer === state.recovery.deviceId;
  const signer = recoverySigns ? state.recovery : active(state).find((m) => m.deviceId === body.signer);
  if (!signer) throw bad(`circle version ${v} is not signed by a member of version ${state.version}`);
  const known = (id: string) =>
    id === state.recovery.deviceId || state.members.some((m) => m.deviceId === id);
  const change = body.change;
  let next: CircleState;
  if (change.op === 'add') {
    if (body.epoch !== state.epoch) throw bad(`circle version ${v} changes the epoch without a removal`);
    if (known(change.member.deviceId)) throw bad(`circle version ${v} adds a device id already used`);
    if (change.member.addedBy !== body.signer) throw bad(`circle version ${v} names another sponsor`);
    expectRecipients(link, [change.member.deviceId]);
    next = { ...state, members: [...state.members, change.member] };
  } else if (change.op === 'remove') {
    if (recoverySigns) throw bad(`circle version ${v}: the recovery identity only adds devices`);
    if (body.epoch !== state.epoch + 1) throw bad(`circle version ${v} removes a device without a new epoch`);
    const remaining = active(state).filter((m) => m.deviceId !== change.deviceId);
    if (remaining.length === active(state).length)
      throw bad(`circle version ${v} removes a device that is not a member`);
    if (remaining.length === 0) throw bad(`circle version ${v} removes the last device`);
    const used = new Set(Object.values(state.classKeys).flat());
    if (change.classKeyIds.some((id) => used.has(id))) throw bad(`circle version ${v} reuses a class key id`);
    expectRecipients(link, [...remaining.map((m) => m.deviceId), state.recovery.deviceId]);
    next = {
      ...state,
      epoch: body.epoch,
      members: state.members.map((m) => (m.deviceId === change.deviceId ? { ...m, removedAt: body.at } : m)),
      classKeys: { ...state.classKeys, [body.epoch]: change.classKeyIds },
    };
  } else {
    throw bad(`circle version ${v} is a second create`);
  }
  checkSignature(link, signer);
  return { ...next, version: v, head: linkHash(link) };
}

/**
 * Verifies a whole chain and folds it. With `trusted` (the links this device verified before), the
 * chain must extend them byte for byte and may not be shorter: version and epoch never go back.
 */
export function verifyChain(links: readonly Link[], trusted?: readonly Link[]): CircleState {
  if (trusted) {
    if (links.length < trusted.length)
      throw new CofferError(
        'EBADMSG',
        `the server serves an older circle version (${links.length}) than this device trusts (${trusted.length})`,
      );
    for (let i = 0; i < trusted.length; i++)
      if (linkHash(links[i]!) !== linkHash(trusted[i]!))
        throw new CofferError(
          'ECONFLICT',
          `the server's circle forks from the one this device trusts at version ${i + 1}`,
        );
  }
  let state = genesis(links[0]!);
  for (const link of links.slice(1)) state = step(state, link);
  return state;
}

export function memberIdentity(member: Member): Identity {
  return pickIdentity(member);
}

/** Every class key id in the state with its epoch, oldest epoch first, each epoch's current id last. */
export function allClassKeyIds(state: CircleState): { epoch: number; id: string }[] {
  return Object.entries(state.classKeys)
    .flatMap(([epoch, ids]) => ids.map((id) => ({ epoch: Number(epoch), id })))
    .sort((a, b) => a.epoch - b.epoch);
}

export function currentClassKeyId(state: CircleState): string {
  const ids = state.classKeys[state.epoch]!;
  return ids[ids.length - 1]!;
}
