// The signed device manifest (SPEC §17.10.3): after each sync a device states, under its Ed25519 and
// ML-DSA-65 keys, which account it belongs to, how far it read the server's change log, the digest
// and size of the server's set as it saw it there, and its latest acknowledged writes — with a
// generation that only grows. Other devices check it against what the server serves them, so a
// server that drops, rolls back or forks records is caught by the devices, not believed.
import { b64, canonicalJson, textDecoder, textEncoder } from '../../core/encoding.js';
import { concatBytes } from '../../crypto/bytes.js';
import { verify } from '../../crypto/sig.js';
import { CofferError } from '../../errors.js';
import { isUuid } from '../../keychain/record.js';
import type { DeviceSigner, MemberKeys } from '../transport.js';

export const MANIFEST_MAGIC = 'CDM1';
export const MANIFEST_LABEL = 'coffer:sync-device-manifest:v1';
/** A manifest lists at most this many of its device's latest acknowledged writes. */
export const MAX_WROTE = 64;
const ED25519_SIG = 64;
const MLDSA65_SIG = 3309;
const MAX_BODY = 64 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;
const DEVICE_ID = /^[0-9a-f]{16}$/;

export interface WroteEntry {
  uuid: string;
  gencount: number;
  /** The change-log position the server gave the write. */
  seq: number;
}

export interface DeviceManifest {
  format: 'coffer-sync-device-manifest';
  version: 1;
  account: string;
  deviceId: string;
  /** One more at every manifest this device publishes; never reused after a restart. */
  generation: number;
  /** The server change-log position the device had read when it wrote this. */
  seq: number;
  /** Manifest digest (SPEC §17.5) of the server's set as the device saw it at `seq`. */
  digest: string;
  /** Number of items in that set (the server never removes an item: a delete is a tombstone). */
  count: number;
  /** The device's latest acknowledged writes, by uuid, at most MAX_WROTE. */
  wrote: WroteEntry[];
}

function bad(message: string): CofferError {
  return new CofferError('EBADMSG', `device manifest: ${message}`);
}

const nat = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Checks the shape of a manifest body; EBADMSG for anything off (EINVAL when we build one). */
export function checkManifest(value: unknown, code: 'EBADMSG' | 'EINVAL' = 'EBADMSG'): DeviceManifest {
  const fail = (what: string) => new CofferError(code, `device manifest: ${what}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('not an object');
  const m = value as Record<string, unknown>;
  const fields = [
    'account',
    'count',
    'deviceId',
    'digest',
    'format',
    'generation',
    'seq',
    'version',
    'wrote',
  ];
  if (Object.keys(m).sort().join() !== fields.join()) throw fail('fields');
  if (m.format !== 'coffer-sync-device-manifest' || m.version !== 1) throw fail('format');
  if (typeof m.account !== 'string' || m.account.length === 0 || m.account.length > 256)
    throw fail('account');
  if (typeof m.deviceId !== 'string' || !DEVICE_ID.test(m.deviceId)) throw fail('deviceId');
  if (!nat(m.generation) || m.generation < 1) throw fail('generation');
  if (!nat(m.seq)) throw fail('seq');
  if (!nat(m.count)) throw fail('count');
  if (typeof m.digest !== 'string' || !HEX64.test(m.digest)) throw fail('digest');
  if (!Array.isArray(m.wrote) || m.wrote.length > MAX_WROTE) throw fail('wrote');
  let previous = '';
  for (const w of m.wrote as unknown[]) {
    const e = w as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || Object.keys(e).sort().join() !== 'gencount,seq,uuid')
      throw fail('wrote entry');
    if (!isUuid(e.uuid) || !nat(e.gencount) || e.gencount < 1 || !nat(e.seq) || e.seq < 1)
      throw fail('wrote entry');
    if (e.uuid <= previous) throw fail('wrote entries must be sorted by uuid, once each');
    previous = e.uuid;
  }
  return m as unknown as DeviceManifest;
}

/** The highest change-log position a manifest speaks of: its own and its writes'. */
export function reachOf(m: DeviceManifest): number {
  return Math.max(m.seq, ...m.wrote.map((w) => w.seq));
}

/** The bytes both signatures cover: label ‖ 0x00 ‖ canonical JSON of the body. */
export function signedBytes(bodyBytes: Uint8Array): Uint8Array {
  return concatBytes(textEncoder.encode(MANIFEST_LABEL), new Uint8Array([0]), bodyBytes);
}

/** "CDM1" ‖ u32 len ‖ body ‖ u16 64 ‖ Ed25519 sig ‖ u16 3309 ‖ ML-DSA-65 sig (SPEC §17.10.3). */
export function encodeSigned(bodyBytes: Uint8Array, ed25519: Uint8Array, mldsa65: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + bodyBytes.length + 2 + ed25519.length + 2 + mldsa65.length);
  const view = new DataView(out.buffer);
  out.set(textEncoder.encode(MANIFEST_MAGIC), 0);
  view.setUint32(4, bodyBytes.length, false);
  out.set(bodyBytes, 8);
  let at = 8 + bodyBytes.length;
  view.setUint16(at, ed25519.length, false);
  out.set(ed25519, at + 2);
  at += 2 + ed25519.length;
  view.setUint16(at, mldsa65.length, false);
  out.set(mldsa65, at + 2);
  return out;
}

export async function signManifest(manifest: DeviceManifest, signer: DeviceSigner): Promise<Uint8Array> {
  const body = checkManifest(manifest, 'EINVAL');
  if (body.deviceId !== signer.deviceId || body.account !== signer.accountId)
    throw new CofferError('EINVAL', 'device manifest: signed by another device or account');
  const bodyBytes = textEncoder.encode(canonicalJson(body));
  const { ed25519, mldsa65 } = await signer.sign(signedBytes(bodyBytes));
  return encodeSigned(bodyBytes, ed25519, mldsa65);
}

export interface SplitManifest {
  body: DeviceManifest;
  bodyBytes: Uint8Array;
  ed25519: Uint8Array;
  mldsa65: Uint8Array;
}

/** Splits the layout and parses the body (no signature check yet). EBADMSG for any malformation. */
export function parseSigned(bytes: Uint8Array): SplitManifest {
  if (!(bytes instanceof Uint8Array) || bytes.length < 12) throw bad('too short');
  if (textDecoder.decode(bytes.subarray(0, 4)) !== MANIFEST_MAGIC) throw bad('unknown format');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bodyLength = view.getUint32(4, false);
  if (bodyLength > MAX_BODY || 8 + bodyLength + 2 + ED25519_SIG + 2 + MLDSA65_SIG !== bytes.length)
    throw bad('lengths');
  const bodyBytes = bytes.subarray(8, 8 + bodyLength);
  let at = 8 + bodyLength;
  if (view.getUint16(at, false) !== ED25519_SIG) throw bad('Ed25519 signature length');
  const ed25519 = bytes.subarray(at + 2, at + 2 + ED25519_SIG);
  at += 2 + ED25519_SIG;
  if (view.getUint16(at, false) !== MLDSA65_SIG) throw bad('ML-DSA-65 signature length');
  const mldsa65 = bytes.subarray(at + 2, at + 2 + MLDSA65_SIG);
  let parsed: unknown;
  try {
    parsed = JSON.parse(textDecoder.decode(bodyBytes));
  } catch {
    throw bad('body is not JSON');
  }
  const body = checkManifest(parsed);
  if (canonicalJson(body) !== textDecoder.decode(bodyBytes)) throw bad('body is not canonical JSON');
  return { body, bodyBytes, ed25519, mldsa65 };
}

/**
 * Parses and verifies a manifest against the circle's members: both signatures must verify under
 * the keys of the device it names. A manifest by no member, or with either signature wrong, is a
 * forgery (EBADMSG).
 */
export function verifyManifest(bytes: Uint8Array, members: readonly MemberKeys[]): DeviceManifest {
  const split = parseSigned(bytes);
  const member = members.find((m) => m.deviceId === split.body.deviceId);
  if (!member) throw bad(`forged: device ${split.body.deviceId} is not a member of the circle`);
  const message = signedBytes(split.bodyBytes);
  const edOk = verify('ed25519', b64.decode(member.ed25519), message, split.ed25519);
  const mlOk = verify('ml-dsa-65', b64.decode(member.mldsa65), message, split.mldsa65);
  if (!edOk || !mlOk)
    throw bad(
      `forged: signature of device ${split.body.deviceId} does not verify (${!edOk ? 'Ed25519' : 'ML-DSA-65'})`,
    );
  return split.body;
}
