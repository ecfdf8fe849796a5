// Signed bundles checked against trust anchors held in the keystore (SPEC §14.13, §14.15.2): the
// anchor set is read through the surface (keys of the app whose purpose is the set and whose origin
// is trust-anchor), each anchor counting with its primary version while key and version are active.

import { TRUST_ANCHOR_LABEL } from '../core/imported.js';
import type { KeyOperations } from '../core/surface.js';
import type { KeyInfo, SignatureAlgorithm } from '../core/types.js';
import { CofferError } from '../errors.js';
import {
  type AnchorSet,
  type BundleVerdict,
  type DetachedSignature,
  verifyBundle,
} from '../format/trust-anchors.js';

/** The trust-anchor keys of a set, every state (for `coffer anchor list`). */
export async function listTrustAnchors(ops: KeyOperations, app: string, set?: string): Promise<KeyInfo[]> {
  const keys = await ops.listKeys(set === undefined ? { app } : { app, purpose: set });
  return keys.filter((k) => k.origin === 'trust-anchor');
}

/** The anchors that count now, as the pure verifier's AnchorSet with threshold k. */
export async function trustAnchorSet(
  ops: KeyOperations,
  app: string,
  set: string,
  threshold = 1,
): Promise<AnchorSet> {
  const anchors = [];
  const names = new Set<string>();
  for (const info of await listTrustAnchors(ops, app, set)) {
    const name = info.labels[TRUST_ANCHOR_LABEL];
    if (name === undefined) continue;
    if (names.has(name)) throw new CofferError('EINVAL', `anchor set ${set} has two anchors named ${name}`);
    names.add(name);
    const primary = info.versions.find((v) => v.version === info.primaryVersion);
    if (info.state !== 'active' || primary?.state !== 'active') continue;
    const publicKey = (await ops.publicKey(info.id, 'raw')) as Uint8Array;
    anchors.push({ name, alg: info.algorithm as SignatureAlgorithm, publicKey });
  }
  if (anchors.length === 0)
    throw new CofferError('ENOENT', `no active trust anchors in set ${set} of app ${app}`);
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > anchors.length)
    throw new CofferError(
      'EINVAL',
      `threshold must be 1 to ${anchors.length} (the active anchors of ${set})`,
    );
  return { name: set, threshold, anchors };
}

/** Verifies a file's detached signatures (raw or JWS) against a set held in the keystore. */
export async function verifyBundleWithAnchors(
  ops: KeyOperations,
  options: { app: string; set: string; threshold?: number },
  file: Uint8Array,
  signatures: DetachedSignature[],
): Promise<BundleVerdict & { threshold: number; anchors: number }> {
  const set = await trustAnchorSet(ops, options.app, options.set, options.threshold ?? 1);
  const verdict = await verifyBundle(set, file, signatures);
  return { ...verdict, threshold: set.threshold, anchors: set.anchors.length };
}
