// How `ks.sync` reaches a sync server: a transport per URL scheme (SPEC §17.8). The HTTP(S)
// transport registers itself for `http:` and `https:` where it is defined; tests register an
// in-process server under their own scheme. An unknown scheme is EINVAL, never a silent fallback.
import { CofferError } from '../../errors.js';
import type { DeviceSigner, SyncTransport } from '../transport.js';

/** A transport for one device (with `signer`) or for a joiner not yet in any circle (without). */
export type TransportConnector = (server: string, signer?: DeviceSigner) => SyncTransport;

const connectors = new Map<string, TransportConnector>();

/** Registers the transport for URLs of `scheme` (with its colon, e.g. `https:`); the last one wins. */
export function registerSyncTransport(scheme: string, connector: TransportConnector): () => void {
  if (!/^[a-z][a-z0-9+.-]*:$/.test(scheme)) throw new CofferError('EINVAL', `bad URL scheme ${scheme}`);
  connectors.set(scheme, connector);
  return () => {
    if (connectors.get(scheme) === connector) connectors.delete(scheme);
  };
}

/** The server URL, checked: absolute, no credentials, a scheme some transport serves. */
export function checkServerUrl(server: unknown): string {
  if (typeof server !== 'string') throw new CofferError('EINVAL', 'server must be a URL string');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new CofferError('EINVAL', `server ${JSON.stringify(server)} is not a URL`);
  }
  if (url.username || url.password)
    throw new CofferError('EINVAL', 'the server URL must not carry credentials');
  if (!connectors.has(url.protocol))
    throw new CofferError(
      'EINVAL',
      `no sync transport for ${url.protocol} URLs (use the sync server's http(s) URL)`,
    );
  return server;
}

export const connectSyncTransport: TransportConnector = (server, signer) => {
  const url = checkServerUrl(server);
  return connectors.get(new URL(url).protocol)!(url, signer);
};
