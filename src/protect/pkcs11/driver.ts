// The `{ type: 'pkcs11', … }` protector driver (SPEC §5): create generates a non-extractable AES-256
// key inside the token and records which token and key it is; open finds them again; destroy deletes
// the token key when its keyslot is removed. The config object is a contract; the state is what the
// keyslot record persists (SPEC "PKCS#11 protector state").
import { systemRng } from '../../crypto/rng.js';
import { CofferError } from '../../errors.js';
import type {
  DeviceKeystore,
  Pkcs11ProtectorConfig,
  ProtectorCapabilities,
  ProtectorDriver,
  ProtectorState,
} from '../types.js';
import { CKA, CKK, CKM, CKO } from './constants.js';
import { DEVICE_MECHANISMS, type DeviceMechanism, Pkcs11Device, type TokenKey } from './device.js';
import type { Handle } from './module.js';
import {
  findObjects,
  type MechanismRequirement,
  Pkcs11Token,
  readBool,
  validateObjectLabel,
  validateTokenOptions,
} from './token.js';

export type { Pkcs11ProtectorConfig };

/** Persisted, JSON-safe, non-secret. */
export interface Pkcs11ProtectorState {
  v: 1;
  tokenSerial: string;
  tokenLabel: string;
  keyLabel: string;
  /** CKA_ID of the wrapping key, hex. */
  keyId: string;
  mechanism: DeviceMechanism;
}

export interface Pkcs11DriverOptions {
  /**
   * 'auto' (default) uses CKM_AES_GCM when the token has it for encrypt and decrypt, else
   * CKM_AES_KEY_WRAP_PAD. Naming one forces it (tests force the key-wrap path on SoftHSM2, which has both).
   */
  mechanism?: 'auto' | DeviceMechanism;
}

const KEY_ID_BYTES = 16;
const CONFIG_FIELDS = new Set(['type', 'module', 'tokenLabel', 'pin', 'keyLabel']);

const MECHANISM_NEEDS: Readonly<Record<DeviceMechanism, MechanismRequirement>> = {
  CKM_AES_GCM: { mechanism: CKM.AES_GCM, uses: ['encrypt', 'decrypt'] },
  CKM_AES_KEY_WRAP_PAD: { mechanism: CKM.AES_KEY_WRAP_PAD, uses: ['wrap', 'unwrap'] },
};

/** Checks a pkcs11 config completely without loading the module or touching the token. */
export function validatePkcs11Config(config: unknown): asserts config is Pkcs11ProtectorConfig {
  if (typeof config !== 'object' || config === null || (config as { type?: unknown }).type !== 'pkcs11') {
    throw new CofferError(
      'EINVAL',
      "PKCS#11: config must be { type: 'pkcs11', module, tokenLabel, pin, keyLabel }",
    );
  }
  for (const field of Object.keys(config)) {
    // A misspelt field (keylabel, tokenlabel) must not be silently ignored and stored in a keyslot.
    if (!CONFIG_FIELDS.has(field)) {
      throw new CofferError(
        'EINVAL',
        `PKCS#11: config has an unknown field ${JSON.stringify(field.slice(0, 32))}`,
      );
    }
  }
  validateTokenOptions(config);
  validateObjectLabel('keyLabel', (config as { keyLabel?: unknown }).keyLabel);
}

/** Checks a persisted state record field by field; anything else is EINVAL (a corrupt keyslot). */
export function parseState(state: ProtectorState): Pkcs11ProtectorState {
  const s = state as Partial<Record<keyof Pkcs11ProtectorState, unknown>>;
  const ok =
    typeof state === 'object' &&
    state !== null &&
    s.v === 1 &&
    typeof s.tokenSerial === 'string' &&
    s.tokenSerial.length > 0 &&
    s.tokenSerial.length <= 16 &&
    typeof s.tokenLabel === 'string' &&
    typeof s.keyLabel === 'string' &&
    typeof s.keyId === 'string' &&
    new RegExp(`^[0-9a-f]{${KEY_ID_BYTES * 2}}$`).test(s.keyId) &&
    typeof s.mechanism === 'string' &&
    (DEVICE_MECHANISMS as readonly string[]).includes(s.mechanism);
  if (!ok) throw new CofferError('EINVAL', 'PKCS#11: malformed protector state');
  return {
    v: 1,
    tokenSerial: s.tokenSerial as string,
    tokenLabel: s.tokenLabel as string,
    keyLabel: s.keyLabel as string,
    keyId: s.keyId as string,
    mechanism: s.mechanism as DeviceMechanism,
  };
}

function chooseMechanism(token: Pkcs11Token, wanted: 'auto' | DeviceMechanism): DeviceMechanism {
  if (wanted !== 'auto') {
    token.requireMechanisms([MECHANISM_NEEDS[wanted]]);
    return wanted;
  }
  for (const mechanism of DEVICE_MECHANISMS) {
    const need = MECHANISM_NEEDS[mechanism];
    if (token.supports(need.mechanism, need.uses)) return mechanism;
  }
  throw new CofferError(
    'EUNAVAIL',
    `PKCS#11: token '${token.info.label}' lacks both CKM_AES_GCM and CKM_AES_KEY_WRAP_PAD`,
  );
}

/** The wrapping key's template (SPEC: token objects). Usage flags only for the chosen mechanism. */
function keyTemplate(label: string, id: Buffer, mechanism: DeviceMechanism) {
  const gcm = mechanism === 'CKM_AES_GCM';
  return [
    { type: CKA.CLASS, value: CKO.SECRET_KEY },
    { type: CKA.KEY_TYPE, value: CKK.AES },
    { type: CKA.VALUE_LEN, value: 32 },
    { type: CKA.TOKEN, value: true },
    { type: CKA.PRIVATE, value: true },
    { type: CKA.SENSITIVE, value: true },
    { type: CKA.EXTRACTABLE, value: false },
    { type: CKA.ENCRYPT, value: gcm },
    { type: CKA.DECRYPT, value: gcm },
    { type: CKA.WRAP, value: !gcm },
    { type: CKA.UNWRAP, value: !gcm },
    { type: CKA.SIGN, value: false },
    { type: CKA.VERIFY, value: false },
    { type: CKA.DERIVE, value: false },
    { type: CKA.LABEL, value: label },
    { type: CKA.ID, value: id },
  ];
}

/** Reads the attributes the capabilities claim rests on, so capabilities() reports the key as it is. */
async function describeKey(
  token: Pkcs11Token,
  key: TokenKey,
  mechanism: DeviceMechanism,
): Promise<ProtectorCapabilities> {
  const name = `'${key.label}' on token '${token.info.label}'`;
  const attrs = await token.run(
    { action: `read the attributes of token key ${name}`, keyName: name },
    (lib, session) => ({
      sensitive: readBool(lib, session, key.handle, CKA.SENSITIVE),
      extractable: readBool(lib, session, key.handle, CKA.EXTRACTABLE),
      onToken: readBool(lib, session, key.handle, CKA.TOKEN),
      usable:
        mechanism === 'CKM_AES_GCM'
          ? readBool(lib, session, key.handle, CKA.ENCRYPT) && readBool(lib, session, key.handle, CKA.DECRYPT)
          : readBool(lib, session, key.handle, CKA.WRAP) && readBool(lib, session, key.handle, CKA.UNWRAP),
    }),
  );
  if (!attrs.usable) {
    throw new CofferError('EUNAVAIL', `PKCS#11: token key ${name} does not permit ${mechanism}`);
  }
  return {
    hardwareBacked: token.hardwareBacked,
    nonExportable: attrs.sensitive && !attrs.extractable,
    persistent: attrs.onToken,
    // A PIN pad is the only per-session presence PKCS#11 reports for a secret key.
    userPresence: token.info.protectedAuthenticationPath,
  };
}

async function findKey(token: Pkcs11Token, state: Pkcs11ProtectorState): Promise<Handle | undefined> {
  const name = `'${state.keyLabel}' (CKA_ID ${state.keyId}) on token '${token.info.label}'`;
  const handles = await token.run({ action: `find token key ${name}`, keyName: name }, (lib, session) =>
    findObjects(
      lib,
      session,
      [
        { type: CKA.CLASS, value: CKO.SECRET_KEY },
        { type: CKA.KEY_TYPE, value: CKK.AES },
        { type: CKA.LABEL, value: state.keyLabel },
        { type: CKA.ID, value: Buffer.from(state.keyId, 'hex') },
      ],
      2,
    ),
  );
  if (handles.length > 1) {
    throw new CofferError('EUNAVAIL', `PKCS#11: token key ${name} exists more than once`);
  }
  return handles[0];
}

async function openToken(config: Pkcs11ProtectorConfig, serial?: string): Promise<Pkcs11Token> {
  return Pkcs11Token.open({
    module: config.module,
    tokenLabel: config.tokenLabel,
    pin: config.pin,
    ...(serial === undefined ? {} : { serial }),
  });
}

export function createPkcs11Driver(
  options: Pkcs11DriverOptions = {},
): ProtectorDriver<Pkcs11ProtectorConfig> {
  const wanted = options.mechanism ?? 'auto';
  if (wanted !== 'auto' && !(DEVICE_MECHANISMS as readonly string[]).includes(wanted)) {
    throw new CofferError('EINVAL', `PKCS#11: mechanism must be auto, ${DEVICE_MECHANISMS.join(', ')}`);
  }
  return {
    type: 'pkcs11',

    async create(config) {
      validatePkcs11Config(config);
      const token = await openToken(config);
      let created: Handle | undefined;
      try {
        const mechanism = chooseMechanism(token, wanted);
        token.requireMechanisms([{ mechanism: CKM.AES_KEY_GEN, uses: ['generate'] }]);
        const id = Buffer.from(systemRng.randomBytes(KEY_ID_BYTES));
        created = await token.run({ action: `create token key '${config.keyLabel}'` }, (lib, session) => {
          if (findObjects(lib, session, [{ type: CKA.LABEL, value: config.keyLabel }], 1).length > 0) {
            throw new CofferError(
              'EALREADY',
              `PKCS#11: token '${token.info.label}' already holds an object labelled '${config.keyLabel}'`,
            );
          }
          return lib.C_GenerateKey(
            session,
            { mechanism: CKM.AES_KEY_GEN },
            keyTemplate(config.keyLabel, id, mechanism),
          );
        });
        const key: TokenKey = { handle: created, label: config.keyLabel, idHex: id.toString('hex') };
        const capabilities = await describeKey(token, key, mechanism);
        const state: Pkcs11ProtectorState = {
          v: 1,
          tokenSerial: token.info.serial,
          tokenLabel: token.info.label,
          keyLabel: config.keyLabel,
          keyId: key.idHex,
          mechanism,
        };
        return { device: new Pkcs11Device(token, key, mechanism, capabilities), state: { ...state } };
      } catch (error) {
        // A half-made slot must not leave a key behind that the next create would trip over.
        const orphan = created;
        if (orphan !== undefined && !token.closed) {
          await token
            .run({ action: 'remove the half-created token key' }, (lib, session) =>
              lib.C_DestroyObject(session, orphan),
            )
            .catch(() => {});
        }
        await token.close();
        throw error;
      }
    },

    async open(config, rawState): Promise<DeviceKeystore> {
      validatePkcs11Config(config);
      const state = parseState(rawState);
      if (state.keyLabel !== config.keyLabel) {
        throw new CofferError(
          'EINVAL',
          `PKCS#11: config keyLabel '${config.keyLabel}' differs from the keyslot's '${state.keyLabel}'`,
        );
      }
      const token = await openToken(config, state.tokenSerial);
      try {
        token.requireMechanisms([MECHANISM_NEEDS[state.mechanism]]);
        const handle = await findKey(token, state);
        if (handle === undefined) {
          throw new CofferError(
            'EUNAVAIL',
            `PKCS#11: token key '${state.keyLabel}' (CKA_ID ${state.keyId}) is not on token '${token.info.label}' (serial ${token.info.serial}); it was deleted or the token was re-initialised — unlock with another keyslot`,
          );
        }
        const key: TokenKey = { handle, label: state.keyLabel, idHex: state.keyId };
        const capabilities = await describeKey(token, key, state.mechanism);
        return new Pkcs11Device(token, key, state.mechanism, capabilities);
      } catch (error) {
        await token.close();
        throw error;
      }
    },

    async destroy(config, rawState) {
      validatePkcs11Config(config);
      const state = parseState(rawState);
      const token = await openToken(config, state.tokenSerial);
      try {
        const handle = await findKey(token, state);
        // Already gone is the goal state: removing a slot whose key was deleted by hand succeeds.
        if (handle === undefined) return;
        await token.run({ action: `destroy token key '${state.keyLabel}'` }, (lib, session) =>
          lib.C_DestroyObject(session, handle),
        );
      } finally {
        await token.close();
      }
    },
  };
}

/** The default driver: GCM in the token where it can, RFC 5649 key wrap where it cannot. */
export const pkcs11Driver: ProtectorDriver<Pkcs11ProtectorConfig> = createPkcs11Driver();
