// SSH with keystore keys (SPEC §14.6, §14.7, §14.15.4): SSHSIG signatures (`ssh-keygen -Y sign`'s
// format) and the key provider of the ssh-agent, serving the Ed25519 and P-256 keys of chosen apps.
// The agent lists the keys anew on every request, so a key created, suspended or revoked while the
// agent runs is offered (or no longer offered) at once.
import type { KeyOperations } from '../core/surface.js';
import { CofferError } from '../errors.js';
import type { AgentKey, AgentKeyProvider } from '../format/ssh-agent-server.js';
import { SSH_ALGORITHMS, type SshsigHash, signSshsig } from '../format/sshsig.js';
import { messageSigner, signingKey } from './keys.js';

/** An armoured SSHSIG over `message` (or over its digest) by the key's primary version. */
export async function signSshsigWithKey(
  ops: KeyOperations,
  id: string,
  message: Uint8Array | { digest: Uint8Array },
  options: { namespace: string; hash?: SshsigHash },
): Promise<string> {
  const key = await signingKey(ops, id, SSH_ALGORITHMS, 'an SSH signature');
  return signSshsig(
    message,
    {
      alg: key.alg as 'ed25519',
      publicKey: key.publicKey,
      namespace: options.namespace,
      ...(options.hash ? { hash: options.hash } : {}),
    },
    messageSigner(ops, key),
  );
}

/**
 * The agent's keys: every active Ed25519 / P-256 key with `sign` of the apps named (trust anchors
 * have no private half and are left out). The comment is `app/purpose/keyId`.
 */
export function keystoreAgentProvider(ops: KeyOperations, apps: string[]): AgentKeyProvider {
  if (!Array.isArray(apps) || apps.length === 0) throw new CofferError('EINVAL', 'name at least one app');
  const byComment = new Map<string, string>();
  return {
    async list(): Promise<AgentKey[]> {
      const out: AgentKey[] = [];
      for (const app of apps) {
        for (const info of await ops.listKeys({ app })) {
          if (info.state !== 'active' || info.origin === 'trust-anchor' || !info.uses.includes('sign'))
            continue;
          if (!(SSH_ALGORITHMS as readonly string[]).includes(info.algorithm)) continue;
          const publicKey = (await ops.publicKey(info.id, 'raw')) as Uint8Array;
          const comment = `${info.app}/${info.purpose}/${info.id}`;
          byComment.set(comment, info.id);
          out.push({ alg: info.algorithm as 'ed25519', publicKey, comment });
        }
      }
      return out;
    },
    async sign(key: AgentKey, data: Uint8Array): Promise<Uint8Array> {
      const id = byComment.get(key.comment);
      if (id === undefined) throw new CofferError('ENOENT', 'no such agent key');
      // The keystore signs with the primary version: refuse if that is no longer the key offered.
      const current = (await ops.publicKey(id, 'raw')) as Uint8Array;
      if (Buffer.compare(Buffer.from(current), Buffer.from(key.publicKey)) !== 0)
        throw new CofferError('ECONFLICT', `key ${id} was rotated since it was listed`);
      return (await ops.sign(id, data)).signature;
    },
  };
}
