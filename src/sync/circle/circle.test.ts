// The device circle suite (src/testing/circle-suite.ts) on the in-process model of the sync server.

import { runCircleSuite } from '../../testing/circle-suite.js';
import { MemorySyncService } from '../../testing/memory-sync-transport.js';

runCircleSuite('the in-process server model', async (now) => {
  const service = new MemorySyncService();
  service.now = now;
  return { connect: (_url, signer) => service.transport(signer), close: async () => {} };
});
