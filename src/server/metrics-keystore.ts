// The daemon's view of its Keystore with every key operation timed and counted (docs/metrics.md
// "Operations"): routes, batches and the rotation scheduler all call through it, so each item of a
// batch and each scheduled rotation is one observation. A Proxy rather than a subclass: the Keystore
// keeps its state in private fields, so every method runs bound to the real object.
import type { Keystore } from '../core/keystore.js';
import { type CreateKeySpec, KEY_ALGORITHMS, type KeyInfo } from '../core/types.js';
import type { DaemonMetrics } from './metrics.js';

/** Keystore method → the operation label (the token operation names where there is one). */
const OPERATIONS: Readonly<Record<string, string>> = {
  sign: 'sign',
  verify: 'verify',
  checkSignature: 'verify',
  seal: 'seal',
  unseal: 'unseal',
  rewrap: 'rewrap',
  sealStream: 'seal-stream',
  unsealStream: 'unseal-stream',
  rewrapStream: 'rewrap-stream',
  generateDataKey: 'data-key',
  encapsulate: 'encapsulate',
  decapsulate: 'decapsulate',
  mac: 'mac',
  verifyMac: 'verify-mac',
  createKey: 'create',
  rotate: 'rotate',
  emergencyRotate: 'emergency-rotate',
  activate: 'activate',
  suspend: 'suspend',
  resume: 'resume',
  revoke: 'revoke',
  destroy: 'destroy',
};

/** A key's algorithm never changes, so id → algorithm is remembered (bounded) after the first look. */
const ALGORITHM_CACHE_MAX = 100_000;
const KNOWN: ReadonlySet<string> = new Set(KEY_ALGORITHMS);

export function instrumentKeystore(ks: Keystore, metrics: DaemonMetrics): Keystore {
  const algorithms = new Map<string, string>();
  const remember = (info: KeyInfo) => {
    if (algorithms.size >= ALGORITHM_CACHE_MAX) algorithms.clear();
    algorithms.set(info.id, info.algorithm);
  };
  const wrapped = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const measure = (method: string, operation: string) => {
    const original = (Reflect.get(ks, method) as (...args: unknown[]) => Promise<unknown>).bind(ks);
    return async (...args: unknown[]) => {
      let result: unknown;
      let algorithm: string | undefined;
      const first = args[0];
      if (method === 'createKey') algorithm = (first as CreateKeySpec | undefined)?.algorithm;
      else if (typeof first === 'string') {
        algorithm = algorithms.get(first);
        if (algorithm === undefined) {
          // One metadata read (cached by the keystore itself), after which the operation hits its cache.
          algorithm = await ks.getKey(first).then(
            (info) => {
              remember(info);
              return info.algorithm;
            },
            () => undefined,
          );
        }
      }
      await metrics.timeOperation(
        operation,
        // Only known names become labels: a caller's string must never grow the label set.
        () => (KNOWN.has(algorithm as string) ? (algorithm as string) : 'unknown'),
        async () => {
          result = await original(...args);
        },
      );
      if (operation === 'rotate' || operation === 'emergency-rotate') metrics.invalidateRotations();
      return result;
    };
  };
  return new Proxy(ks, {
    get(target, property) {
      if (typeof property === 'string' && property in OPERATIONS) {
        let fn = wrapped.get(property);
        if (!fn) {
          fn = measure(property, OPERATIONS[property] as string);
          wrapped.set(property, fn);
        }
        return fn;
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
