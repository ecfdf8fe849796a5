// Server work a pool worker does besides operation kernels (docs/daemon.md "Fairness"): decoding a
// large JSON request body through its route's own schema, and encoding a large JSON reply. Both are
// the functions the event-loop thread would run (codec.ts, the route table), so moving them changes no
// answer — only which thread spends the time.
import { encodeReply } from '../codec.js';
import { parseJsonBody } from '../http.js';
import type { Route } from '../router.js';
import { adminRoutes } from '../routes-admin.js';
import { keyRoutes } from '../routes-keys.js';
import { opRoutes } from '../routes-ops.js';

let table: Map<string, Route> | undefined;

function routeFor(key: string): Route | undefined {
  table ??= new Map(
    [...adminRoutes(() => ({})), ...keyRoutes, ...opRoutes].map((r) => [`${r.method} ${r.path}`, r]),
  );
  return table.get(key);
}

function decodeBody(routeKey: string, body: Uint8Array): unknown {
  const schema = routeFor(routeKey)?.body;
  if (schema === undefined) throw new Error(`no body schema for ${routeKey}`);
  return schema.parse(parseJsonBody(Buffer.from(body.buffer, body.byteOffset, body.byteLength)), '');
}

function encode(value: unknown): Uint8Array {
  const json = encodeReply(value);
  // A Buffer of this size owns its memory (Node pools only small ones), so it can be moved back.
  return new Uint8Array(json.buffer, json.byteOffset, json.byteLength);
}

export const TASKS = { decodeBody, encodeReply: encode } as const;
export type TaskName = keyof typeof TASKS;
