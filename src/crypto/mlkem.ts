// ML-KEM-768 (FIPS 203) behind one small backend interface with two implementations: OpenSSL 3.5
// through node:crypto (Node >= 24.7) and @noble/post-quantum (everywhere, and always for the
// derandomised Encaps_internal(ek, m), which OpenSSL does not expose). The secret key Coffer keeps
// is the 64-byte seed d‖z (FIPS 203 §7.1 / §6.1); the 2400-byte decapsulation key is derived from it
// and only ever cached in memory (kem-cache.ts), never stored.

import type { KeyObject } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { type KEMPrepared, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { CofferError } from '../errors.js';
import { asUint8 } from './bytes.js';
import { nativeSupport } from './features.js';
import { importQuietly } from './held-keys.js';
import { type Disposable, ExpandedKeyCache } from './kem-cache.js';
import { systemRng } from './rng.js';

/** FIPS 203 Table 3 sizes for ML-KEM-768, plus the 64-byte d‖z seed and 32-byte message m. */
export const ML_KEM_768 = Object.freeze({
  seed: 64,
  publicKey: 1184,
  ciphertext: 1088,
  sharedSecret: 32,
  message: 32,
});

/** An expanded decapsulation key: built once per seed, kept in the cache, wiped on eviction. */
export interface MlKemSecret extends Disposable {
  readonly publicKey: Uint8Array;
  /** FIPS 203 ML-KEM.Decaps: never throws on a well-sized ciphertext (implicit rejection). */
  decapsulate(ciphertext: Uint8Array): Uint8Array;
}

/** A checked, pre-expanded encapsulation key. */
export interface MlKemPublic extends Disposable {
  /** With `m`: ML-KEM.Encaps_internal(ek, m); without: fresh randomness. */
  encapsulate(m?: Uint8Array): { ciphertext: Uint8Array; sharedSecret: Uint8Array };
}

export interface MlKemBackend {
  readonly name: 'node:crypto' | '@noble/post-quantum';
  /** Whether `MlKemPublic.encapsulate(m)` accepts a caller-chosen m. */
  readonly derandomized: boolean;
  /** d‖z (64 bytes) → expanded key. */
  expandSecret(seed: Uint8Array): MlKemSecret;
  /** Encapsulation key → prepared key; EINVAL when it fails the FIPS 203 §7.2 modulus check. */
  expandPublic(publicKey: Uint8Array): MlKemPublic;
}

const MODULUS_ERROR = 'ML-KEM-768 encapsulation key fails the FIPS 203 §7.2 modulus check';

function copyAndWipe(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  bytes.fill(0);
  return out;
}

const nobleBackend: MlKemBackend = Object.freeze({
  name: '@noble/post-quantum',
  derandomized: true,
  expandSecret(seed: Uint8Array): MlKemSecret {
    const { secretKey, publicKey } = ml_kem768.keygen(seed);
    // prepare() caches Â and t̂ (public data only), halving each decapsulation's cost; done on first
    // use so that keygen alone (a key that is only stored) does not pay for it.
    let prepared: KEMPrepared | undefined;
    return {
      publicKey,
      decapsulate: (ciphertext) => {
        prepared ??= ml_kem768.prepare(publicKey);
        return copyAndWipe(prepared.decapsulate(ciphertext, secretKey));
      },
      dispose: () => {
        secretKey.fill(0);
        prepared?.clean();
      },
    };
  },
  expandPublic(publicKey: Uint8Array): MlKemPublic {
    let prepared: KEMPrepared;
    try {
      prepared = ml_kem768.prepare(publicKey);
    } catch (error) {
      throw new CofferError('EINVAL', MODULUS_ERROR, { cause: error });
    }
    return {
      encapsulate: (m) => {
        const message = m ?? systemRng.randomBytes(ML_KEM_768.message);
        try {
          const { cipherText, sharedSecret } = prepared.encapsulate(message);
          return { ciphertext: cipherText, sharedSecret: copyAndWipe(sharedSecret) };
        } finally {
          if (m === undefined) message.fill(0);
        }
      },
      dispose: () => prepared.clean(),
    };
  },
});

// FIPS 203 keys in the DER forms OpenSSL 3.5 imports (draft-ietf-lamps-kyber-certificates): the
// PKCS#8 private key carries only the seed ([0] IMPLICIT OCTET STRING, 64 bytes), the SPKI the key.
const OID = '0609608648016503040402'; // 2.16.840.1.101.3.4.4.2 id-alg-ml-kem-768
const PKCS8_SEED_PREFIX = Buffer.from(`3054020100300b${OID}04428040`, 'hex');
const SPKI_PREFIX = Buffer.from(`308204b2300b${OID}038204a100`, 'hex');

interface NativeKem {
  encapsulate(key: KeyObject): { sharedKey: Buffer; ciphertext: Buffer };
  decapsulate(key: KeyObject, ciphertext: Uint8Array): Buffer;
}
// Node 20's typings do not declare the KEM functions; features.ts decides whether they exist.
const nativeKem = nodeCrypto as unknown as NativeKem;

type ExportRaw = (key: KeyObject, options: { format: 'raw-public' }) => Buffer;
const exportRaw: ExportRaw = (key, options) =>
  (key.export as unknown as (o: typeof options) => Buffer)(options);

function makeNativeBackend(): MlKemBackend {
  // Node >= 24.? exports raw public keys directly, ~5x faster than encoding and slicing an SPKI.
  const rawExport = (() => {
    try {
      const generate = nodeCrypto.generateKeyPairSync as unknown as (type: string) => {
        publicKey: KeyObject;
      };
      return (
        exportRaw(generate('ml-kem-768').publicKey, { format: 'raw-public' }).length === ML_KEM_768.publicKey
      );
    } catch {
      return false;
    }
  })();
  const publicBytes = (privateKey: KeyObject): Uint8Array => {
    const publicKey = nodeCrypto.createPublicKey(privateKey);
    if (rawExport) return asUint8(exportRaw(publicKey, { format: 'raw-public' }));
    return new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
  };
  return Object.freeze({
    name: 'node:crypto',
    derandomized: false,
    expandSecret(seed: Uint8Array): MlKemSecret {
      const der = Buffer.concat([PKCS8_SEED_PREFIX, seed]);
      let privateKey: KeyObject;
      try {
        privateKey = importQuietly(() =>
          nodeCrypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
        );
      } catch (error) {
        throw new CofferError('EINTERNAL', 'OpenSSL refused an ML-KEM-768 seed', { cause: error });
      } finally {
        der.fill(0);
      }
      const publicKey = publicBytes(privateKey);
      return {
        publicKey,
        decapsulate: (ciphertext) => {
          try {
            return copyAndWipe(nativeKem.decapsulate(privateKey, ciphertext));
          } catch (error) {
            throw new CofferError('EINTERNAL', 'ML-KEM-768 decapsulation failed in OpenSSL', {
              cause: error,
            });
          }
        },
        // A KeyObject cannot be wiped from JS; dropping the reference is all that is possible.
        dispose: () => {},
      };
    },
    expandPublic(publicKey: Uint8Array): MlKemPublic {
      let key: KeyObject;
      try {
        // OpenSSL performs the §7.2 modulus check when it decodes the key.
        key = importQuietly(() =>
          nodeCrypto.createPublicKey({
            key: Buffer.concat([SPKI_PREFIX, publicKey]),
            format: 'der',
            type: 'spki',
          }),
        );
      } catch (error) {
        throw new CofferError('EINVAL', MODULUS_ERROR, { cause: error });
      }
      return {
        encapsulate: (m) => {
          if (m !== undefined) throw new CofferError('EINTERNAL', 'native ML-KEM cannot take a chosen m');
          const { sharedKey, ciphertext } = nativeKem.encapsulate(key);
          // OpenSSL's output Buffer owns its memory (not Node's shared pool), so a view is safe.
          return { ciphertext: asUint8(ciphertext), sharedSecret: copyAndWipe(sharedKey) };
        },
        dispose: () => {},
      };
    },
  });
}

/** Both implementations, for cross-checks; `native` is absent where node:crypto lacks ML-KEM. */
export const _mlkemBackends: Readonly<{ native: MlKemBackend | undefined; noble: MlKemBackend }> =
  Object.freeze({
    native: nativeSupport.mlKem768 ? makeNativeBackend() : undefined,
    noble: nobleBackend,
  });

/** The implementation used when no particular one is asked for (cryptoImplementations() says which). */
export const mlkemDefaultBackend: MlKemBackend = _mlkemBackends.native ?? _mlkemBackends.noble;

/** Picks the backend that can honour a chosen m: the default, or noble when m is given. */
export function mlkemEncapsulationBackend(m: Uint8Array | undefined, preferred: MlKemBackend): MlKemBackend {
  return m === undefined || preferred.derandomized ? preferred : _mlkemBackends.noble;
}

const secretCache = new ExpandedKeyCache<MlKemSecret>(64);
const publicCache = new ExpandedKeyCache<MlKemPublic>(64, { publicKeys: true });

/** The cached expanded key for seed d‖z (length already checked by the caller). */
export function mlkemSecret(seed: Uint8Array, backend: MlKemBackend = mlkemDefaultBackend): MlKemSecret {
  return secretCache.get(`ml-kem-768:${backend.name}`, seed, () => backend.expandSecret(seed));
}

/** The cached, modulus-checked encapsulation key (length already checked by the caller). */
export function mlkemPublic(publicKey: Uint8Array, backend: MlKemBackend = mlkemDefaultBackend): MlKemPublic {
  return publicCache.get(`ml-kem-768:${backend.name}`, publicKey, () => backend.expandPublic(publicKey));
}

export function mlkemPublicKey(seed: Uint8Array, backend?: MlKemBackend): Uint8Array {
  return Uint8Array.from(mlkemSecret(seed, backend).publicKey);
}

export function mlkemEncapsulate(
  publicKey: Uint8Array,
  m?: Uint8Array,
  backend: MlKemBackend = mlkemDefaultBackend,
): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  return mlkemPublic(publicKey, mlkemEncapsulationBackend(m, backend)).encapsulate(m);
}

export function mlkemDecapsulate(
  seed: Uint8Array,
  ciphertext: Uint8Array,
  backend?: MlKemBackend,
): Uint8Array {
  return mlkemSecret(seed, backend).decapsulate(ciphertext);
}

export function _mlkemCacheStats(): {
  secret: ReturnType<typeof secretCache.stats>;
  public: ReturnType<typeof publicCache.stats>;
} {
  return { secret: secretCache.stats(), public: publicCache.stats() };
}

export function _clearMlKemCache(): void {
  secretCache.clear();
  publicCache.clear();
}
