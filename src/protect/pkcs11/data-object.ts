// A PKCS#11 data object as a rollback anchor (SPEC §4.2): a private token object (CKO_DATA,
// CKA_APPLICATION "coffer-anchor", CKA_LABEL from the config) whose CKA_VALUE holds the anchor blob the
// core writes. Only a holder of the token PIN can read or rewrite it. Uses the shared logged-in token
// session (token.ts), so CKR_* errors get the same codes as the protector's.
import { CofferError } from '../../errors.js';
import type { BlobAnchor, Pkcs11AnchorConfig } from '../anchor.js';
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

function find(lib: Pkcs11Lib, session: Handle, label: string, tokenLabel: string): Handle | undefined {
  const found = findObjects(lib, session, template(label), 2);
  if (found.length > 1) {
    throw new CofferError(
      'EINVAL',
      `PKCS#11: token '${tokenLabel}' holds several anchor objects labelled '${label}'; delete the extra ones`,
    );
  }
  return found[0];
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
        const object = find(lib, session, config.label, config.tokenLabel);
        if (object === undefined) return undefined;
        const value = readAttribute(lib, session, object, CKA.VALUE);
        if (value.length > MAX_VALUE)
          throw new CofferError('EBADMSG', `the ${where} is not an anchor (too large)`);
        return new Uint8Array(value);
      });
    },
    write(bytes: Uint8Array) {
      return token.run({ action: `write the ${where}` }, (lib, session) => {
        const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const object = find(lib, session, config.label, config.tokenLabel);
        if (object === undefined) {
          lib.C_CreateObject(session, [
            ...template(config.label),
            { type: CKA.PRIVATE, value: true },
            { type: CKA.MODIFIABLE, value: true },
            { type: CKA.VALUE, value },
          ]);
        } else {
          lib.C_SetAttributeValue(session, object, [{ type: CKA.VALUE, value }]);
        }
      });
    },
    close() {
      return token.close();
    },
  };
}
