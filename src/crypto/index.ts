// `coffer/crypto`: the pure, synchronous primitives of SPEC §1 over Uint8Array. Native node:crypto
// wherever the running Node has the primitive, audited @noble code only where it does not.
export { CofferError, type ErrorCode } from '../errors.js';
export * as aead from './aead.js';
export { cryptoImplementations, nativeSupport } from './features.js';
export * as hd from './hd.js';
export * as kdf from './kdf.js';
export * as kem from './kem.js';
export * as mac from './mac.js';
export { insecureSeededRng, type Rng, systemRng } from './rng.js';
export * as sig from './sig.js';
