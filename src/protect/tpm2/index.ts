// Public surface of the TPM 2.0 protector: the driver registered under `{ type: 'tpm2' }` and its
// config type. Everything else in this folder is internal.
export type { Tpm2Config, Tpm2State } from './config.js';
export { tpm2Driver } from './driver.js';
