// `coffer/sync`: the sync server and the device's transport to it (SPEC §17.8), with the contract
// both sides are written against (transport.ts) and the pure core they share (SPEC §17.2–§17.6).

export { RemoteRateLimit } from './http-client.js';
export { HttpSyncTransport, type HttpSyncTransportOptions } from './http-transport.js';
export { Manifest, type ManifestEntry, recordHash } from './manifest.js';
export { answerRanges, type RangeAnswer, type RangeRequest, reconcile } from './reconcile.js';
export { authMessage, type Challenge } from './server/auth.js';
export { DEFAULT_SERVER_LIMITS, SyncServer, type SyncServerOptions } from './server/server.js';
export type * from './transport.js';
export { fromWire, toWire, type WireRecord } from './wire-record.js';
