// SSH signatures (SPEC §14.6): the SSHSIG format of OpenSSH PROTOCOL.sshsig that `ssh-keygen -Y
// sign/verify` and git's gpg.format=ssh use, and the SSH signature blob (RFC 4253 §6.6, RFC 8709
// §6, RFC 5656 §3.1.2) that SSHSIG and the agent protocol carry. ssh-ed25519 and
// ecdsa-sha2-nistp256 keys; sha256 or sha512 message hashes (sha512 by default, as ssh-keygen).
//
// The signer callback receives the SSHSIG signed-data blob (a few hundred bytes whatever the file
// size, since the message enters as a hash) and returns Coffer's raw signature: Ed25519's 64 bytes,
// or r ‖ s for P-256 (which the SSH encoding turns into two mpints).
import { assertBytes, assertOneOf, concatBytes, equalBytes } from '../crypto/bytes.js';
import { type DigestAlgorithm, digest } from '../crypto/hash.js';
import { type SigAlgorithm, verify as sigVerify } from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { decodePem, encodePem } from './pem.js';
import { type ParsedPublicKey, publicKeyFromSshBlob, publicKeyToSshBlob, sshKeyType } from './public-key.js';
import { SshReader, sshMpint, sshString, sshUint32 } from './ssh-wire.js';

export type SshsigHash = 'sha256' | 'sha512';
export const SSHSIG_HASHES: readonly SshsigHash[] = ['sha256', 'sha512'];
export type SshAlgorithm = 'ed25519' | 'ecdsa-p256';
export const SSH_ALGORITHMS: readonly SshAlgorithm[] = ['ed25519', 'ecdsa-p256'];

const MAGIC = new TextEncoder().encode('SSHSIG');
const VERSION = 1;
const LABEL = 'SSH SIGNATURE';
/** Bounds: namespaces are short names ("git", "file", an e-mail); the armoured text is small. */
const MAX_NAMESPACE = 256;

export type Signer = (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;

// ---- SSH signature blobs ----

/** string sig-type ‖ string sig-data; for ECDSA sig-data = mpint r ‖ mpint s. */
export function encodeSshSignature(alg: SshAlgorithm, signature: Uint8Array): Uint8Array {
  assertOneOf('alg', alg, SSH_ALGORITHMS);
  assertBytes('signature', signature, 64);
  const data =
    alg === 'ed25519'
      ? signature
      : concatBytes(sshMpint(signature.subarray(0, 32)), sshMpint(signature.subarray(32)));
  return concatBytes(sshString(sshKeyType(alg)), sshString(data));
}

/** An SSH signature blob of `alg` → Coffer's raw 64 bytes; EINVAL when it is malformed or of another type. */
export function decodeSshSignature(alg: SshAlgorithm, blob: Uint8Array): Uint8Array {
  assertOneOf('alg', alg, SSH_ALGORITHMS);
  const reader = new SshReader(blob, 'SSH signature');
  const type = new TextDecoder().decode(reader.string());
  if (type !== sshKeyType(alg))
    throw new CofferError('EINVAL', `SSH signature of type '${type}' for a ${alg} key`);
  const data = reader.string();
  reader.end();
  if (alg === 'ed25519') {
    if (data.length !== 64) throw new CofferError('EINVAL', 'ssh-ed25519 signature must be 64 bytes');
    return data.slice();
  }
  const inner = new SshReader(data, 'ECDSA signature');
  const r = inner.unsignedMpint();
  const s = inner.unsignedMpint();
  inner.end();
  if (r.length > 32 || s.length > 32)
    throw new CofferError('EINVAL', 'ECDSA signature integer wider than 32 bytes');
  const out = new Uint8Array(64);
  out.set(r, 32 - r.length);
  out.set(s, 64 - s.length);
  return out;
}

// ---- SSHSIG ----

function assertNamespace(namespace: unknown): asserts namespace is string {
  if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > MAX_NAMESPACE) {
    throw new CofferError(
      'EINVAL',
      `namespace must be 1 to ${MAX_NAMESPACE} characters (e.g. "file", "git")`,
    );
  }
  if ([...namespace].some((c) => c.charCodeAt(0) <= 0x20 || c.charCodeAt(0) === 0x7f))
    throw new CofferError('EINVAL', 'namespace must not contain spaces or control characters');
}

/** The blob the key signs: "SSHSIG" ‖ string namespace ‖ string reserved ‖ string hash ‖ string H(message). */
export function sshsigSignedData(namespace: string, hash: SshsigHash, messageDigest: Uint8Array): Uint8Array {
  assertNamespace(namespace);
  assertOneOf('hash', hash, SSHSIG_HASHES);
  assertBytes('message digest', messageDigest, hash === 'sha256' ? 32 : 64);
  return concatBytes(MAGIC, sshString(namespace), sshString(''), sshString(hash), sshString(messageDigest));
}

export interface SshsigSignOptions {
  alg: SshAlgorithm;
  publicKey: Uint8Array;
  namespace: string;
  /** Default 'sha512' (ssh-keygen's). */
  hash?: SshsigHash;
}

/**
 * An armoured SSHSIG ("-----BEGIN SSH SIGNATURE-----") over `message`, or over a message whose
 * digest the caller computed (`{ digest }`, for files streamed through a hash).
 */
export async function signSshsig(
  message: Uint8Array | { digest: Uint8Array },
  options: SshsigSignOptions,
  signer: Signer,
): Promise<string> {
  const hash = options.hash ?? 'sha512';
  assertOneOf('hash', hash, SSHSIG_HASHES);
  const messageDigest =
    message instanceof Uint8Array ? digest(hash as DigestAlgorithm, message) : message.digest;
  const signedData = sshsigSignedData(options.namespace, hash, messageDigest);
  const publicBlob = publicKeyToSshBlob(options.alg, options.publicKey);
  const signature = await signer(signedData);
  assertBytes('signature', signature, 64);
  // Check before publishing: a signer bound to another key would otherwise yield an unverifiable file.
  if (!sigVerify(options.alg, options.publicKey, signedData, signature)) {
    throw new CofferError('EINVAL', 'the signer did not sign with the given public key');
  }
  const blob = concatBytes(
    MAGIC,
    sshUint32(VERSION),
    sshString(publicBlob),
    sshString(options.namespace),
    sshString(''),
    sshString(hash),
    sshString(encodeSshSignature(options.alg, signature)),
  );
  return encodePem(LABEL, blob, 70);
}

export interface ParsedSshsig extends ParsedPublicKey {
  alg: SshAlgorithm;
  namespace: string;
  hash: SshsigHash;
  signature: Uint8Array;
}

/** Parses an armoured SSHSIG (strictly: magic, version 1, known hash, a key and signature of one type). */
export function parseSshsig(armored: string): ParsedSshsig {
  const { bytes } = decodePem(armored, [LABEL], 76);
  if (!equalBytes(bytes.subarray(0, MAGIC.length), MAGIC))
    throw new CofferError('EINVAL', 'SSHSIG: missing "SSHSIG" magic');
  const reader = new SshReader(bytes.subarray(MAGIC.length), 'SSHSIG');
  const version = reader.uint32();
  if (version !== VERSION) throw new CofferError('EINVAL', `SSHSIG version ${version} is not supported`);
  const key = publicKeyFromSshBlob(reader.string());
  const namespace = reader.text();
  reader.string(); // reserved: PROTOCOL.sshsig says to ignore it
  const hash = reader.text();
  const signatureBlob = reader.string();
  reader.end();
  assertNamespace(namespace);
  if (!(SSHSIG_HASHES as readonly string[]).includes(hash))
    throw new CofferError('EINVAL', `SSHSIG hash '${hash}' is not sha256 or sha512`);
  if (key.alg !== 'ed25519' && key.alg !== 'ecdsa-p256')
    throw new CofferError('EINVAL', `SSHSIG key ${key.alg}`);
  const alg = key.alg;
  return {
    alg,
    publicKey: key.publicKey,
    namespace,
    hash: hash as SshsigHash,
    signature: decodeSshSignature(alg, signatureBlob),
  };
}

export interface SshsigVerifyOptions {
  namespace: string;
  /** The keys allowed to have signed (an allowed-signers list); without it any valid signer is returned. */
  allowedKeys?: { alg: SigAlgorithm; publicKey: Uint8Array }[];
}

/**
 * Verifies an armoured SSHSIG over `message` (or its `{ digest }` under the signature's hash) and
 * returns the signer's key. EINVAL for malformed input; EBADMSG for another namespace, a signer not
 * in `allowedKeys`, or a signature that does not verify.
 */
export function verifySshsig(
  armored: string,
  message: Uint8Array | { digest: Uint8Array },
  options: SshsigVerifyOptions,
): ParsedSshsig {
  assertNamespace(options.namespace);
  const parsed = parseSshsig(armored);
  if (parsed.namespace !== options.namespace) {
    throw new CofferError('EBADMSG', `SSHSIG namespace '${parsed.namespace}' is not '${options.namespace}'`);
  }
  if (options.allowedKeys !== undefined) {
    const allowed = options.allowedKeys.some(
      (k) => k.alg === parsed.alg && equalBytes(k.publicKey, parsed.publicKey),
    );
    if (!allowed) throw new CofferError('EBADMSG', 'SSHSIG signer is not an allowed key');
  }
  const messageDigest = message instanceof Uint8Array ? digest(parsed.hash, message) : message.digest;
  const signedData = sshsigSignedData(parsed.namespace, parsed.hash, messageDigest);
  if (!sigVerify(parsed.alg, parsed.publicKey, signedData, parsed.signature)) {
    throw new CofferError('EBADMSG', 'SSHSIG signature does not verify');
  }
  return parsed;
}
