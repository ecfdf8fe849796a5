// Where a keystore's sync engine is found (SPEC §17.10) until the `ks.sync` facade owns it: whoever
// sets sync up for an open keystore (the daemon, a test, the facade) attaches the engine here, and
// the daemon routes and the CLI look it up. A keystore without one answers EUNAVAIL.
import { CofferError } from '../../errors.js';
import type { SyncEngine } from './engine.js';

const engines = new WeakMap<object, SyncEngine>();

export function attachSyncEngine(keystore: object, engine: SyncEngine): void {
  engines.set(keystore, engine);
}

export function detachSyncEngine(keystore: object): void {
  engines.delete(keystore);
}

export function syncEngineOf(keystore: object): SyncEngine {
  const engine = engines.get(keystore);
  if (!engine)
    throw new CofferError('EUNAVAIL', 'sync is not set up for this keystore (join a device circle first)');
  return engine;
}
