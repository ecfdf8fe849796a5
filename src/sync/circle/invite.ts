// The invite code and what is derived from its secret (SPEC §17.9): the typable one-time code, the
// mailbox id the server sees instead of the secret, the MAC key of the join request, and the short
// authentication code both devices show.
import { base32, fromBase32 } from '../../core/encoding.js';
import { concatBytes, equalBytes } from '../../crypto/bytes.js';
import { hkdf } from '../../crypto/kdf.js';
import { hmac } from '../../crypto/mac.js';
import { CofferError } from '../../errors.js';
import { hex, labelled, sha256 } from './codec.js';

export const INVITE_SECRET = 16;
export const DEFAULT_INVITE_TTL_MS = 10 * 60_000;
export const MAX_INVITE_TTL_MS = 24 * 3600_000;
const CODE_BYTES = 1 + 16 + 16 + 4 + 2;

export interface Invite {
  secret: Uint8Array;
  /** Fingerprint (16 bytes) of the sponsor's identity. */
  sponsor: Uint8Array;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export function encodeInvite(invite: Invite): string {
  const head = new Uint8Array(37);
  head[0] = 1;
  head.set(invite.secret, 1);
  head.set(invite.sponsor, 17);
  new DataView(head.buffer).setUint32(33, invite.expiresAt);
  const code = base32(concatBytes(head, sha256(head).slice(0, 2)));
  return code.match(/.{1,5}/g)!.join('-');
}

/** Parses a typed code (case, spaces and dashes ignored); EINVAL when mistyped, ENOENT when expired. */
export function parseInvite(text: unknown, nowMs: number): Invite {
  if (typeof text !== 'string') throw new CofferError('EINVAL', 'the invite code must be a string');
  const compact = text.toLowerCase().replace(/[\s-]/g, '');
  if (compact.length !== 63 || !/^[a-z2-7]+$/.test(compact))
    throw new CofferError('EINVAL', 'the invite code is mistyped (63 letters and digits 2-7 expected)');
  const bytes = fromBase32(compact);
  const head = bytes.subarray(0, 37);
  if (
    bytes.length !== CODE_BYTES ||
    base32(bytes) !== compact ||
    !equalBytes(sha256(head).subarray(0, 2), bytes.subarray(37))
  )
    throw new CofferError('EINVAL', 'the invite code is mistyped (its check does not match)');
  if (head[0] !== 1) throw new CofferError('EINVAL', 'the invite code is of an unknown version');
  const expiresAt = new DataView(head.buffer, head.byteOffset).getUint32(33);
  if (expiresAt * 1000 <= nowMs)
    throw new CofferError(
      'ENOENT',
      `the invite expired at ${new Date(expiresAt * 1000).toISOString()}; ask for a new one`,
    );
  return { secret: head.slice(1, 17), sponsor: head.slice(17, 33), expiresAt };
}

export function mailboxId(secret: Uint8Array): string {
  return hex(sha256(labelled('coffer:sync-mailbox:v1', secret)));
}

function inviteKey(secret: Uint8Array, info: string): Uint8Array {
  return hkdf('sha256', secret, new Uint8Array(0), new TextEncoder().encode(info), 32);
}

export function requestMac(secret: Uint8Array, body: Uint8Array): Uint8Array {
  return hmac('sha256', inviteKey(secret, 'coffer:sync-invite-mac:v1'), body);
}

/** The six-digit short authentication code, `ddd-ddd`. */
export function shortCode(secret: Uint8Array, sponsor: Uint8Array, joiner: Uint8Array): string {
  const tag = hmac('sha256', inviteKey(secret, 'coffer:sync-sas:v1'), concatBytes(sponsor, joiner));
  const n = new DataView(tag.buffer, tag.byteOffset).getUint32(0) % 1_000_000;
  const digits = String(n).padStart(6, '0');
  return `${digits.slice(0, 3)}-${digits.slice(3)}`;
}

/** Compares a typed short code to the expected one, ignoring spaces and dashes. */
export function sameShortCode(typed: string, expected: string): boolean {
  return typed.replace(/[\s-]/g, '') === expected.replace(/-/g, '');
}
