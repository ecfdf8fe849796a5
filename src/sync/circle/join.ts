// The join request and reply that travel through an invite's mailbox (SPEC §17.9). The request
// carries the joiner's identity and name, signed by its keys (proof of possession) and MAC'd with
// the invite secret (so a server that swaps keys or name is caught); the reply carries the circle
// document whose last link adds the joiner.
import { b64 } from '../../core/encoding.js';
import { equalBytes } from '../../crypto/bytes.js';
import { CofferError } from '../../errors.js';
import {
  bytesField,
  checkName,
  cjBytes,
  type Identity,
  int,
  obj,
  parseIdentity,
  parseJsonBytes,
  parseSignature,
  str,
} from './codec.js';
import { requestMac } from './invite.js';
import { type CircleActor, verifyDual } from './signer.js';

const REQUEST_LABEL = 'coffer:sync-join-request:v1';

export interface JoinRequest {
  at: number;
  identity: Identity;
  mailboxId: string;
  name: string;
}

export async function buildJoinRequest(
  actor: CircleActor,
  request: JoinRequest,
  secret: Uint8Array,
): Promise<Uint8Array> {
  const body = cjBytes(request);
  const sig = await actor.sign(REQUEST_LABEL, body);
  return cjBytes({ body: request, mac: b64.encode(requestMac(secret, body)), sig });
}

/** The request, if its MAC (invite secret) and both signatures (the keys it names) hold; else EBADMSG. */
export function openJoinRequest(bytes: Uint8Array, secret: Uint8Array, mailboxId: string): JoinRequest {
  const o = obj(parseJsonBytes(bytes, 'join request'), 'join request', ['body', 'mac', 'sig']);
  const b = obj(o.body, 'join request body', ['at', 'identity', 'mailboxId', 'name']);
  const request: JoinRequest = {
    at: int(b.at, 'at'),
    identity: parseIdentity(b.identity, 'identity'),
    mailboxId: str(b.mailboxId, 'mailboxId'),
    name: checkName(b.name, 'EBADMSG'),
  };
  const body = cjBytes(request);
  if (!equalBytes(bytesField(o.mac, 'mac', 32), requestMac(secret, body)))
    throw new CofferError(
      'EBADMSG',
      'the join request was not made with this invite: its MAC does not match (altered on the way?)',
    );
  if (request.mailboxId !== mailboxId)
    throw new CofferError('EBADMSG', 'the join request names another invite');
  if (!verifyDual(request.identity, REQUEST_LABEL, body, parseSignature(o.sig, 'sig')))
    throw new CofferError('EBADMSG', 'the join request is not signed by the keys it names');
  return request;
}

export function buildJoinReply(document: Uint8Array, version: number): Uint8Array {
  return cjBytes({ circle: b64.encode(document), version });
}

export function openJoinReply(bytes: Uint8Array): { document: Uint8Array; version: number } {
  const o = obj(parseJsonBytes(bytes, 'join reply'), 'join reply', ['circle', 'version']);
  return { document: bytesField(o.circle, 'circle'), version: int(o.version, 'version', 1) };
}
