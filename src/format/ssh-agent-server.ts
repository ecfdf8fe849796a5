// A small ssh-agent (SPEC §14.7) on a Unix socket that serves keys it does not hold: a provider
// lists public keys and signs on request (the keystore's non-exportable keys, HSM-resident ones
// included), and an optional confirmation hook may refuse each signature. The socket is 0600 in a
// directory no one else can enter (created 0700 when the caller gives none; refused when a given
// one is group- or world-accessible), so only this user's processes can ask for signatures.
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { equalBytes } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import { publicKeyToSshBlob } from './public-key.js';
import {
  AgentFrameReader,
  encodeFailure,
  encodeIdentitiesAnswer,
  encodeSignResponse,
  parseAgentRequest,
} from './ssh-agent-protocol.js';
import { encodeSshSignature, type SshAlgorithm } from './sshsig.js';

export interface AgentKey {
  alg: SshAlgorithm;
  publicKey: Uint8Array;
  comment: string;
}

export interface AgentKeyProvider {
  /** The keys offered, in order (OpenSSH clients try them in this order). */
  list(): AgentKey[] | Promise<AgentKey[]>;
  /** Coffer's raw signature (64 bytes) of `data` by `key`. */
  sign(key: AgentKey, data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

export interface AgentOptions {
  /** Socket path; default `<fresh 0700 temp dir>/agent.sock`. Its directory must be 0700-like. */
  path?: string;
  provider: AgentKeyProvider;
  /** Called before every signature; false (or a throw) refuses it. */
  confirm?: (request: { key: AgentKey; data: Uint8Array }) => boolean | Promise<boolean>;
  /** Told about refused or failed requests (never about key material). */
  onEvent?: (event: { type: 'sign' | 'refused' | 'failed' | 'unsupported'; detail: string }) => void;
}

export interface RunningAgent {
  path: string;
  close(): Promise<void>;
}

function assertPrivateDirectory(dir: string): void {
  const stat = statSync(dir);
  if (!stat.isDirectory()) throw new CofferError('EINVAL', `${dir} is not a directory`);
  if ((stat.mode & 0o077) !== 0 || (typeof process.getuid === 'function' && stat.uid !== process.getuid())) {
    throw new CofferError(
      'EPERM',
      `the agent socket's directory ${dir} must belong to this user and be closed to others (chmod 700)`,
    );
  }
}

async function handle(body: Uint8Array, options: AgentOptions): Promise<Uint8Array> {
  const event = options.onEvent ?? (() => {});
  let request: ReturnType<typeof parseAgentRequest>;
  try {
    request = parseAgentRequest(body);
  } catch (error) {
    event({ type: 'failed', detail: error instanceof Error ? error.message : String(error) });
    return encodeFailure();
  }
  if (request.type === 'unsupported') {
    event({ type: 'unsupported', detail: `request ${request.code}` });
    return encodeFailure();
  }
  const keys = await options.provider.list();
  if (request.type === 'identities') {
    return encodeIdentitiesAnswer(
      keys.map((k) => ({ keyBlob: publicKeyToSshBlob(k.alg, k.publicKey), comment: k.comment })),
    );
  }
  const key = keys.find((k) => equalBytes(publicKeyToSshBlob(k.alg, k.publicKey), request.keyBlob));
  if (key === undefined) {
    event({ type: 'refused', detail: 'sign request for a key this agent does not offer' });
    return encodeFailure();
  }
  try {
    if (options.confirm && !(await options.confirm({ key, data: request.data }))) {
      event({ type: 'refused', detail: `confirmation denied for ${key.comment}` });
      return encodeFailure();
    }
    const signature = await options.provider.sign(key, request.data);
    event({ type: 'sign', detail: key.comment });
    return encodeSignResponse(encodeSshSignature(key.alg, signature));
  } catch (error) {
    event({ type: 'failed', detail: error instanceof Error ? error.message : String(error) });
    return encodeFailure();
  }
}

function serve(socket: Socket, options: AgentOptions): void {
  const frames = new AgentFrameReader();
  // One request at a time per connection, answered in order (the protocol has no request ids).
  let queue = Promise.resolve();
  socket.on('data', (chunk) => {
    let bodies: Uint8Array[];
    try {
      bodies = frames.push(chunk);
    } catch {
      socket.destroy();
      return;
    }
    for (const body of bodies) {
      queue = queue.then(async () => {
        const answer = await handle(body, options);
        if (!socket.destroyed) socket.write(answer);
      });
    }
  });
  socket.on('error', () => socket.destroy());
}

/** Starts the agent; resolves once the socket accepts connections (mode 0600). */
export async function startSshAgent(options: AgentOptions): Promise<RunningAgent> {
  let ownDir: string | undefined;
  let path = options.path;
  if (path === undefined) {
    ownDir = mkdtempSync(join(tmpdir(), 'coffer-agent-'));
    chmodSync(ownDir, 0o700);
    path = join(ownDir, 'agent.sock');
  } else {
    assertPrivateDirectory(dirname(path));
  }
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serve(socket, options);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  const socketPath = path;
  return {
    path: socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          if (ownDir) rmSync(ownDir, { recursive: true, force: true });
          else rmSync(socketPath, { force: true });
          resolve();
        });
      }),
  };
}
