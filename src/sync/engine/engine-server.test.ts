// The sync engine suite (src/testing/engine-suite.ts) against the real sync server: SyncServer on a
// SQLite file over HTTP and WebSocket on loopback, the zero-knowledge scan reading the server's own
// database file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEngineSuite } from '../../testing/engine-suite.js';
import { dumpSyncStore } from '../../testing/sync-server-dump.js';
import { HttpSyncTransport } from '../http-transport.js';
import { SyncServer } from '../server/server.js';

runEngineSuite('SyncServer on SQLite over HTTP', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-engine-'));
  const store = `sqlite:${join(dir, 'sync.db')}`;
  const server = await SyncServer.start({ store, listen: '127.0.0.1:0' });
  const open: HttpSyncTransport[] = [];
  return {
    transport: (signer) => {
      const t = new HttpSyncTransport({ url: server.url, signer });
      open.push(t);
      return t;
    },
    dump: async () => [new Uint8Array(await dumpSyncStore(store))],
    close: async () => {
      await Promise.all(open.map((t) => t.close()));
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
