// The ssh-agent wire protocol (OpenSSH PROTOCOL.agent, draft-ietf-sshm-ssh-agent; SPEC §14.7) as a
// pure codec: length-prefixed frames, the requests Coffer's agent serves — list identities (11) and
// sign (13) — and its three answers: identities (12), signature (14), failure (5). Every other
// request (add/remove keys, lock, smartcards, extensions) is parsed only far enough to answer
// failure: Coffer's keys are managed by the keystore, never through the agent socket.
import { concatBytes } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import { SshReader, sshString, sshUint32 } from './ssh-wire.js';

export const AGENT_MESSAGE = Object.freeze({
  FAILURE: 5,
  SUCCESS: 6,
  REQUEST_IDENTITIES: 11,
  IDENTITIES_ANSWER: 12,
  SIGN_REQUEST: 13,
  SIGN_RESPONSE: 14,
  EXTENSION: 27,
});

/** Sign-request flags; both only select RSA signature hashes, so Ed25519 / ECDSA keys ignore them. */
export const AGENT_SIGN_FLAGS = Object.freeze({ RSA_SHA2_256: 2, RSA_SHA2_512: 4 });
const KNOWN_FLAGS = AGENT_SIGN_FLAGS.RSA_SHA2_256 | AGENT_SIGN_FLAGS.RSA_SHA2_512;

/** OpenSSH's own bound on one agent message (AGENT_MAX_LEN). */
export const AGENT_MAX_MESSAGE = 256 * 1024;

export type AgentRequest =
  | { type: 'identities' }
  | { type: 'sign'; keyBlob: Uint8Array; data: Uint8Array; flags: number }
  | { type: 'unsupported'; code: number };

/** Parses one message body (type byte ‖ contents, without the length prefix). */
export function parseAgentRequest(body: Uint8Array): AgentRequest {
  if (body.length === 0) throw new CofferError('EINVAL', 'empty agent message');
  const reader = new SshReader(body, 'agent message');
  const code = reader.byte();
  if (code === AGENT_MESSAGE.REQUEST_IDENTITIES) {
    reader.end();
    return { type: 'identities' };
  }
  if (code === AGENT_MESSAGE.SIGN_REQUEST) {
    const keyBlob = reader.string();
    const data = reader.string();
    const flags = reader.uint32();
    reader.end();
    if ((flags & ~KNOWN_FLAGS) !== 0)
      throw new CofferError('EINVAL', `unknown sign request flags 0x${flags.toString(16)}`);
    return { type: 'sign', keyBlob, data, flags };
  }
  return { type: 'unsupported', code };
}

function frame(body: Uint8Array): Uint8Array {
  return concatBytes(sshUint32(body.length), body);
}

export function encodeFailure(): Uint8Array {
  return frame(Uint8Array.of(AGENT_MESSAGE.FAILURE));
}

/** SSH_AGENT_IDENTITIES_ANSWER: uint32 count ‖ (string key blob ‖ string comment)*. */
export function encodeIdentitiesAnswer(identities: { keyBlob: Uint8Array; comment: string }[]): Uint8Array {
  const parts = identities.flatMap((id) => [sshString(id.keyBlob), sshString(id.comment)]);
  return frame(
    concatBytes(Uint8Array.of(AGENT_MESSAGE.IDENTITIES_ANSWER), sshUint32(identities.length), ...parts),
  );
}

/** SSH_AGENT_SIGN_RESPONSE: string signature blob. */
export function encodeSignResponse(signatureBlob: Uint8Array): Uint8Array {
  return frame(concatBytes(Uint8Array.of(AGENT_MESSAGE.SIGN_RESPONSE), sshString(signatureBlob)));
}

/** A client-side request (for tests and for a Coffer client of an agent). */
export function encodeRequest(request: AgentRequest): Uint8Array {
  if (request.type === 'identities') return frame(Uint8Array.of(AGENT_MESSAGE.REQUEST_IDENTITIES));
  if (request.type === 'sign') {
    return frame(
      concatBytes(
        Uint8Array.of(AGENT_MESSAGE.SIGN_REQUEST),
        sshString(request.keyBlob),
        sshString(request.data),
        sshUint32(request.flags),
      ),
    );
  }
  return frame(Uint8Array.of(request.code));
}

/**
 * Reassembles frames from stream chunks. `push` returns the complete message bodies so far; a
 * declared length of 0 or over AGENT_MAX_MESSAGE is EINVAL (the server then drops the connection,
 * as OpenSSH's agent does).
 */
export class AgentFrameReader {
  #buffer: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): Uint8Array[] {
    this.#buffer = this.#buffer.length === 0 ? Uint8Array.from(chunk) : concatBytes(this.#buffer, chunk);
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.#buffer.length < 4) break;
      const length = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, 4).getUint32(0, false);
      if (length === 0 || length > AGENT_MAX_MESSAGE) {
        throw new CofferError('EINVAL', `agent message length ${length} out of bounds`);
      }
      if (this.#buffer.length < 4 + length) break;
      out.push(this.#buffer.slice(4, 4 + length));
      this.#buffer = this.#buffer.subarray(4 + length);
    }
    return out;
  }

  /** Bytes held that do not yet form a message. */
  get pending(): number {
    return this.#buffer.length;
  }
}

/** Parses a server answer (for tests and clients): failure, identities or a signature. */
export function parseAgentAnswer(
  body: Uint8Array,
):
  | { type: 'failure' }
  | { type: 'success' }
  | { type: 'identities'; identities: { keyBlob: Uint8Array; comment: string }[] }
  | { type: 'signature'; blob: Uint8Array } {
  const reader = new SshReader(body, 'agent answer');
  const code = reader.byte();
  if (code === AGENT_MESSAGE.FAILURE || code === AGENT_MESSAGE.SUCCESS) {
    reader.end();
    return { type: code === AGENT_MESSAGE.FAILURE ? 'failure' : 'success' };
  }
  if (code === AGENT_MESSAGE.IDENTITIES_ANSWER) {
    const count = reader.uint32();
    if (count > 1024) throw new CofferError('EINVAL', 'agent lists too many identities');
    const identities = Array.from({ length: count }, () => ({
      keyBlob: reader.string(),
      comment: reader.text(),
    }));
    reader.end();
    return { type: 'identities', identities };
  }
  if (code === AGENT_MESSAGE.SIGN_RESPONSE) {
    const blob = reader.string();
    reader.end();
    return { type: 'signature', blob };
  }
  throw new CofferError('EINVAL', `unexpected agent answer ${code}`);
}
