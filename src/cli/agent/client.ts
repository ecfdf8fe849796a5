// The CLI's side of the per-user agent (docs/cli.md "The agent"): connects to the agent of the
// configured store, after checking that its socket and directory belong to this user, and exposes it
// as the operations surface — one method per name in OPERATION_NAMES, built from that list, so no
// operation is written here by hand.
import { connect, type Socket } from 'node:net';
import { type CofferOperations, OPERATION_NAMES } from '../../client/surface.js';
import { CofferError } from '../../errors.js';
import type { Env } from '../config.js';
import { waitForExit } from './exit.js';
import { agentSocket, checkAgentSocket, checkPrivateDir, runtimeDir, storeIdentity } from './paths.js';
import { type AgentReply, type AgentStatus, encodeFrame, FrameReader, replyError } from './protocol.js';

/** How long `stop` waits for the agent's process to end (its close waits up to 1 s for requests). */
const STOP_WAIT_MS = 10_000;

export class AgentConnection {
  readonly socketPath: string;
  readonly store: string;
  readonly #socket: Socket;
  readonly #pending = new Map<number, { done: (value: unknown) => void; fail: (error: Error) => void }>();
  #next = 1;
  #broken: CofferError | undefined;

  private constructor(socket: Socket, socketPath: string, store: string) {
    this.#socket = socket;
    this.socketPath = socketPath;
    this.store = store;
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      let replies: unknown[];
      try {
        replies = reader.push(chunk);
      } catch (error) {
        this.#fail(
          error instanceof CofferError ? error : new CofferError('EUNAVAIL', 'the agent sent garbage'),
        );
        return;
      }
      for (const reply of replies as AgentReply[]) {
        const waiting = this.#pending.get(reply.id);
        if (!waiting) continue;
        this.#pending.delete(reply.id);
        if (reply.ok) waiting.done(reply.value);
        else waiting.fail(replyError(reply.error));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () =>
      this.#fail(new CofferError('EUNAVAIL', 'the agent closed the connection (it locked or stopped)')),
    );
  }

  #fail(error: CofferError): void {
    this.#broken ??= error;
    for (const waiting of this.#pending.values()) waiting.fail(error);
    this.#pending.clear();
  }

  /**
   * The agent serving `store`, or undefined when none runs. Its socket and directory must be this
   * user's (EPERM otherwise: nothing is sent to a socket someone else could have planted).
   */
  static async open(env: Env, store: string): Promise<AgentConnection | undefined> {
    const dir = runtimeDir(env);
    const path = agentSocket(dir, store);
    try {
      checkPrivateDir(dir);
    } catch (error) {
      if (error instanceof CofferError && error.code === 'ENOENT') return undefined;
      throw error;
    }
    if (checkAgentSocket(path) === undefined) return undefined;
    const socket = await new Promise<Socket | undefined>((done) => {
      const s = connect(path);
      s.once('connect', () => done(s));
      // A socket file with no listener is left by an agent that died: no agent.
      s.once('error', () => done(undefined));
    });
    return socket === undefined ? undefined : new AgentConnection(socket, path, storeIdentity(store));
  }

  call(method: string, args: unknown[]): Promise<unknown> {
    if (this.#broken) return Promise.reject(this.#broken);
    const id = this.#next++;
    return new Promise((done, fail) => {
      this.#pending.set(id, { done, fail });
      try {
        this.#socket.write(encodeFrame({ id, store: this.store, method, args }));
      } catch (error) {
        this.#pending.delete(id);
        fail(error);
      }
    });
  }

  status(): Promise<AgentStatus> {
    return this.call('agent.status', []) as Promise<AgentStatus>;
  }

  /**
   * Asks the agent to lock and exit, and resolves with its last status once its process has ended
   * (exit.ts): the agent answers first and closes the store after. EUNAVAIL if it is still running
   * after `waitMs`.
   */
  async stop(waitMs = STOP_WAIT_MS): Promise<AgentStatus> {
    const last = (await this.call('agent.stop', [])) as AgentStatus;
    if (!(await waitForExit(last.pid, waitMs)))
      throw new CofferError(
        'EUNAVAIL',
        `the agent (pid ${last.pid}) was asked to stop but is still running after ${waitMs / 1000} s; it may still be closing the store`,
      );
    return last;
  }

  /** The operations surface, answered by the agent. */
  operations(): CofferOperations {
    const root: Record<string, unknown> = {};
    for (const name of OPERATION_NAMES) {
      const [first, second] = name.split('.') as [string, string | undefined];
      const fn = (...args: unknown[]) => this.call(name, args);
      if (second === undefined) {
        root[first] = fn;
        continue;
      }
      const group = (root[first] ?? {}) as Record<string, unknown>;
      group[second] = fn;
      root[first] = group;
    }
    // Complete by construction: OPERATION_NAMES is checked against the interfaces at compile time.
    return root as unknown as CofferOperations;
  }

  close(): void {
    this.#socket.end();
    this.#socket.unref();
  }
}
