// X-Wing (draft-connolly-cfrg-xwing-kem-10 §5): ML-KEM-768 + X25519 with a SHA3-256 combiner. The
// secret key is a 32-byte seed, expanded with SHAKE256 to ML-KEM d‖z and an X25519 scalar (§5.2);
// the expanded form is cached per seed (§5.5.1) and never leaves the process. SHAKE256, SHA3-256 and
// X25519 are always OpenSSL; ML-KEM is whichever backend mlkem.ts chooses.
import { createHash, type KeyObject } from 'node:crypto';
import { concatBytes } from './bytes.js';
import { type Disposable, ExpandedKeyCache } from './kem-cache.js';
import {
  ML_KEM_768,
  type MlKemBackend,
  type MlKemPublic,
  type MlKemSecret,
  mlkemDefaultBackend,
  mlkemEncapsulationBackend,
} from './mlkem.js';
import {
  isLowOrderPoint,
  X25519_LENGTH,
  x25519,
  x25519Ephemeral,
  x25519PrivateKey,
  x25519PublicFromPrivate,
  x25519PublicKey,
} from './x25519.js';

/** §5.1 sizes; `eseed` is EncapsulateDerand's 64-byte seed (m ‖ ek_X). */
export const X_WING = Object.freeze({
  seed: 32,
  publicKey: ML_KEM_768.publicKey + X25519_LENGTH, // 1216 = pk_M ‖ pk_X
  ciphertext: ML_KEM_768.ciphertext + X25519_LENGTH, // 1120 = ct_M ‖ ct_X
  sharedSecret: 32,
  eseed: 64,
});

/** XWingLabel, §5.3: "\./" ‖ "/^\" = 5c2e2f2f5e5c. */
const LABEL = Buffer.from('5c2e2f2f5e5c', 'hex');

/** §5.3 Combiner: SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ XWingLabel). */
export function xwingCombiner(
  ssM: Uint8Array,
  ssX: Uint8Array,
  ctX: Uint8Array,
  pkX: Uint8Array,
): Uint8Array {
  return new Uint8Array(
    createHash('sha3-256').update(ssM).update(ssX).update(ctX).update(pkX).update(LABEL).digest(),
  );
}

interface XWingSecret extends Disposable {
  readonly publicKey: Uint8Array;
  readonly pkX: Uint8Array;
  readonly mlkem: MlKemSecret;
  readonly x: KeyObject;
}

interface XWingPublic extends Disposable {
  readonly mlkem: MlKemPublic;
  readonly pkX: Uint8Array;
  /** Absent for a low-order pk_X, whose X25519 output is the all-zero string without any ladder. */
  readonly peer: KeyObject | undefined;
}

/** §5.2 expandDecapsulationKey. */
function expand(seed: Uint8Array, backend: MlKemBackend): XWingSecret {
  const expanded = createHash('shake256', { outputLength: 96 }).update(seed).digest();
  try {
    const x = x25519PrivateKey(expanded.subarray(64, 96));
    const pkX = x25519PublicFromPrivate(x);
    const mlkem = backend.expandSecret(expanded.subarray(0, 64)); // KeyGen_internal(d, z)
    return {
      publicKey: concatBytes(mlkem.publicKey, pkX),
      pkX,
      mlkem,
      x,
      dispose: () => mlkem.dispose(),
    };
  } finally {
    expanded.fill(0);
  }
}

const secretCache = new ExpandedKeyCache<XWingSecret>(64);
const publicCache = new ExpandedKeyCache<XWingPublic>(64, { publicKeys: true });

function secret(seed: Uint8Array, backend: MlKemBackend): XWingSecret {
  return secretCache.get(`x-wing:${backend.name}`, seed, () => expand(seed, backend));
}

function prepared(publicKey: Uint8Array, backend: MlKemBackend): XWingPublic {
  return publicCache.get(`x-wing:${backend.name}`, publicKey, () => {
    const pkX = Uint8Array.from(publicKey.subarray(ML_KEM_768.publicKey));
    // The ML-KEM part is checked (§4: Encaps MUST run the §7.2 check); pk_X is not (§5.4).
    const mlkem = backend.expandPublic(publicKey.subarray(0, ML_KEM_768.publicKey));
    return {
      mlkem,
      pkX,
      peer: isLowOrderPoint(pkX) ? undefined : x25519PublicKey(pkX),
      dispose: () => mlkem.dispose(),
    };
  });
}

/** §5.2 GenerateKeyPairDerand(sk): the 1216-byte encapsulation key of a 32-byte seed. */
export function xwingPublicKey(seed: Uint8Array, backend: MlKemBackend = mlkemDefaultBackend): Uint8Array {
  return Uint8Array.from(secret(seed, backend).publicKey);
}

/** §5.4 Encapsulate, or §5.4.1 EncapsulateDerand when `eseed` is given (lengths checked by caller). */
export function xwingEncapsulate(
  publicKey: Uint8Array,
  eseed?: Uint8Array,
  backend: MlKemBackend = mlkemDefaultBackend,
): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  const m = eseed?.subarray(0, 32);
  const pub = prepared(publicKey, mlkemEncapsulationBackend(m, backend));
  let ssX: Uint8Array | undefined;
  let ssM: Uint8Array | undefined;
  try {
    // EncapsulateDerand takes ek_X = eseed[32:64]; Encapsulate's random ek_X is drawn inside OpenSSL.
    const ephemeral =
      eseed === undefined
        ? x25519Ephemeral()
        : (() => {
            const privateKey = x25519PrivateKey(eseed.subarray(32, 64));
            return { privateKey, publicKey: x25519PublicFromPrivate(privateKey) };
          })();
    const ctX = ephemeral.publicKey;
    ssX = x25519(ephemeral.privateKey, pub.pkX, pub.peer);
    const encapsulated = pub.mlkem.encapsulate(m);
    ssM = encapsulated.sharedSecret;
    return {
      ciphertext: concatBytes(encapsulated.ciphertext, ctX),
      sharedSecret: xwingCombiner(ssM, ssX, ctX, pub.pkX),
    };
  } finally {
    ssX?.fill(0);
    ssM?.fill(0);
  }
}

/** §5.5 Decapsulate (lengths checked by caller). Never throws on a wrong ciphertext. */
export function xwingDecapsulate(
  seed: Uint8Array,
  ciphertext: Uint8Array,
  backend: MlKemBackend = mlkemDefaultBackend,
): Uint8Array {
  const sk = secret(seed, backend);
  const ctX = ciphertext.subarray(ML_KEM_768.ciphertext);
  const ssM = sk.mlkem.decapsulate(ciphertext.subarray(0, ML_KEM_768.ciphertext));
  const ssX = x25519(sk.x, ctX);
  try {
    return xwingCombiner(ssM, ssX, ctX, sk.pkX);
  } finally {
    ssM.fill(0);
    ssX.fill(0);
  }
}

export function _xwingCacheStats(): {
  secret: ReturnType<typeof secretCache.stats>;
  public: ReturnType<typeof publicCache.stats>;
} {
  return { secret: secretCache.stats(), public: publicCache.stats() };
}

export function _clearXWingCache(): void {
  secretCache.clear();
  publicCache.clear();
}
