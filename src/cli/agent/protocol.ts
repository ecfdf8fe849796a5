// The agent's wire protocol (docs/cli.md "The agent"): frames of a 4-byte big-endian length and a
// V8-serialized message (structured clone: Uint8Array, objects, strings — what the operations surface
// takes and returns). A request names one operation of OPERATION_NAMES (client/surface.ts) or an
// `agent.*` control call; a reply carries the value or a CofferError's code and message. Frames are
// bounded: a backup (64 MiB) is the largest thing the surface moves.
import { deserialize, serialize } from 'node:v8';
import { CofferError, type ErrorCode, isErrorCode } from '../../errors.js';

/** Largest frame: a 64 MiB backup plus its envelope. */
export const MAX_FRAME_BYTES = 65 * 1024 * 1024;

export interface AgentRequest {
  id: number;
  /** The store the caller means (storeIdentity); the agent refuses any other. */
  store: string;
  method: string;
  args: unknown[];
}

export type AgentReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { code: ErrorCode; message: string } };

/** What `agent.status` answers. */
export interface AgentStatus {
  pid: number;
  store: string;
  keystoreId: string;
  startedAt: number;
  lastUsedAt: number;
  idleTimeoutMs: number;
  /** When the agent locks and exits if nothing uses it before. */
  idleUntil: number;
  version: string;
}

export function encodeFrame(message: unknown): Buffer {
  const body = serialize(message);
  if (body.length > MAX_FRAME_BYTES) throw new CofferError('E2BIG', 'agent message too large');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

/** Splits a byte stream into messages; a frame over the bound is an error, never buffered. */
export class FrameReader {
  #pending: Buffer[] = [];
  #length = 0;

  push(chunk: Buffer): unknown[] {
    this.#pending.push(chunk);
    this.#length += chunk.length;
    const out: unknown[] = [];
    for (;;) {
      if (this.#length < 4) return out;
      const all = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
      this.#pending = [all];
      const size = all.readUInt32BE(0);
      if (size > MAX_FRAME_BYTES) throw new CofferError('E2BIG', 'agent frame over the bound');
      if (all.length < 4 + size) return out;
      out.push(deserialize(all.subarray(4, 4 + size)));
      const rest = all.subarray(4 + size);
      this.#pending = rest.length > 0 ? [rest] : [];
      this.#length = rest.length;
    }
  }
}

/** A reply's error as a CofferError (an unknown code from a damaged reply reads as EINTERNAL). */
export function replyError(error: { code: unknown; message: unknown }): CofferError {
  return new CofferError(
    isErrorCode(error.code) ? error.code : 'EINTERNAL',
    typeof error.message === 'string' ? error.message : 'the agent sent a malformed error',
  );
}
