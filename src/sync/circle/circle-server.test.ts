// The device circle suite (src/testing/circle-suite.ts) against the real sync server: SyncServer on a
// SQLite file, reached over HTTP and WebSocket on loopback through HttpSyncTransport.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCircleSuite } from '../../testing/circle-suite.js';
import { HttpSyncTransport } from '../http-transport.js';
import { SyncServer } from '../server/server.js';

runCircleSuite('SyncServer on SQLite over HTTP', async (now) => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-circle-'));
  const server = await SyncServer.start({
    store: `sqlite:${join(dir, 'sync.db')}`,
    listen: '127.0.0.1:0',
    now,
  });
  return {
    connect: (_url, signer) => new HttpSyncTransport({ url: server.url, ...(signer ? { signer } : {}) }),
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
