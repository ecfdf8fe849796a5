// Where the CLI's settings come from (docs/cli.md "Settings"): a flag, else its COFFER_* environment
// variable, else the config file (config-file.ts), else the default. The default store is
// `sqlite:$COFFER_HOME/keystore.db` with COFFER_HOME defaulting to ~/.coffer (created 0700 by `coffer
// init`). A daemon is used when one is configured; at each level (flags, environment, config file) a
// daemon (socket/url) beats a store, and a store on a higher level beats a daemon on a lower one, so
// `--store` on the command line always means "this store". Secrets (passphrase, token, PIN) come from
// the environment, a file or a prompt, never from flags or the config file: flags are visible to every
// user in the process list, and config files get copied around.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PassphraseKdfParams } from '../crypto/passphrase-kdf.js';
import { CofferError } from '../errors.js';
import { type AnchorConfig, parseAnchorSpec, validateAnchorConfig } from '../protect/anchor.js';
import type { ProtectorConfig } from '../protect/configs.js';
import { type ConfigFile, readConfig } from './config-file.js';
import { canPrompt, promptHidden, promptNewSecret } from './prompt.js';
import type { Streams } from './streams.js';
import { GLOBAL_OPTIONS, type GlobalName } from './table/global.js';
import { type Env, parseDuration, type Values } from './values.js';

export type { Env };

/** The Keystore.open options that guard against rollback (SPEC §4.2, §4.3), from the environment. */
export interface RollbackSettings {
  anchor?: AnchorConfig;
  acceptRollback?: string;
  upgrade?: boolean;
}

/** The config file's keys: every global setting under its flag name, and `agent` (on/off). */
export const CONFIG_KEYS: Readonly<Record<string, 'string' | 'boolean'>> = {
  ...Object.fromEntries(
    Object.entries(GLOBAL_OPTIONS)
      .filter(([, spec]) => 'config' in spec && spec.config)
      .map(([name]) => [name, 'string' as const]),
  ),
  agent: 'boolean',
};

/** The agent runs unless turned off; it locks and exits after this long unused. */
export const DEFAULT_AGENT_IDLE = '15m';

type Level = 'flag' | 'env' | 'config';
const LEVELS: readonly Level[] = ['flag', 'env', 'config'];

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
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

export { parseDuration };

export class Config {
  readonly values: Values;
  readonly env: Env;
  readonly streams: Streams;
  #file: ConfigFile | undefined;

  constructor(values: Values, env: Env, streams: Streams, file?: ConfigFile) {
    this.values = values;
    this.env = env;
    this.streams = streams;
    this.#file = file;
  }

  /** The config file, read on first use (commands that need no setting never read it). */
  get file(): ConfigFile {
    this.#file ??= readConfig(this.env, CONFIG_KEYS);
    return this.#file;
  }

  #at(level: Level, name: GlobalName): string | undefined {
    if (level === 'flag') return nonEmpty(this.values[name]);
    if (level === 'env') {
      const spec = GLOBAL_OPTIONS[name];
      return 'env' in spec ? nonEmpty(this.env[spec.env]) : undefined;
    }
    const value = nonEmpty(this.file.values[name]);
    return value === undefined ? undefined : expandHome(value, this.env);
  }

  /** A setting: flag, else environment, else config file. */
  setting(name: GlobalName): string | undefined {
    for (const level of LEVELS) {
      const value = this.#at(level, name);
      if (value !== undefined) return value;
    }
    return undefined;
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

  /** The store URL: --store, COFFER_STORE, the config file, else the default under COFFER_HOME. */
  get store(): string {
    return this.setting('store') ?? this.defaultStore;
  }

  get storeIsDefault(): boolean {
    return this.setting('store') === undefined;
  }

  /** The daemon endpoint when one is configured (see the top of this file for the order). */
  get daemon(): { socket: string } | { url: string } | undefined {
    for (const level of LEVELS) {
      const socket = this.#at(level, 'socket');
      const url = this.#at(level, 'url');
      if (socket !== undefined && url !== undefined) {
        const where =
          level === 'flag'
            ? '--socket or --url'
            : level === 'env'
              ? 'COFFER_SOCKET or COFFER_URL'
              : `socket or url in ${this.file.path}`;
        throw new CofferError('EINVAL', `give either ${where}, not both`);
      }
      if (socket !== undefined) return { socket };
      if (url !== undefined) return { url };
      if (this.#at(level, 'store') !== undefined) return undefined;
    }
    return undefined;
  }

  get ca(): string | undefined {
    const path = this.setting('ca');
    return path === undefined ? undefined : readFileSync(path, 'utf8');
  }

  /** The bearer token for the daemon: --token-file / COFFER_TOKEN_FILE / config, else COFFER_TOKEN. */
  token(): string | undefined {
    const file = this.setting('token-file');
    if (file !== undefined) return readSecretFile(file, 'token file');
    return nonEmpty(this.env.COFFER_TOKEN);
  }

  /** Whether direct mode hands over to the per-user agent (--no-agent, COFFER_AGENT, config `agent`). */
  get agentEnabled(): boolean {
    if (this.values['no-agent'] === true) return false;
    const env = nonEmpty(this.env.COFFER_AGENT);
    if (env !== undefined) {
      if (/^(1|on|yes|true)$/i.test(env)) return true;
      if (/^(0|off|no|false)$/i.test(env)) return false;
      throw new CofferError('EINVAL', 'COFFER_AGENT must be 1/on/yes/true or 0/off/no/false');
    }
    const configured = this.file.values.agent;
    return configured === undefined ? true : configured === true;
  }

  /** How long the agent may stay unused before it locks and exits. */
  get agentIdleMs(): number {
    return parseDuration(
      this.setting('agent-idle') ?? DEFAULT_AGENT_IDLE,
      'the agent idle timeout (--agent-idle)',
    );
  }

  #passphraseFile(): string | undefined {
    return this.setting('passphrase-file');
  }

  /**
   * The passphrase: --passphrase-file / COFFER_PASSPHRASE_FILE / config, COFFER_PASSPHRASE, else a
   * hidden prompt on a terminal. With none of them the keystore stays locked (ELOCKED) and the message
   * says what to set.
   */
  async passphrase(purpose = 'Passphrase'): Promise<string> {
    const file = this.#passphraseFile();
    if (file !== undefined) return readSecretFile(file, 'passphrase file');
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
      const file = this.#passphraseFile();
      if (file !== undefined) return readSecretFile(file, 'passphrase file');
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
  async keystoreOptions(): Promise<RollbackSettings> {
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
    return this.setting('protector') ?? 'passphrase';
  }

  /**
   * The protector config of `type` built from the protector settings. Passphrases and PINs come from
   * the environment, a file or a prompt (`newSlot`: a new passphrase, asked twice).
   */
  async protectorConfig(
    type: string,
    options: { newSlot?: boolean; kdf?: PassphraseKdfParams } = {},
  ): Promise<ProtectorConfig> {
    switch (type) {
      case 'passphrase': {
        const passphrase = options.newSlot ? await this.newPassphrase() : await this.passphrase();
        return { type, passphrase, ...(options.kdf ? { kdf: options.kdf } : {}) };
      }
      case 'keyring':
        return {
          type,
          service: this.setting('keyring-service') ?? 'coffer',
          account: this.setting('keyring-account') ?? 'keystore',
        };
      case 'tpm2': {
        const tcti = this.setting('tcti');
        const pcrs = this.setting('pcrs');
        return { type, ...(tcti ? { tcti } : {}), ...(pcrs ? { pcrs } : {}) };
      }
      case 'pkcs11': {
        const module = this.setting('pkcs11-module');
        const tokenLabel = this.setting('pkcs11-token');
        const pin = nonEmpty(this.env.COFFER_PKCS11_PIN);
        if (module === undefined)
          throw new CofferError('EINVAL', 'pkcs11 needs --pkcs11-module PATH (or COFFER_PKCS11_MODULE)');
        if (tokenLabel === undefined) throw new CofferError('EINVAL', 'pkcs11 needs --pkcs11-token LABEL');
        if (pin === undefined)
          throw new CofferError('EINVAL', 'pkcs11 needs the user PIN in COFFER_PKCS11_PIN');
        return { type, module, tokenLabel, pin, keyLabel: this.setting('pkcs11-key') ?? 'coffer-kek' };
      }
      default:
        throw new CofferError('EINVAL', `unknown protector ${type}: use passphrase, keyring, tpm2 or pkcs11`);
    }
  }
}

/** `~/…` in a config value (also after a `sqlite:` or `dir:` scheme) means the home directory. */
function expandHome(value: string, env: Env): string {
  const home = nonEmpty(env.HOME) ?? homedir();
  return value.replace(
    /^((?:sqlite|dir):)?~(?=\/)/,
    (_m, scheme: string | undefined) => `${scheme ?? ''}${home}`,
  );
}
