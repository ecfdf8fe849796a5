// Class-key envelopes (SPEC §17.9): the class keys a device needs, X-Wing-encapsulated to one
// recipient's key and sealed with AES-256-GCM under a context binding account, epoch, link version,
// sender and recipient. The sender's signature is the link's (§17.9, the envelope is in its body).
import { b64, textEncoder } from '../../core/encoding.js';
import * as aead from '../../crypto/aead.js';
import { concatBytes, wipe } from '../../crypto/bytes.js';
import { hkdf } from '../../crypto/kdf.js';
import * as kem from '../../crypto/kem.js';
import type { Rng } from '../../crypto/rng.js';
import { CofferError } from '../../errors.js';
import {
  arr,
  bad,
  bytesField,
  CLASS_KEY_ID,
  cjBytes,
  DEVICE_ID,
  type Identity,
  int,
  labelled,
  obj,
  parseJsonBytes,
  str,
  XWING_CIPHERTEXT,
} from './codec.js';
import type { CircleActor } from './signer.js';

const LABEL = 'coffer:sync-envelope:v1';

export interface Envelope {
  from: string;
  to: string;
  kem: string;
  box: string;
}

export interface SharedClassKey {
  epoch: number;
  id: string;
  key: Uint8Array;
}

export interface EnvelopeContext {
  accountId: string;
  epoch: number;
  version: number;
}

function aadOf(ctx: EnvelopeContext, from: string, to: string): Uint8Array {
  return labelled(
    LABEL,
    cjBytes({ accountId: ctx.accountId, epoch: ctx.epoch, from, to, version: ctx.version }),
  );
}

function boxKey(sharedSecret: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return hkdf('sha256', sharedSecret, ciphertext, textEncoder.encode(LABEL), 32);
}

export function sealEnvelope(
  ctx: EnvelopeContext,
  from: string,
  to: Identity,
  keys: readonly SharedClassKey[],
  rng: Rng,
): Envelope {
  const { ciphertext, sharedSecret } = kem.encapsulate('x-wing', b64.decode(to.xwing), rng.randomBytes(64));
  const key = boxKey(sharedSecret, ciphertext);
  const payload = cjBytes({
    classKeys: keys.map((k) => ({ epoch: k.epoch, id: k.id, key: b64.encode(k.key) })),
  });
  try {
    const nonce = rng.randomBytes(12);
    const sealed = aead.encrypt('aes-256-gcm', key, nonce, payload, aadOf(ctx, from, to.deviceId));
    return {
      from,
      to: to.deviceId,
      kem: b64.encode(ciphertext),
      box: b64.encode(concatBytes(nonce, sealed)),
    };
  } finally {
    wipe(key, sharedSecret, payload);
  }
}

export function parseEnvelope(value: unknown, what: string): Envelope {
  const o = obj(value, what, ['from', 'to', 'kem', 'box']);
  const envelope = {
    from: str(o.from, `${what}.from`, DEVICE_ID),
    to: str(o.to, `${what}.to`, DEVICE_ID),
    kem: str(o.kem, `${what}.kem`),
    box: str(o.box, `${what}.box`),
  };
  bytesField(envelope.kem, `${what}.kem`, XWING_CIPHERTEXT);
  if (bytesField(envelope.box, `${what}.box`).length < 12 + 16 + 2) throw bad(`${what}.box is too short`);
  return envelope;
}

/** Opens an envelope addressed to `actor`; EBADMSG when it does not open or its contents are malformed. */
export async function openEnvelope(
  ctx: EnvelopeContext,
  envelope: Envelope,
  actor: CircleActor,
): Promise<SharedClassKey[]> {
  if (envelope.to !== actor.identity.deviceId)
    throw new CofferError('EBADMSG', `the envelope is for device ${envelope.to}, not this one`);
  const ciphertext = b64.decode(envelope.kem);
  const box = b64.decode(envelope.box);
  const sharedSecret = await actor.decapsulate(ciphertext);
  const key = boxKey(sharedSecret, ciphertext);
  let payload: Uint8Array;
  try {
    payload = aead.decrypt(
      'aes-256-gcm',
      key,
      box.subarray(0, 12),
      box.subarray(12),
      aadOf(ctx, envelope.from, envelope.to),
    );
  } catch {
    throw new CofferError(
      'EBADMSG',
      `the class-key envelope from ${envelope.from} does not open on this device`,
    );
  } finally {
    wipe(key, sharedSecret);
  }
  try {
    const o = obj(parseJsonBytes(payload, 'envelope payload'), 'envelope payload', ['classKeys']);
    return arr(o.classKeys, 'classKeys').map((entry, i) => {
      const k = obj(entry, `classKeys[${i}]`, ['epoch', 'id', 'key']);
      return {
        epoch: int(k.epoch, 'epoch', 1),
        id: str(k.id, 'id', CLASS_KEY_ID),
        key: bytesField(k.key, 'key', 32),
      };
    });
  } finally {
    wipe(payload);
  }
}
