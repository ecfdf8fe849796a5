// What a Keystore can be given to run expensive crypto off the calling thread (docs/daemon.md "Worker
// pool"): the daemon gives its worker pool, a library user gives nothing and every kernel runs inline.
// The Keystore stays the only place that unwraps secrets; it hands a kernel the key as a SecretRef, so
// an implementation can send the bytes to a worker once and refer to them afterwards, and it says when
// those copies must be wiped (forget / forgetAll: destroy, lock, close, dropCaches).
import { KERNELS, type KernelName, type Kernels, kernelCost } from './kernels.js';

/** An unwrapped key version. `secret` is the Session's cached copy: the same object until it is wiped. */
export interface SecretRef {
  keyId: string;
  version: number;
  secret: Uint8Array;
}

export type KernelArgs<N extends KernelName> = Parameters<Kernels[N]>;
export type KernelResult<N extends KernelName> = ReturnType<Kernels[N]>;

export interface CryptoOffload {
  /**
   * Runs kernel `name` elsewhere, or answers undefined to have it run inline (too cheap to be worth a
   * trip). For a secret kernel `key` is given and `args[0]` is its secret. `cost` is kernelCost's
   * estimate in µs.
   */
  run<N extends KernelName>(
    name: N,
    args: KernelArgs<N>,
    key: SecretRef | undefined,
    cost: number,
  ): Promise<KernelResult<N>> | undefined;
  /** Wipes every copy of the key's versions made for other threads (destroy). */
  forget(keyId: string): void;
  /** Wipes every copy of every key (lock, close, dropCaches). */
  forgetAll(): void;
}

/** Runs a kernel through the offload when there is one and it takes the call, else right here. */
export function perform<N extends KernelName>(
  offload: CryptoOffload | undefined,
  name: N,
  alg: string,
  bytes: number,
  key: SecretRef | undefined,
  args: KernelArgs<N>,
): KernelResult<N> | Promise<KernelResult<N>> {
  const away = offload?.run(name, args, key, kernelCost(name, alg, bytes));
  if (away !== undefined) return away;
  return (KERNELS[name] as unknown as (...a: KernelArgs<N>) => KernelResult<N>)(...args);
}
