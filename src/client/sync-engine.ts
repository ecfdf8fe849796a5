// The client's side of the sync engine routes (src/server/routes-sync-engine.ts, SPEC §17.10):
// `now()` and `status()` of the daemon's keystore, the shapes of `ks.sync.now()` / `status()`.
import type { SyncReport, SyncStatus } from '../sync/engine/engine.js';
import type { JsonRequest } from './groups.js';

export class SyncEngineClient {
  readonly #json: JsonRequest;
  constructor(json: JsonRequest) {
    this.#json = json;
  }
  now(): Promise<SyncReport> {
    return this.#json('POST', '/sync/now', { json: {} });
  }
  status(): Promise<SyncStatus> {
    return this.#json('GET', '/sync/status');
  }
}
