// Who acts in the circle (SPEC §17.9): a device, whose keys live non-exportable in the keystore, or
// the recovery identity, whose keys are derived from the phrase for one call and wiped. Both sign
// labelled messages with Ed25519 AND ML-DSA-65 and open X-Wing envelopes; verification needs both.
import { b64 } from '../../core/encoding.js';
import * as kem from '../../crypto/kem.js';
import * as sig from '../../crypto/sig.js';
import { bytesField, type DualSignature, type Identity, labelled } from './codec.js';

export interface CircleActor {
  readonly identity: Identity;
  sign(label: string, message: Uint8Array): Promise<DualSignature>;
  /** The X-Wing shared secret of an envelope addressed to this actor. */
  decapsulate(ciphertext: Uint8Array): Promise<Uint8Array>;
}

/** True iff both signatures verify under the identity's keys (a malformed one is simply false). */
export function verifyDual(
  identity: Identity,
  label: string,
  message: Uint8Array,
  signature: DualSignature,
): boolean {
  try {
    const data = labelled(label, message);
    const ed = sig.verify(
      'ed25519',
      bytesField(identity.ed25519, 'ed25519'),
      data,
      b64.decode(signature.ed25519),
    );
    const ml = sig.verify(
      'ml-dsa-65',
      bytesField(identity.mldsa65, 'mldsa65'),
      data,
      b64.decode(signature.mldsa65),
    );
    return ed && ml;
  } catch {
    return false;
  }
}

/** What a device's keys need from the keystore (core/keystore.ts hands it the real ones). */
export interface DeviceKeyOps {
  sign(id: string, data: Uint8Array): Promise<{ signature: Uint8Array }>;
  decapsulate(id: string, ciphertext: Uint8Array): Promise<Uint8Array>;
}

export interface DeviceKeyIds {
  ed25519: string;
  mldsa65: string;
  xwing: string;
}

export class DeviceActor implements CircleActor {
  constructor(
    readonly identity: Identity,
    private readonly keyIds: DeviceKeyIds,
    private readonly ops: DeviceKeyOps,
  ) {}

  async sign(label: string, message: Uint8Array): Promise<DualSignature> {
    const sigs = await this.signRaw(labelled(label, message));
    return { ed25519: b64.encode(sigs.ed25519), mldsa65: b64.encode(sigs.mldsa65) };
  }

  /** Raw signatures of an unlabelled message (the transport's own challenges, §17.8). */
  async signRaw(message: Uint8Array): Promise<{ ed25519: Uint8Array; mldsa65: Uint8Array }> {
    const [ed, ml] = await Promise.all([
      this.ops.sign(this.keyIds.ed25519, message),
      this.ops.sign(this.keyIds.mldsa65, message),
    ]);
    return { ed25519: ed.signature, mldsa65: ml.signature };
  }

  decapsulate(ciphertext: Uint8Array): Promise<Uint8Array> {
    return this.ops.decapsulate(this.keyIds.xwing, ciphertext);
  }
}

/** Secret keys held in memory for one operation (the recovery identity); `wipe()` when done. */
export class MemoryActor implements CircleActor {
  constructor(
    readonly identity: Identity,
    private readonly secrets: { ed25519: Uint8Array; mldsa65: Uint8Array; xwing: Uint8Array },
  ) {}

  async sign(label: string, message: Uint8Array): Promise<DualSignature> {
    const sigs = await this.signRaw(labelled(label, message));
    return { ed25519: b64.encode(sigs.ed25519), mldsa65: b64.encode(sigs.mldsa65) };
  }

  async signRaw(message: Uint8Array): Promise<{ ed25519: Uint8Array; mldsa65: Uint8Array }> {
    return {
      ed25519: sig.sign('ed25519', this.secrets.ed25519, message),
      mldsa65: sig.sign('ml-dsa-65', this.secrets.mldsa65, message),
    };
  }

  async decapsulate(ciphertext: Uint8Array): Promise<Uint8Array> {
    return kem.decapsulate('x-wing', this.secrets.xwing, ciphertext);
  }

  wipe(): void {
    this.secrets.ed25519.fill(0);
    this.secrets.mldsa65.fill(0);
    this.secrets.xwing.fill(0);
  }
}
