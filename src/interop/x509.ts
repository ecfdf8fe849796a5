// X.509 with keystore keys (SPEC §14.8, §14.15.4): PKCS#10 CSRs and self-signed certificates for the
// key's primary version, signed inside the keystore.
import type { KeyOperations } from '../core/surface.js';
import {
  type CertificateFields,
  certificateToPem,
  createCsr,
  createSelfSignedCertificate,
  csrToPem,
  type SelfSignedOptions,
} from '../format/x509.js';
import { messageSigner, signingKey } from './keys.js';

export type KeyCertificateFields = Omit<CertificateFields, 'alg' | 'publicKey'>;

const X509_ALGORITHMS = ['ed25519', 'ecdsa-p256', 'secp256k1', 'ml-dsa-65'] as const;

/** A CSR (PEM) for the key. */
export async function csrForKey(
  ops: KeyOperations,
  id: string,
  fields: KeyCertificateFields,
): Promise<string> {
  const key = await signingKey(ops, id, X509_ALGORITHMS, 'a certificate request');
  return csrToPem(
    await createCsr({ ...fields, alg: key.alg, publicKey: key.publicKey }, messageSigner(ops, key)),
  );
}

/** A self-signed certificate (PEM) for the key. */
export async function selfSignedForKey(
  ops: KeyOperations,
  id: string,
  fields: KeyCertificateFields,
  options: SelfSignedOptions,
): Promise<string> {
  const key = await signingKey(ops, id, X509_ALGORITHMS, 'a certificate');
  const der = await createSelfSignedCertificate(
    { ...fields, alg: key.alg, publicKey: key.publicKey },
    options,
    messageSigner(ops, key),
  );
  return certificateToPem(der);
}
