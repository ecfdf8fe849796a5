// Where the CLI's settings come from (DESIGN §7, K-readme): flags first, then COFFER_* environment
// variables, then defaults. The default store is `sqlite:$COFFER_HOME/keystore.db` with COFFER_HOME
// defaulting to ~/.coffer (created 0700 by `coffer init`). A daemon is used only when one is
// configured (--socket/--url or COFFER_SOCKET/COFFER_URL); otherwise the store is opened directly.
// Secrets (passphrase, token, PIN) come from the environment, a file or a prompt, never from flags,
// because flags are visible to every user in the process list.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ProtectorConfig } from '../core/protectors.js';
import { CofferError } from '../errors.js';
import { type AnchorConfig, parseAnchorSpec, validateAnchorConfig } from '../protect/anchor.js';
import type { Streams } from './io.js';
import { canPrompt, promptHidden, promptNewSecret } from './prompt.js';

export type Env = Record<string, string | undefined>;

/** The global flags every command accepts (parseArgs option table). */
export const GLOBAL_OPTIONS = {
  store: { type: 'string' },
  socket: { type: 'string' },
  url: { type: 'string' },
  ca: { type: 'string' },
  'token-file': { type: 'string' },
  'passphrase-file': { type: 'string' },
  protector: { type: 'string' },
  'keyring-service': { type: 'string' },
  'keyring-account': { type: 'string' },
  tcti: { type: 'string' },
  pcrs: { type: 'string' },
  'pkcs11-module': { type: 'string' },
  'pkcs11-token': { type: 'string' },
  'pkcs11-key': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type GlobalValues = {
  store?: string | undefined;
  socket?: string | undefined;
  url?: string | undefined;
  ca?: string | undefined;
  'token-file'?: string | undefined;
  'passphrase-file'?: string | undefined;
  protector?: string | undefined;
  'keyring-service'?: string | undefined;
  'keyring-account'?: string | undefined;
  tcti?: string | undefined;
  pcrs?: string | undefined;
  'pkcs11-module'?: string | undefined;
  'pkcs11-token'?: string | undefined;
  'pkcs11-key'?: string | undefined;
  json?: boolean | undefined;
};

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function readSecretFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CofferError(
      code === 'ENOENT' ? 'ENOENT' : 'EINVAL',
      `${what}: cannot read ${path} (${code ?? 'error'})`,
    );
  }
  // One trailing newline is an artefact of `echo … > file`, not part of the secret.
  return text.replace(/\r?\n$/, '');
}

export class Config {
  readonly values: GlobalValues;
  readonly env: Env;
  readonly streams: Streams;

  constructor(values: GlobalValues, env: Env, streams: Streams) {
    this.values = values;
    this.env = env;
    this.streams = streams;
  }

  get json(): boolean {
    return this.values.json === true;
  }

  /** COFFER_HOME, default ~/.coffer. */
  get home(): string {
    const home = nonEmpty(this.env.COFFER_HOME);
    if (home !== undefined) return resolve(home);
    return join(nonEmpty(this.env.HOME) ?? homedir(), '.coffer');
  }

  get defaultStore(): string {
    return `sqlite:${join(this.home, 'keystore.db')}`;
  }

  /** The store URL: --store, COFFER_STORE, else the default under COFFER_HOME. */
  get store(): string {
    return nonEmpty(this.values.store) ?? nonEmpty(this.env.COFFER_STORE) ?? this.defaultStore;
  }

  get storeIsDefault(): boolean {
    return nonEmpty(this.values.store) === undefined && nonEmpty(this.env.COFFER_STORE) === undefined;
  }

  /** The daemon endpoint when one is configured. */
  get daemon(): { socket: string } | { url: string } | undefined {
    const socket = nonEmpty(this.values.socket);
    const url = nonEmpty(this.values.url);
    if (socket !== undefined && url !== undefined)
      throw new CofferError('EINVAL', 'give either --socket or --url, not both');
    if (socket !== undefined) return { socket };
    if (url !== undefined) return { url };
    // Flags beat the environment: --store on the command line means "this store, directly".
    if (nonEmpty(this.values.store) !== undefined) return undefined;
    const envSocket = nonEmpty(this.env.COFFER_SOCKET);
    const envUrl = nonEmpty(this.env.COFFER_URL);
    if (envSocket !== undefined) return { socket: envSocket };
    if (envUrl !== undefined) return { url: envUrl };
    return undefined;
  }

  get ca(): string | undefined {
    const path = nonEmpty(this.values.ca) ?? nonEmpty(this.env.COFFER_CA);
    return path === undefined ? undefined : readFileSync(path, 'utf8');
  }

  /** The bearer token for the daemon: COFFER_TOKEN, or --token-file / COFFER_TOKEN_FILE. */
  token(): string | undefined {
    const file = nonEmpty(this.values['token-file']) ?? nonEmpty(this.env.COFFER_TOKEN_FILE);
    if (file !== undefined) return readSecretFile(file, '--token-file');
    return nonEmpty(this.env.COFFER_TOKEN);
  }

  /**
   * The passphrase: --passphrase-file, COFFER_PASSPHRASE_FILE, COFFER_PASSPHRASE, else a hidden
   * prompt on a terminal. With none of them the keystore stays locked (ELOCKED) and the message
   * says what to set.
   */
  async passphrase(purpose = 'Passphrase'): Promise<string> {
    const file = nonEmpty(this.values['passphrase-file']) ?? nonEmpty(this.env.COFFER_PASSPHRASE_FILE);
    if (file !== undefined) return readSecretFile(file, '--passphrase-file');
    const value = nonEmpty(this.env.COFFER_PASSPHRASE);
    if (value !== undefined) return value;
    if (canPrompt(this.streams)) return promptHidden(this.streams, `${purpose}: `);
    throw new CofferError(
      'ELOCKED',
      'the keystore needs its passphrase and there is no terminal to ask on: set COFFER_PASSPHRASE, ' +
        'or COFFER_PASSPHRASE_FILE / --passphrase-file to a file holding it',
    );
  }

  /** A passphrase for a new keyslot (init, protector add): from the same sources, prompted twice. */
  async newPassphrase(envName = 'COFFER_PASSPHRASE'): Promise<string> {
    if (envName === 'COFFER_PASSPHRASE') {
      const file = nonEmpty(this.values['passphrase-file']) ?? nonEmpty(this.env.COFFER_PASSPHRASE_FILE);
      if (file !== undefined) return readSecretFile(file, '--passphrase-file');
    }
    const value = nonEmpty(this.env[envName]);
    if (value !== undefined) return value;
    if (canPrompt(this.streams)) return promptNewSecret(this.streams, 'passphrase');
    throw new CofferError(
      'EINVAL',
      `no passphrase for the new keyslot and no terminal to ask on: set ${envName}${envName === 'COFFER_PASSPHRASE' ? ' (or COFFER_PASSPHRASE_FILE / --passphrase-file)' : ''}`,
    );
  }

  /**
   * Rollback protection settings from the environment (SPEC §4.2, §4.3, docs/protectors.md):
   * COFFER_ANCHOR (an anchor: file:/PATH, tpm2[:0xINDEX], keyring:SERVICE/ACCOUNT or JSON),
   * COFFER_ACCEPT_ROLLBACK (a reason: open a store the anchor calls older, audited) and
   * COFFER_UPGRADE=1 (upgrade a format-1 store).
   */
  async keystoreOptions(): Promise<{ anchor?: AnchorConfig; acceptRollback?: string; upgrade?: boolean }> {
    const spec = nonEmpty(this.env.COFFER_ANCHOR);
    const accept = nonEmpty(this.env.COFFER_ACCEPT_ROLLBACK);
    const upgrade = nonEmpty(this.env.COFFER_UPGRADE);
    if (upgrade !== undefined && upgrade !== '1')
      throw new CofferError('EINVAL', 'COFFER_UPGRADE must be 1 (or unset)');
    return {
      ...(spec !== undefined ? { anchor: await validateAnchorConfig(parseAnchorSpec(spec)) } : {}),
      ...(accept !== undefined ? { acceptRollback: accept } : {}),
      ...(upgrade === '1' ? { upgrade: true } : {}),
    };
  }

  get protectorType(): string {
    return nonEmpty(this.values.protector) ?? nonEmpty(this.env.COFFER_PROTECTOR) ?? 'passphrase';
  }

  /**
   * The protector config of `type` built from the protector flags. Passphrases and PINs come from
   * the environment or a prompt (`secret` picks which passphrase source for new slots).
   */
  async protectorConfig(
    type: string,
    options: { newSlot?: boolean; kdf?: Record<string, unknown> } = {},
  ): Promise<ProtectorConfig> {
    switch (type) {
      case 'passphrase': {
        const passphrase = options.newSlot ? await this.newPassphrase() : await this.passphrase();
        return { type, passphrase, ...(options.kdf ? { kdf: options.kdf } : {}) };
      }
      case 'keyring':
        return {
          type,
          service: nonEmpty(this.values['keyring-service']) ?? 'coffer',
          account: nonEmpty(this.values['keyring-account']) ?? 'keystore',
        };
      case 'tpm2': {
        const tcti = nonEmpty(this.values.tcti) ?? nonEmpty(this.env.TPM2TOOLS_TCTI);
        const pcrs = nonEmpty(this.values.pcrs);
        return { type, ...(tcti ? { tcti } : {}), ...(pcrs ? { pcrs } : {}) };
      }
      case 'pkcs11': {
        const module = nonEmpty(this.values['pkcs11-module']) ?? nonEmpty(this.env.COFFER_PKCS11_MODULE);
        const tokenLabel = nonEmpty(this.values['pkcs11-token']);
        const pin = nonEmpty(this.env.COFFER_PKCS11_PIN);
        if (module === undefined)
          throw new CofferError('EINVAL', 'pkcs11 needs --pkcs11-module PATH (or COFFER_PKCS11_MODULE)');
        if (tokenLabel === undefined) throw new CofferError('EINVAL', 'pkcs11 needs --pkcs11-token LABEL');
        if (pin === undefined)
          throw new CofferError('EINVAL', 'pkcs11 needs the user PIN in COFFER_PKCS11_PIN');
        return {
          type,
          module,
          tokenLabel,
          pin,
          keyLabel: nonEmpty(this.values['pkcs11-key']) ?? 'coffer-kek',
        };
      }
      default:
        throw new CofferError('EINVAL', `unknown protector ${type}: use passphrase, keyring, tpm2 or pkcs11`);
    }
  }
}
