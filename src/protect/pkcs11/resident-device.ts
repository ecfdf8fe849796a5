// The PKCS#11 implementation of protect/types.ts's ResidentKeyDevice: one logged-in Pkcs11Token
// session and the resident-key operations of resident-keys.ts on it.
import type { Pkcs11TokenConfig, ResidentKeyAlgorithm, ResidentKeyDevice } from '../types.js';
import {
  destroyResidentKey,
  generateResidentKey,
  signResident,
  signResidentDigest,
} from './resident-keys.js';
import { Pkcs11Token } from './token.js';

export async function openPkcs11ResidentDevice(config: Pkcs11TokenConfig): Promise<ResidentKeyDevice> {
  const token = await Pkcs11Token.open(config);
  return {
    info: token.info,
    async generate(alg: ResidentKeyAlgorithm, label: string) {
      const key = await generateResidentKey(token, { alg, label });
      return { handleId: key.handleId, publicKey: key.publicKey };
    },
    sign: (handleId, message) => signResident(token, handleId, message),
    signDigest: (handleId, digest) => signResidentDigest(token, handleId, digest),
    destroy: (handleId) => destroyResidentKey(token, handleId),
    healthy: () =>
      token
        .run({ action: 'check the session' }, (lib, session) => lib.C_GetSessionInfo(session))
        .then(
          () => true,
          () => false,
        ),
    close: () => token.close(),
  };
}
