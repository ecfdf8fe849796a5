// The global options every command takes (docs/cli.md "Settings") and the size limits the help text
// states. Each option may also come from its environment variable and, for settings, from the config
// file under its own name; a flag beats the environment, which beats the config file. The limits are
// the library's own bounds; table.test.ts checks the backup figure against backup/operations.ts,
// which is too heavy to load for `--help`.
import { LIMITS } from '../../core/types.js';
import type { GlobalOptionSpec } from '../spec.js';

const MiB = 1024 * 1024;

/** "16 MiB", "1 MiB", "64 KiB", or bytes. */
export function formatSize(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

export const SIGN_LIMIT = LIMITS.signMessageBytes;
export const SEAL_LIMIT = LIMITS.sealPayloadBytes;
/** What mac / verify-mac take per call (the seal bound). */
export const MAC_LIMIT = LIMITS.sealPayloadBytes;
/** Backups move as one piece through the agent and the daemon (backup/operations.ts). */
export const BACKUP_LIMIT = 64 * MiB;

export const PROTECTOR_TYPES = ['passphrase', 'keyring', 'tpm2', 'pkcs11'] as const;

export const GLOBAL_OPTIONS = {
  store: {
    type: 'string',
    value: 'URL',
    help: 'store for direct mode: sqlite:PATH, dir:PATH, postgres://… (default sqlite:$COFFER_HOME/keystore.db, COFFER_HOME=~/.coffer)',
    env: 'COFFER_STORE',
    config: true,
    complete: 'none',
  },
  socket: {
    type: 'string',
    value: 'PATH',
    help: 'use the daemon on this Unix socket (token in COFFER_TOKEN or --token-file)',
    env: 'COFFER_SOCKET',
    config: true,
    complete: 'file',
  },
  url: {
    type: 'string',
    value: 'URL',
    help: 'use the daemon at http(s)://HOST:PORT',
    env: 'COFFER_URL',
    config: true,
    complete: 'none',
  },
  ca: {
    type: 'string',
    value: 'PEM',
    help: 'CA certificate to trust for an https daemon',
    env: 'COFFER_CA',
    config: true,
    complete: 'file',
  },
  'token-file': {
    type: 'string',
    value: 'FILE',
    help: 'the daemon bearer token from a file (else COFFER_TOKEN)',
    env: 'COFFER_TOKEN_FILE',
    config: true,
    complete: 'file',
  },
  'passphrase-file': {
    type: 'string',
    value: 'FILE',
    help: 'the passphrase from a file (else COFFER_PASSPHRASE, else a hidden prompt on a terminal)',
    env: 'COFFER_PASSPHRASE_FILE',
    config: true,
    complete: 'file',
  },
  protector: {
    type: 'string',
    value: 'TYPE',
    help: 'how the store is opened: passphrase (default), keyring, tpm2, pkcs11',
    env: 'COFFER_PROTECTOR',
    config: true,
    choices: PROTECTOR_TYPES,
  },
  'keyring-service': {
    type: 'string',
    value: 'S',
    help: 'keyring protector: service name (default coffer)',
    config: true,
  },
  'keyring-account': {
    type: 'string',
    value: 'A',
    help: 'keyring protector: account name (default keystore)',
    config: true,
  },
  tcti: {
    type: 'string',
    value: 'TCTI',
    help: 'tpm2 protector: TPM connection, e.g. device:/dev/tpmrm0',
    env: 'TPM2TOOLS_TCTI',
    config: true,
  },
  pcrs: { type: 'string', value: 'PCRS', help: 'tpm2 protector: PCR policy, e.g. sha256:0,7', config: true },
  'pkcs11-module': {
    type: 'string',
    value: 'PATH',
    help: 'pkcs11 protector: the PKCS#11 module (PIN in COFFER_PKCS11_PIN)',
    env: 'COFFER_PKCS11_MODULE',
    config: true,
    complete: 'file',
  },
  'pkcs11-token': { type: 'string', value: 'LABEL', help: 'pkcs11 protector: token label', config: true },
  'pkcs11-key': {
    type: 'string',
    value: 'LABEL',
    help: 'pkcs11 protector: wrapping key label (default coffer-kek)',
    config: true,
  },
  'no-agent': {
    type: 'boolean',
    help: 'open the store in this process for this command only (env COFFER_AGENT=0; config agent = false)',
  },
  'agent-idle': {
    type: 'string',
    value: 'DUR',
    help: 'the agent locks and exits after this long unused (default 15m)',
    env: 'COFFER_AGENT_IDLE',
    config: true,
  },
  json: {
    type: 'boolean',
    help: 'machine-readable output on stdout (bytes as base64); errors as JSON on stderr',
  },
  help: { type: 'boolean', short: 'h', help: 'help for any command' },
  version: { type: 'boolean', short: 'V', help: 'print the version' },
} as const satisfies Record<string, GlobalOptionSpec>;

export type GlobalName = keyof typeof GLOBAL_OPTIONS;
