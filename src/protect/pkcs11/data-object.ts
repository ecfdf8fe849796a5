// A PKCS#11 data object as a rollback anchor (SPEC §4.2): a private token object (CKO_DATA,
// CKA_APPLICATION "coffer-anchor", CKA_LABEL from the config) whose CKA_VALUE holds the anchor blob the
// core writes. Only a holder of the token PIN can read or rewrite it. Uses the shared logged-in token
// session (token.ts), so CKR_* errors get the same codes as the protector's. Tokens that keep a data
// object's CKA_VALUE read-only (SoftHSM2 does) get a new object first and the older ones destroyed
// after; a crash in between leaves two, and the one whose blob holds the higher value is the anchor.
import { CofferError } from '../../errors.js';
import type { BlobAnchor, Pkcs11AnchorConfig } from '../types.js';
import { ckrName } from './ckr.js';
import { CKA, CKO } from './constants.js';
import type { Handle, Pkcs11Lib } from './module.js';
import { findObjects, Pkcs11Token, readAttribute } from './token.js';

export const ANCHOR_APPLICATION = 'coffer-anchor';
const MAX_VALUE = 64 * 1024;

function template(label: string) {
  return [
    { type: CKA.CLASS, value: CKO.DATA },
    { type: CKA.TOKEN, value: true },
    { type: CKA.APPLICATION, value: ANCHOR_APPLICATION },
    { type: CKA.LABEL, value: label },
  ];
}

/** The blob's claimed value, unauthenticated: only to choose between objects (the core checks the MAC). */
function claimedValue(bytes: Buffer): number {
  try {
    const value = (JSON.parse(bytes.toString('utf8')) as { value?: unknown }).value;
    return Number.isSafeInteger(value) ? (value as number) : -1;
  } catch {
    return -1;
  }
}

/** Every anchor object under the label, the current one (highest value) first. */
function find(lib: Pkcs11Lib, session: Handle, label: string): { object: Handle; value: Buffer }[] {
  const found = findObjects(lib, session, template(label), 8).map((object) => ({
    object,
    value: readAttribute(lib, session, object, CKA.VALUE),
  }));
  return found.sort((a, b) => claimedValue(b.value) - claimedValue(a.value));
}

export async function openDataObjectAnchor(config: Pkcs11AnchorConfig): Promise<BlobAnchor> {
  const token = await Pkcs11Token.open({
    module: config.module,
    tokenLabel: config.tokenLabel,
    pin: config.pin,
  });
  const where = `anchor object '${config.label}' on token '${config.tokenLabel}'`;
  return {
    kind: 'blob',
    read() {
      return token.run({ action: `read the ${where}` }, (lib, session) => {
        const [current] = find(lib, session, config.label);
        if (current === undefined) return undefined;
        if (current.value.length > MAX_VALUE)
          throw new CofferError('EBADMSG', `the ${where} is not an anchor (too large)`);
        return new Uint8Array(current.value);
      });
    },
    write(bytes: Uint8Array) {
      return token.run({ action: `write the ${where}` }, (lib, session) => {
        const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const existing = find(lib, session, config.label);
        if (existing.length === 1) {
          try {
            lib.C_SetAttributeValue(session, existing[0]!.object, [{ type: CKA.VALUE, value }]);
            return;
          } catch (error) {
            if (ckrName(error) !== 'CKR_ATTRIBUTE_READ_ONLY') throw error;
          }
        }
        lib.C_CreateObject(session, [
          ...template(config.label),
          { type: CKA.PRIVATE, value: true },
          { type: CKA.MODIFIABLE, value: true },
          { type: CKA.VALUE, value },
        ]);
        for (const { object } of existing) lib.C_DestroyObject(session, object);
      });
    },
    close() {
      return token.close();
    },
  };
}
