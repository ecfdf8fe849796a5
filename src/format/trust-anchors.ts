// Trust anchors (SPEC §14.13): a named set of public verification keys, each with a name, and a
// threshold k; a signed bundle — a file with detached signatures, raw or JWS — is accepted when at
// least k distinct anchors have signed it. Keys enter through parsePublicKey (PEM, OpenSSH, JWK,
// raw), so an anchor can be any key a signer can publish. Pure: no keystore, no I/O.
import { assertBytes } from '../crypto/bytes.js';
import { SIG_LENGTHS, type SigAlgorithm, verify as sigVerify } from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { decodeCompactJws, verifyCompactJws } from './jose.js';
import { parsePublicKey } from './key-import.js';
import { encodeBase64 } from './text-encodings.js';

export interface TrustAnchor {
  name: string;
  alg: SigAlgorithm;
  publicKey: Uint8Array;
}

export interface AnchorSet {
  name: string;
  threshold: number;
  anchors: TrustAnchor[];
}

const NAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
const MAX_ANCHORS = 256;

/**
 * Parses the anchor-set document:
 * `{"format":"coffer-anchors","version":1,"name":"…","threshold":k,"anchors":[{"name":"…","key":…}]}`
 * where `key` is anything parsePublicKey reads (PEM / OpenSSH text, a JWK object). Names are
 * unique, keys are unique, 1 ≤ k ≤ number of anchors.
 */
export function parseAnchorSet(document: unknown): AnchorSet {
  const doc = typeof document === 'string' ? parseJson(document) : document;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new CofferError('EINVAL', 'anchor set must be a JSON object');
  const record = doc as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!['format', 'version', 'name', 'threshold', 'anchors'].includes(key))
      throw new CofferError('EINVAL', `anchor set: unknown field '${key}'`);
  }
  if (record.format !== 'coffer-anchors' || record.version !== 1)
    throw new CofferError('EINVAL', 'anchor set: format must be "coffer-anchors", version 1');
  if (typeof record.name !== 'string' || !NAME.test(record.name))
    throw new CofferError('EINVAL', 'anchor set: bad name');
  if (!Array.isArray(record.anchors) || record.anchors.length === 0 || record.anchors.length > MAX_ANCHORS) {
    throw new CofferError('EINVAL', `anchor set: 1 to ${MAX_ANCHORS} anchors`);
  }
  const anchors = record.anchors.map((entry, i): TrustAnchor => {
    if (typeof entry !== 'object' || entry === null)
      throw new CofferError('EINVAL', `anchor ${i} must be an object`);
    const { name, key, ...rest } = entry as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw new CofferError('EINVAL', `anchor ${i}: only "name" and "key"`);
    if (typeof name !== 'string' || !NAME.test(name))
      throw new CofferError('EINVAL', `anchor ${i}: bad name`);
    const parsed = parsePublicKey(key as string | Record<string, unknown>);
    return { name, ...parsed };
  });
  if (new Set(anchors.map((a) => a.name)).size !== anchors.length)
    throw new CofferError('EINVAL', 'anchor set: duplicate anchor names');
  const keys = new Set(anchors.map((a) => `${a.alg}:${encodeBase64(a.publicKey)}`));
  if (keys.size !== anchors.length)
    throw new CofferError('EINVAL', 'anchor set: the same key appears twice (it would count twice)');
  const threshold = record.threshold;
  if (
    typeof threshold !== 'number' ||
    !Number.isInteger(threshold) ||
    threshold < 1 ||
    threshold > anchors.length
  ) {
    throw new CofferError(
      'EINVAL',
      'anchor set: threshold must be an integer from 1 to the number of anchors',
    );
  }
  return { name: record.name, threshold, anchors };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CofferError('EINVAL', 'anchor set is not JSON');
  }
}

/** A detached signature: raw bytes over the file (with the anchor's name if known), or a compact JWS whose payload part is empty (RFC 7515 App. F). */
export type DetachedSignature = { anchor?: string; signature: Uint8Array } | { jws: string };

export interface BundleVerdict {
  /** Names of the distinct anchors whose signature verified. */
  signers: string[];
  /** signers.length ≥ threshold. */
  accepted: boolean;
}

/**
 * Verifies detached signatures over `file` against the set. Each anchor counts once however many
 * valid signatures it has; signatures that match no anchor are ignored (never an error), so a
 * bundle may carry signatures for several sets. Malformed input is EINVAL.
 */
export async function verifyBundle(
  set: AnchorSet,
  file: Uint8Array,
  signatures: DetachedSignature[],
): Promise<BundleVerdict> {
  assertBytes('file', file);
  if (!Array.isArray(signatures)) throw new CofferError('EINVAL', 'signatures must be an array');
  if (signatures.length > 4 * MAX_ANCHORS) throw new CofferError('E2BIG', 'too many signatures');
  const signers = new Set<string>();
  for (const entry of signatures) {
    if ('jws' in entry) {
      const parts = typeof entry.jws === 'string' ? entry.jws.split('.') : [];
      if (parts.length !== 3 || parts[1] !== '')
        throw new CofferError('EINVAL', 'a detached JWS has an empty payload part');
      // Re-attach the file as the payload, then verify under every anchor the header may name.
      const attached = `${parts[0]}.${encodeBase64(file, 'base64url')}.${parts[2]}`;
      const { header } = decodeCompactJws(`${parts[0]}..${parts[2]}`);
      for (const anchor of set.anchors) {
        if (signers.has(anchor.name)) continue;
        if (header.kid !== undefined && header.kid !== anchor.name) continue;
        try {
          await verifyCompactJws(attached, anchor);
          signers.add(anchor.name);
        } catch (error) {
          if (!(error instanceof CofferError && error.code === 'EBADMSG')) throw error;
        }
      }
      continue;
    }
    assertBytes('signature', entry.signature);
    const candidates =
      entry.anchor === undefined ? set.anchors : set.anchors.filter((a) => a.name === entry.anchor);
    for (const anchor of candidates) {
      if (signers.has(anchor.name) || entry.signature.length !== SIG_LENGTHS[anchor.alg].signature) continue;
      if (sigVerify(anchor.alg, anchor.publicKey, file, entry.signature)) signers.add(anchor.name);
    }
  }
  const names = [...signers].sort();
  return { signers: names, accepted: names.length >= set.threshold };
}
