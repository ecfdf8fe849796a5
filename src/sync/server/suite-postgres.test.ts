// The SyncTransport contract suite (src/testing/sync-transport-suite.ts) against the real server on
// a real PostgreSQL 15 cluster started by this file, over HTTP and WebSocket on loopback.

import { postgresForThisFile } from '../../testing/postgres.js';
import { runSyncTransportSuite } from '../../testing/sync-transport-suite.js';
import { HttpSyncTransport } from '../http-transport.js';
import { SyncServer } from './server.js';

const database = postgresForThisFile('sync_suite');

runSyncTransportSuite('SyncServer + HttpSyncTransport on PostgreSQL', async () => {
  const server = await SyncServer.start({ store: await database(), listen: '127.0.0.1:0' });
  return {
    connect: (signer) => new HttpSyncTransport({ url: server.url, ...(signer ? { signer } : {}) }),
    close: () => server.close(),
  };
});
