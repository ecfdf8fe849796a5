// Direct mode: the CLI opens the store in this process with a protector (DESIGN §7), performs one
// command and closes it again, so nothing stays unlocked between commands. Token commands use the
// daemon's token module on the open keystore (tokens live in sealed `daemon` records).
import { userInfo } from 'node:os';
import { Keystore } from '../core/keystore.js';
import { CofferError } from '../errors.js';
import type { Backend, TokenInfo } from './backend.js';
import type { Config } from './config.js';
import { withSpinner } from './progress.js';

/** Keys per durable batch in bulk creation: one fsync each, and a progress step each. */
const CREATE_CHUNK = 100;

function actor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/** Opens the configured store with the configured protector; a missing store says to run init. */
export async function openKeystore(config: Config): Promise<Keystore> {
  const protector = await config.protectorConfig(config.protectorType);
  try {
    return await withSpinner(
      config.streams,
      'Unlocking the keystore…',
      Keystore.open({ store: config.store, protector, actor: actor(), ...(await config.keystoreOptions()) }),
    );
  } catch (error) {
    if (error instanceof CofferError && error.code === 'ENOENT' && /keystore|store/.test(error.message)) {
      throw new CofferError(
        'ENOENT',
        `no keystore at ${config.storeIsDefault ? config.store : 'the given store'}: create one with \`coffer init\` ` +
          '(or point --store / COFFER_STORE at an existing one)',
        { cause: error },
      );
    }
    throw error;
  }
}

export async function openDirect(config: Config): Promise<Backend> {
  return new DirectBackend(await openKeystore(config));
}

export class DirectBackend implements Backend {
  readonly mode = 'direct' as const;
  readonly ks: Keystore;

  constructor(ks: Keystore) {
    this.ks = ks;
  }

  async createKeys(specs: Parameters<Keystore['createKeys']>[0], progress?: (done: number) => void) {
    const out = [];
    for (let i = 0; i < specs.length; i += CREATE_CHUNK) {
      out.push(...(await this.ks.createKeys(specs.slice(i, i + CREATE_CHUNK))));
      progress?.(out.length);
    }
    return out;
  }
  listKeys(filter: { app?: string; purpose?: string }) {
    return this.ks.listKeys(filter);
  }
  getKey(id: string) {
    return this.ks.getKey(id);
  }
  publicKey(id: string, format: Parameters<Keystore['publicKey']>[1], options: { version?: number }) {
    return this.ks.publicKey(id, format, options);
  }
  rotate(id: string, options: { reason?: string }) {
    return this.ks.rotate(id, options);
  }
  emergencyRotate(id: string, incident: { id?: string; description: string }) {
    return this.ks.emergencyRotate(id, incident);
  }
  suspend(id: string, options: { reason?: string }) {
    return this.ks.suspend(id, options);
  }
  resume(id: string) {
    return this.ks.resume(id);
  }
  revoke(id: string, reason: string, options: { version?: number }) {
    return this.ks.revoke(id, reason, options);
  }
  destroy(id: string, options: { version?: number; reason?: string }) {
    return this.ks.destroy(id, options);
  }
  sign(id: string, data: Uint8Array, options: { encoding?: 'raw' | 'der' }) {
    return this.ks.sign(id, data, options);
  }
  verify(
    id: string,
    data: Uint8Array,
    signature: Uint8Array,
    options: { version?: number; encoding?: 'raw' | 'der' },
  ) {
    return this.ks.verify(id, data, signature, options);
  }
  seal(id: string, plaintext: Uint8Array, options: { aad?: Uint8Array }) {
    return this.ks.seal(id, plaintext, options);
  }
  unseal(id: string, sealed: Uint8Array, options: { aad?: Uint8Array }) {
    return this.ks.unseal(id, sealed, options);
  }
  async createToken(spec: { name?: string; apps: string[]; ops: string[]; admin?: boolean }) {
    const { createToken } = await import('../server/tokens.js');
    return createToken(this.ks, spec);
  }
  async listTokens(): Promise<TokenInfo[]> {
    const { listTokens } = await import('../server/tokens.js');
    return (await listTokens(this.ks)) as TokenInfo[];
  }
  async revokeToken(id: string) {
    const { revokeToken } = await import('../server/tokens.js');
    await revokeToken(this.ks, id);
  }
  auditTail(count: number) {
    return this.ks.auditTail(count);
  }
  auditVerify() {
    return this.ks.verifyAudit();
  }
  listProtectors() {
    return this.ks.listProtectors();
  }
  close() {
    return this.ks.close();
  }
}
