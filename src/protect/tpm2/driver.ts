// The TPM 2.0 protector (SPEC §5, SPEC "TPM 2.0 protector"): a random 32-byte key-encryption key is
// sealed into a TPM data object under the owner hierarchy's storage primary, optionally bound to PCR
// values; the keyslot state keeps only the sealed blobs. Opening unseals the KEK into this process,
// and the device then runs AES-256-GCM in process: nonce(12) ‖ ciphertext ‖ tag(16). The TPM guarantees
// the KEK cannot be unsealed on another machine (or after a TPM clear, or in another boot state); it does
// not keep it out of this process's memory, which is why capabilities() says nonExportable: false.
import { equalBytes } from '../../crypto/bytes.js';
import { systemRng } from '../../crypto/rng.js';
import { CofferError } from '../../errors.js';
import { InProcessAeadDevice } from '../aead-device.js';
import {
  assertProtectorContext,
  type DeviceKeystore,
  type ProtectorCapabilities,
  type ProtectorContext,
  type ProtectorDriver,
  type ProtectorState,
} from '../types.js';
import { buildState, formatPcrSelection, parseConfig, parseState, type Tpm2Config } from './config.js';
import {
  checkPcrBanks,
  createPcrPolicy,
  createPrimary,
  readTpmInfo,
  sealKek,
  type TpmInfo,
  unsealKek,
  withTpm,
} from './seal.js';

const KEK_LENGTH = 32;
/** Keyslots wrap 32-byte master keys; the bounds only stop a caller from streaming bulk data here. */
const MAX_PLAINTEXT = 16 * 1024 * 1024;
const MAX_AAD = 64 * 1024;

function capabilitiesFor(info: TpmInfo): ProtectorCapabilities {
  return {
    // swtpm keeps its seeds in a state directory on disk: a software TPM is not dedicated hardware.
    hardwareBacked: !info.software,
    // The unsealed KEK lives in this process for the device's lifetime.
    nonExportable: false,
    // The sealed blobs sit in the keyslot record and the owner seed survives reboots (not a TPM clear).
    persistent: true,
    userPresence: false,
  };
}

/** AES-256-GCM under the unsealed KEK; the device owns the KEK and wipes it on close(). */
function openDevice(kek: Uint8Array, info: TpmInfo): DeviceKeystore {
  return new InProcessAeadDevice(kek, {
    name: 'tpm2',
    capabilities: capabilitiesFor(info),
    rng: systemRng,
    maxPlaintext: MAX_PLAINTEXT,
    maxAad: MAX_AAD,
  });
}

export const tpm2Driver: ProtectorDriver<Tpm2Config> = {
  type: 'tpm2',

  async create(config: Tpm2Config, context: ProtectorContext) {
    const { tcti, pcrs } = parseConfig(config);
    assertProtectorContext(context);
    const kek = systemRng.randomBytes(KEK_LENGTH);
    let handedOver = false;
    try {
      const result = await withTpm({ tcti }, async (session) => {
        const info = await readTpmInfo(session);
        if (pcrs !== null) await checkPcrBanks(session, pcrs);
        const primary = await createPrimary(session);
        const policy = pcrs === null ? null : await createPcrPolicy(session, pcrs);
        const sealed = await sealKek(
          session,
          primary,
          kek,
          pcrs === null ? null : session.path('pcr.policy'),
        );
        // Prove the slot opens before anyone relies on it: a state that cannot be unsealed would be a
        // keyslot that silently does not work.
        const check = await unsealKek(session, primary, sealed, pcrs);
        try {
          if (!equalBytes(check, kek)) {
            throw new CofferError(
              'EUNAVAIL',
              'the TPM returned a different key when the new sealed object was unsealed',
            );
          }
        } finally {
          check.fill(0);
        }
        return { info, state: buildState(pcrs, policy, sealed.sealedPublic, sealed.sealedPrivate) };
      });
      const device = openDevice(kek, result.info);
      handedOver = true;
      return { device, state: result.state as unknown as ProtectorState };
    } finally {
      if (!handedOver) kek.fill(0);
    }
  },

  async open(config: Tpm2Config, state: ProtectorState, context: ProtectorContext) {
    const { tcti, pcrs } = parseConfig(config);
    const parsed = parseState(state);
    assertProtectorContext(context);
    // The sealed object's policy is fixed at creation; a different selection in the config means the
    // caller expects a binding this slot does not have.
    if (pcrs !== null && formatPcrSelection(pcrs) !== parsed.state.pcrs) {
      throw new CofferError(
        'EINVAL',
        `config pcrs ${formatPcrSelection(pcrs)} differ from the slot's sealed selection ${parsed.state.pcrs ?? '(none)'}`,
      );
    }
    if (pcrs === null && parsed.pcrs !== null) {
      throw new CofferError(
        'EINVAL',
        `this slot is bound to PCRs ${parsed.state.pcrs}: the config must name the same pcrs`,
      );
    }
    const { info, kek } = await withTpm({ tcti }, async (session) => {
      const info = await readTpmInfo(session);
      const primary = await createPrimary(session);
      return { info, kek: await unsealKek(session, primary, parsed, parsed.pcrs) };
    });
    if (kek.length !== KEK_LENGTH) {
      kek.fill(0);
      throw new CofferError(
        'EUNAVAIL',
        'the sealed object does not hold a 32-byte key: the slot state was altered',
      );
    }
    return openDevice(kek, info);
  },
};
