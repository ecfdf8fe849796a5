// JSON bodies in and out of the daemon (SPEC §10.1), and where that work runs. A JSON body of up to
// 32 MiB is parsed and its base64 decoded, and a reply's bytes are base64-encoded and stringified —
// each O(size) work that would hold the event loop for tens or hundreds of milliseconds at the top of
// the bounds. Past LARGE_JSON bytes it is sent to the worker pool (docs/daemon.md "Fairness"), running
// the very same functions: the route's own body schema (the worker loads the route table) and the same
// encoder, so the answer is the same either way.
import { encodeBase64 } from './schema.js';

/** Bodies and replies from this size on are decoded / encoded in the worker pool when there is one. */
export const LARGE_JSON = 256 * 1024;

/**
 * A reply value as JSON bytes. Uint8Array values anywhere in it travel as standard base64: handlers
 * return bytes, and this is the one place that encodes them.
 */
export function encodeReply(value: unknown): Buffer {
  return Buffer.from(
    JSON.stringify(value, function (this: Record<string, unknown>, key, encoded: unknown) {
      const raw = this[key];
      return raw instanceof Uint8Array ? encodeBase64(raw) : encoded;
    }),
  );
}

/** The bytes held in a reply value (top level, and one level into arrays of objects: a batch). */
export function replyBytes(value: unknown, depth = 0): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (depth > 3 || typeof value !== 'object' || value === null) return 0;
  let total = 0;
  for (const item of Array.isArray(value) ? value : Object.values(value))
    total += replyBytes(item, depth + 1);
  return total;
}

/** Every Uint8Array in a value (to transfer them between threads instead of copying). */
export function bytesIn(value: unknown, found: Uint8Array[] = [], depth = 0): Uint8Array[] {
  if (value instanceof Uint8Array) found.push(value);
  else if (depth <= 4 && typeof value === 'object' && value !== null)
    for (const item of Array.isArray(value) ? value : Object.values(value)) bytesIn(item, found, depth + 1);
  return found;
}

/**
 * A copy of a value for another thread: arrays and plain objects rebuilt, every Uint8Array copied into
 * a buffer of its own and listed in `transfer`. Cloning a view as it is would copy its whole underlying
 * buffer — for a small Buffer, Node's shared 8 KiB slab with other requests' bytes in it.
 */
export function copyForTransfer(value: unknown, transfer: ArrayBuffer[], depth = 0): unknown {
  if (value instanceof Uint8Array) {
    const copy = new Uint8Array(value);
    transfer.push(copy.buffer);
    return copy;
  }
  if (depth > 5 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => copyForTransfer(item, transfer, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, copyForTransfer(item, transfer, depth + 1)]),
  );
}
