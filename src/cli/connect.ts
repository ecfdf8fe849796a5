// Where a command's operations run (docs/cli.md "Modes"): the configured daemon (coffer/client), else
// the per-user agent of the store — started, and unlocked once, on first use — else, with the agent
// turned off, the store opened in this process for this one command. Each is the same operations
// surface, so commands never ask which one they got. Only what the chosen path needs is loaded.
import type { CofferClient } from '../client/index.js';
import type { CofferOperations } from '../client/surface.js';
import type { Keystore } from '../core/keystore.js';
import { CofferError } from '../errors.js';
import type { AgentConnection } from './agent/client.js';
import type { Config } from './config.js';
import type { Mode, StreamOperations } from './context.js';

/** A client for the configured daemon; `needToken: false` for status, unlock and lock. */
export async function connectDaemon(
  config: Config,
  options: { needToken?: boolean } = {},
): Promise<CofferClient> {
  const daemon = config.daemon;
  if (daemon === undefined)
    throw new CofferError('EINVAL', 'no daemon configured: set --socket/--url or COFFER_SOCKET/COFFER_URL');
  const token = config.token();
  if (options.needToken !== false && token === undefined) {
    throw new CofferError(
      'EPERM',
      'the daemon needs a bearer token: set COFFER_TOKEN (or --token-file FILE); `coffer init` printed the admin token',
    );
  }
  const ca = config.ca;
  const { CofferClient } = await import('../client/index.js');
  return new CofferClient({ ...daemon, ...(token ? { token } : {}), ...(ca ? { ca } : {}) });
}

/** The agent of the configured store when one runs (never starts one). */
export async function findAgent(config: Config): Promise<AgentConnection | undefined> {
  const { AgentConnection } = await import('./agent/client.js');
  return AgentConnection.open(config.env, config.store);
}

/** Starts the agent of the configured store (asking for its secret here) and connects to it. */
export async function startAgent(config: Config): Promise<AgentConnection> {
  const [
    { openExistingStorage, cliActor },
    { spawnAgent },
    { ensureRuntimeDir, storeIdentity },
    { withSpinner },
  ] = await Promise.all([
    import('./local.js'),
    import('./agent/start.js'),
    import('./agent/paths.js'),
    import('./progress.js'),
  ]);
  ensureRuntimeDir(config.env);
  // "No keystore here" before any passphrase prompt.
  await (await openExistingStorage(config.store, config.storeIsDefault)).close();
  const idleMs = config.agentIdleMs;
  const protector = await config.protectorConfig(config.protectorType);
  // A malformed COFFER_ANCHOR is this command's error (the settings go to the agent with the protector).
  const rollback = await config.keystoreOptions();
  try {
    await withSpinner(
      config.streams,
      'Unlocking the keystore…',
      // The agent runs in / : a relative store path is made absolute first.
      spawnAgent(config.env, {
        store: storeIdentity(config.store),
        protector,
        idleMs,
        actor: cliActor('agent'),
        rollback,
      }),
    );
  } catch (error) {
    // Another command started one meanwhile: use it.
    if (!(error instanceof CofferError && error.code === 'EALREADY')) throw error;
  }
  const agent = await findAgent(config);
  if (!agent) throw new CofferError('EUNAVAIL', 'the agent started but its socket does not answer');
  return agent;
}

export class Connection {
  readonly #config: Config;
  #ops: Promise<CofferOperations> | undefined;
  #mode: Mode | undefined;
  #closers: (() => Promise<void> | void)[] = [];

  constructor(config: Config) {
    this.#config = config;
  }

  get mode(): Mode | undefined {
    return this.#mode;
  }

  ops(): Promise<CofferOperations> {
    this.#ops ??= this.#open();
    return this.#ops;
  }

  async #open(): Promise<CofferOperations> {
    const config = this.#config;
    if (config.daemon !== undefined) {
      this.#mode = 'daemon';
      const client = await connectDaemon(config);
      this.#closers.push(() => client.close());
      return client;
    }
    if (config.agentEnabled) {
      this.#mode = 'agent';
      const agent = (await findAgent(config)) ?? (await startAgent(config));
      this.#closers.push(() => agent.close());
      return agent.operations();
    }
    this.#mode = 'direct';
    const ks = await this.keystore();
    const { localOperations } = await import('./local.js');
    return localOperations(ks);
  }

  /**
   * Where sealed streams run: the daemon's client (it streams over HTTP), else the store opened in this
   * process. The agent's protocol moves whole messages (at most 64 MiB), so with the agent on, a stream
   * opens the store here for this command (asking for its secret) instead of buffering through it.
   */
  async streamOps(): Promise<StreamOperations> {
    if (this.#config.daemon !== undefined) return (await this.ops()) as CofferClient;
    this.#mode ??= 'direct';
    return this.keystore();
  }

  /** The store opened in this process (once), whatever the mode. */
  #keystore: Promise<Keystore> | undefined;
  keystore(): Promise<Keystore> {
    this.#keystore ??= (async () => {
      const { openKeystore } = await import('./local.js');
      const ks = await openKeystore(this.#config);
      this.#closers.push(() => ks.close());
      return ks;
    })();
    return this.#keystore;
  }

  async close(): Promise<void> {
    for (const close of this.#closers.splice(0).reverse()) await Promise.resolve(close()).catch(() => {});
  }
}
