// Registers the HTTP(S) sync transport (SPEC §17.8) for `http:` and `https:` server URLs, so that
// `ks.sync.create({ server: 'https://…' })` reaches a `SyncServer`. Imported by the sync facade.
import { registerSyncTransport } from './circle/connect.js';
import { HttpSyncTransport } from './http-transport.js';

for (const scheme of ['http:', 'https:'])
  registerSyncTransport(
    scheme,
    (url, signer) => new HttpSyncTransport({ url, ...(signer ? { signer } : {}) }),
  );
