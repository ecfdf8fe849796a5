// The SyncTransport contract suite (src/testing/sync-transport-suite.ts) against the real server on
// a real SQLite file, over HTTP and WebSocket on loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSyncTransportSuite } from '../../testing/sync-transport-suite.js';
import { HttpSyncTransport } from '../http-transport.js';
import { SyncServer } from './server.js';

runSyncTransportSuite('SyncServer + HttpSyncTransport on SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-sync-'));
  const server = await SyncServer.start({ store: `sqlite:${join(dir, 'sync.db')}`, listen: '127.0.0.1:0' });
  return {
    connect: (signer) => new HttpSyncTransport({ url: server.url, ...(signer ? { signer } : {}) }),
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
