// Child process for src/sync/server/crash.test.ts (compiled JS, not a test itself): runs a
// SyncServer on the store in COFFER_TEST_STORE (env, not argv: a database password would show in ps)
// listening on 127.0.0.1:$COFFER_TEST_PORT, prints `ready`, and serves until it is SIGKILLed.
import { SyncServer } from '../../sync/server/server.js';
import { childExitWithParent, childReady } from '../crash.js';

const store = process.env.COFFER_TEST_STORE;
const port = process.env.COFFER_TEST_PORT;
if (store === undefined || port === undefined)
  throw new Error('COFFER_TEST_STORE and COFFER_TEST_PORT are required');
childExitWithParent();
await SyncServer.start({
  store,
  listen: `127.0.0.1:${port}`,
  limits: { perDevice: { rate: 0, burst: 0 }, perAccount: { rate: 0, burst: 0 } },
});
childReady();
