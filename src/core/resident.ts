// HSM-resident signing keys in the keystore (SPEC §5.5): ed25519 and ecdsa-p256 key pairs generated
// inside the keystore's PKCS#11 token, one pair per key version. The key's metadata records the
// token (label, serial) and each version's CKA_ID; the version record holds only the public key, so
// no private byte ever exists in this process or in the store. Verification and public-key export
// use the stored public key like any other key; signing goes to the device through the interface in
// protect/resident.ts, loaded on first use, so a keystore without resident keys never loads pkcs11js.
import { assertBytes } from '../crypto/bytes.js';
import type { DigestAlgorithm } from '../crypto/hash.js';
import { assertDigest } from '../crypto/prehash.js';
import { systemRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { ecdsaSignatureToDer } from '../format/ecdsa-der.js';
import {
  openResidentDevice,
  type Pkcs11TokenConfig,
  type ResidentKeyDevice,
  validateTokenConfig,
} from '../protect/resident.js';
import { protectVersion } from './lifecycle.js';
import type { Session } from './session.js';
import { type KeyAlgorithm, type KeyInfo, type KeyResidency, LIMITS } from './types.js';

export type { Pkcs11TokenConfig };
export { validateTokenConfig };

function residencyName(residency: KeyResidency): string {
  return `token '${residency.tokenLabel}' (serial ${residency.tokenSerial})`;
}

/**
 * The open keystore's link to its PKCS#11 token for resident keys: one logged-in session, opened on
 * first use and closed by lock/close. A session found dead after an EUNAVAIL (token pulled, module
 * error) is dropped so the next call logs in again instead of failing forever.
 */
export class ResidentKeys {
  #config: Pkcs11TokenConfig | undefined;
  #explicit: boolean;
  #token: Promise<ResidentKeyDevice> | undefined;

  constructor(config?: Pkcs11TokenConfig) {
    this.#config = config;
    this.#explicit = config !== undefined;
  }

  /** The token config (PIN included) the keystore knows, for deleting a pkcs11 keyslot's token key. */
  get config(): Pkcs11TokenConfig | undefined {
    return this.#config;
  }

  /** Uses the token of a pkcs11 keyslot the keystore was unlocked with, unless one was given at open. */
  async adoptFromProtector(config: Pkcs11TokenConfig): Promise<void> {
    if (this.#explicit) return;
    const current = this.#config;
    if (
      current?.module === config.module &&
      current.tokenLabel === config.tokenLabel &&
      current.pin === config.pin
    ) {
      return;
    }
    await this.close();
    this.#config = { module: config.module, tokenLabel: config.tokenLabel, pin: config.pin };
  }

  #session(): Promise<ResidentKeyDevice> {
    const config = this.#config;
    if (config === undefined) {
      return Promise.reject(
        new CofferError(
          'EUNAVAIL',
          'HSM-resident keys need the keystore opened with a PKCS#11 token: pass pkcs11: { module, tokenLabel, pin } ' +
            'to Keystore.open, or open it with a pkcs11 protector',
        ),
      );
    }
    if (this.#token === undefined) {
      const opening = openResidentDevice(config);
      this.#token = opening;
      opening.catch(() => {
        if (this.#token === opening) this.#token = undefined;
      });
    }
    return this.#token;
  }

  /**
   * Runs `work` on the session. After an EUNAVAIL the session is probed: a missing key leaves a
   * healthy session (kept, other keys go on signing), a vanished token does not (dropped, so the
   * next call logs in afresh once the token is back).
   */
  async #with<T>(work: (token: ResidentKeyDevice) => Promise<T>): Promise<T> {
    const pending = this.#session();
    const token = await pending;
    try {
      return await work(token);
    } catch (error) {
      if (error instanceof CofferError && error.code === 'EUNAVAIL' && this.#token === pending) {
        const healthy = await token.healthy();
        if (!healthy && this.#token === pending) {
          this.#token = undefined;
          await token.close().catch(() => {});
        }
      }
      throw error;
    }
  }

  /** The session, checked to be the token that holds `residency`'s keys. */
  async #on<T>(residency: KeyResidency, work: (token: ResidentKeyDevice) => Promise<T>): Promise<T> {
    return this.#with(async (token) => {
      if (token.info.serial !== residency.tokenSerial || token.info.label !== residency.tokenLabel) {
        throw new CofferError(
          'EUNAVAIL',
          `this key lives on ${residencyName(residency)}, but the keystore's PKCS#11 token is ` +
            `'${token.info.label}' (serial ${token.info.serial}): open the keystore with that token`,
        );
      }
      return work(token);
    });
  }

  /** Fails (EUNAVAIL) unless the token is reachable; used before any write that depends on it. */
  async residency(): Promise<KeyResidency> {
    return this.#with(async (token) => ({
      type: 'pkcs11',
      tokenLabel: token.info.label,
      tokenSerial: token.info.serial,
    }));
  }

  /**
   * Generates one version's key pair in the token. The label names the Coffer key (for operators
   * listing the token) plus a random suffix, so a pair orphaned by a crash never blocks the next one.
   */
  async generate(
    residency: KeyResidency,
    alg: 'ed25519' | 'ecdsa-p256',
    keyId: string,
  ): Promise<{ tokenKeyId: string; publicKey: Uint8Array }> {
    const label = `coffer:${keyId}:${Buffer.from(systemRng.randomBytes(4)).toString('hex')}`;
    return this.#on(residency, async (token) => {
      const key = await token.generate(alg, label);
      return { tokenKeyId: key.handleId, publicKey: key.publicKey };
    });
  }

  /** Deletes token key pairs; pairs already gone are fine (destroy is retried after a failure). */
  async destroy(residency: KeyResidency, tokenKeyIds: readonly string[]): Promise<void> {
    if (tokenKeyIds.length === 0) return;
    await this.#on(residency, async (token) => {
      for (const id of tokenKeyIds) await token.destroy(id);
    });
  }

  async sign(residency: KeyResidency, tokenKeyId: string, data: Uint8Array): Promise<Uint8Array> {
    return this.#on(residency, (token) => token.sign(tokenKeyId, data));
  }

  /** CKM_ECDSA over a caller's digest with a resident P-256 key (signResidentDigest). */
  async signDigest(residency: KeyResidency, tokenKeyId: string, digest: Uint8Array): Promise<Uint8Array> {
    return this.#on(residency, (token) => token.signDigest(tokenKeyId, digest));
  }

  /** Logs the session out (lock, close); the next resident operation logs in again. */
  async close(): Promise<void> {
    const pending = this.#token;
    this.#token = undefined;
    if (pending === undefined) return;
    const token = await pending.catch(() => undefined);
    await token?.close();
  }
}

/** `ks.sign` for a resident key: same checks and result shape as operations.ts sign (SPEC §7). */
export async function signWithResidentKey(
  s: Session,
  resident: ResidentKeys,
  info: KeyInfo,
  data: unknown,
  options: { encoding?: unknown; context?: unknown } = {},
): Promise<{ signature: Uint8Array; version: number }> {
  const residency = info.residency;
  if (residency === undefined) throw new CofferError('EINTERNAL', `key ${info.id} is not HSM-resident`);
  assertBytes('data', data);
  if (data.length > LIMITS.signMessageBytes) {
    throw new CofferError('E2BIG', `data is larger than ${LIMITS.signMessageBytes} bytes`);
  }
  const encoding = options.encoding ?? 'raw';
  if (encoding !== 'raw' && encoding !== 'der') {
    throw new CofferError('EINVAL', "signature encoding must be 'raw' or 'der'");
  }
  if (encoding === 'der' && info.algorithm !== 'ecdsa-p256') {
    throw new CofferError('EINVAL', `DER encoding exists only for ECDSA keys, not ${info.algorithm}`);
  }
  if (options.context !== undefined) {
    throw new CofferError('EINVAL', `options.context is only defined for ml-dsa-65, not ${info.algorithm}`);
  }
  const v = protectVersion(info, 'sign', s.now());
  const admitted = s.usage.admit(info.id);
  if (admitted) await admitted;
  if (v.tokenKeyId === undefined) {
    throw new CofferError('EBADMSG', `version ${v.version} of resident key ${info.id} names no token key`);
  }
  const raw = await resident.sign(residency, v.tokenKeyId, data);
  s.usage.count(info.id, v.version);
  s.auditOperation('op.sign', info.id, v.version);
  return { signature: encoding === 'der' ? ecdsaSignatureToDer(raw) : raw, version: v.version };
}

/**
 * `ks.signDigest` for a resident key (SPEC §14.2, §5.5): the digest checks of digest-sign.ts, then
 * the token signs it with CKM_ECDSA. Ed25519 keys are refused as in software (Ed25519ph is another
 * algorithm); recoverable signatures exist for secp256k1 only, which a token does not hold.
 */
export async function signDigestWithResidentKey(
  s: Session,
  resident: ResidentKeys,
  info: KeyInfo,
  digest: unknown,
  options: { hash: DigestAlgorithm; recoverable?: boolean },
): Promise<{ signature: Uint8Array; version: number }> {
  const residency = info.residency;
  if (residency === undefined) throw new CofferError('EINTERNAL', `key ${info.id} is not HSM-resident`);
  if (typeof options !== 'object' || options === null)
    throw new CofferError('EINVAL', 'options must be an object with the hash');
  assertDigest(options.hash, digest);
  for (const name of Object.keys(options)) {
    if (name !== 'hash' && name !== 'recoverable')
      throw new CofferError('EINVAL', `unknown option '${name}'`);
  }
  if (options.recoverable !== undefined && typeof options.recoverable !== 'boolean')
    throw new CofferError('EINVAL', 'options.recoverable must be a boolean');
  if (options.recoverable)
    throw new CofferError(
      'EINVAL',
      `recoverable signatures are defined for secp256k1 only, not ${info.algorithm}`,
    );
  const v = protectVersion(info, 'sign', s.now());
  if (info.algorithm !== 'ecdsa-p256') {
    throw new CofferError(
      'EINVAL',
      `key ${info.id} is ${info.algorithm}, which cannot sign a digest (its prehash variant is another algorithm that ordinary verifiers reject): sign the message itself, or use an ECDSA key`,
    );
  }
  if (v.tokenKeyId === undefined) {
    throw new CofferError('EBADMSG', `version ${v.version} of resident key ${info.id} names no token key`);
  }
  const signature = await resident.signDigest(residency, v.tokenKeyId, digest);
  s.usage.count(info.id, v.version);
  s.auditOperation('op.sign', info.id, v.version);
  return { signature, version: v.version };
}

/** Narrows a validated algorithm to the two a token can hold (validateCreateSpec enforced it). */
export function residentAlgorithm(alg: KeyAlgorithm): 'ed25519' | 'ecdsa-p256' {
  if (alg !== 'ed25519' && alg !== 'ecdsa-p256') {
    throw new CofferError('EINVAL', `HSM-resident keys are ed25519 or ecdsa-p256, not ${alg}`);
  }
  return alg;
}
