// Daemon mode: the same commands through coffer/client (DESIGN §7). The client is loaded only when a
// daemon is configured, and it throws CofferError with the server's code, so exit codes match
// direct mode exactly.
import type { CofferClient } from '../client/index.js';
import { CofferError } from '../errors.js';
import type { Backend, TokenInfo } from './backend.js';
import type { Config } from './config.js';

/** Creations in flight at once during bulk creation (the daemon serialises writes anyway). */
const CREATE_PARALLEL = 8;

export async function connect(config: Config, options: { needToken?: boolean } = {}): Promise<CofferClient> {
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

/** Runs `work` with a connected client and closes it (its keep-alive sockets) afterwards. */
export async function withClient<T>(
  config: Config,
  options: { needToken?: boolean },
  work: (client: CofferClient) => Promise<T>,
): Promise<T> {
  const client = await connect(config, options);
  try {
    return await work(client);
  } finally {
    client.close();
  }
}

export async function openRemote(config: Config): Promise<Backend> {
  return new RemoteBackend(await connect(config));
}

export class RemoteBackend implements Backend {
  readonly mode = 'daemon' as const;
  readonly client: CofferClient;

  constructor(client: CofferClient) {
    this.client = client;
  }

  async createKeys(specs: Parameters<CofferClient['createKey']>[0][], progress?: (done: number) => void) {
    const out: Awaited<ReturnType<CofferClient['createKey']>>[] = new Array(specs.length);
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < specs.length) {
        const i = next++;
        out[i] = await this.client.createKey(specs[i]!);
        progress?.(++done);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CREATE_PARALLEL, specs.length) }, worker));
    return out;
  }
  listKeys(filter: { app?: string; purpose?: string }) {
    return this.client.listKeys(filter);
  }
  getKey(id: string) {
    return this.client.getKey(id);
  }
  publicKey(id: string, format: Parameters<CofferClient['publicKey']>[1], options: { version?: number }) {
    return this.client.publicKey(id, format, options);
  }
  rotate(id: string, options: { reason?: string }) {
    return this.client.rotate(id, options);
  }
  async emergencyRotate(id: string, incident: { id?: string; description: string }) {
    // Through the daemon's scheduler, so subscribers (SSE, webhooks) get the alert event.
    await this.client.emergencyRotate(id, incident);
    return this.client.getKey(id);
  }
  suspend(id: string, options: { reason?: string }) {
    return this.client.suspend(id, options);
  }
  resume(id: string) {
    return this.client.resume(id);
  }
  revoke(id: string, reason: string, options: { version?: number }) {
    return this.client.revoke(id, reason, options);
  }
  destroy(id: string, options: { version?: number; reason?: string }) {
    return this.client.destroy(id, options);
  }
  sign(id: string, data: Uint8Array, options: { encoding?: 'raw' | 'der' }) {
    return this.client.sign(id, data, options);
  }
  verify(
    id: string,
    data: Uint8Array,
    signature: Uint8Array,
    options: { version?: number; encoding?: 'raw' | 'der' },
  ) {
    return this.client.verify(id, data, signature, options);
  }
  seal(id: string, plaintext: Uint8Array, options: { aad?: Uint8Array }) {
    return this.client.seal(id, plaintext, options);
  }
  unseal(id: string, sealed: Uint8Array, options: { aad?: Uint8Array }) {
    return this.client.unseal(id, sealed, options);
  }
  createToken(spec: { name?: string; apps: string[]; ops: string[]; admin?: boolean }) {
    return this.client.createToken(spec);
  }
  async listTokens(): Promise<TokenInfo[]> {
    return (await this.client.listTokens()) as TokenInfo[];
  }
  async revokeToken(id: string) {
    await this.client.revokeToken(id);
  }
  auditTail(count: number) {
    return this.client.auditTail(count);
  }
  auditVerify() {
    return this.client.auditVerify();
  }
  listProtectors() {
    return this.client.listProtectors();
  }
  async close() {
    this.client.close();
  }
}
