// Public surface of the OS keyring protector (SPEC §5): the driver for `{ type: 'keyring', service,
// account }` keyslots, its state and config types, and the Secret Service probe used on Linux.
export { keyringPlatform, requireSecretService } from './backend.js';
export { type ProbeResult, probeBusName, SECRET_SERVICE_NAME } from './dbus-probe.js';
export {
  createKeyringDriver,
  type KeyringConfig,
  type KeyringDriverOptions,
  type KeyringState,
  keyCheckValue,
  keyringDriver,
  validateKeyringConfig,
} from './driver.js';
export { type KeyringPlatform, mapKeyringError } from './errors.js';
