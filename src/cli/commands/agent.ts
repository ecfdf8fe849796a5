// `coffer agent start|stop|status` and the agent process itself (`coffer agent run`, started by the
// CLI with its handover on stdin: agent/start.ts). See docs/cli.md "The agent".
import { CofferError } from '../../errors.js';
import type { AgentHandover } from '../agent/start.js';
import { findAgent, startAgent } from '../connect.js';
import { displayStore, emit, iso } from '../context.js';
import type { CommandRun } from '../spec.js';
import { packageVersion } from '../version.js';

export const start: CommandRun = async (ctx) => {
  const running = await findAgent(ctx.config);
  if (running) {
    const agent = await running.status().finally(() => running.close());
    throw new CofferError(
      'EALREADY',
      `an agent (pid ${agent.pid}) already serves ${displayStore(agent.store)}`,
    );
  }
  const started = await startAgent(ctx.config);
  try {
    const agent = await started.status();
    return await emit(
      ctx,
      agent,
      `agent started (pid ${agent.pid}) for ${displayStore(agent.store)}; it locks at ${iso(agent.idleUntil)} unless used`,
    );
  } finally {
    started.close();
  }
};

export const stop: CommandRun = async (ctx) => {
  const agent = await findAgent(ctx.config);
  if (!agent) return emit(ctx, { stopped: false }, `no agent serves ${displayStore(ctx.config.store)}`);
  const last = await agent.stop().finally(() => agent.close());
  return emit(ctx, { stopped: true, agent: last }, `agent (pid ${last.pid}) locked and stopped`);
};

export const status: CommandRun = async (ctx) => {
  const connection = await findAgent(ctx.config);
  if (!connection) {
    return emit(
      ctx,
      { running: false, enabled: ctx.config.agentEnabled },
      `no agent serves ${displayStore(ctx.config.store)}${ctx.config.agentEnabled ? '' : ' (the agent is turned off)'}`,
    );
  }
  const agent = await connection.status().finally(() => connection.close());
  return emit(ctx, { running: true, enabled: ctx.config.agentEnabled, ...agent }, [
    `agent       running (pid ${agent.pid}, coffer ${agent.version})`,
    `store       ${displayStore(agent.store)}`,
    `keystore    ${agent.keystoreId}`,
    `unlocked    since ${iso(agent.startedAt)}, last used ${iso(agent.lastUsedAt)}`,
    `locks at    ${iso(agent.idleUntil)} unless used (idle timeout ${Math.round(agent.idleTimeoutMs / 1000)} s)`,
  ]);
};

async function readHandover(stdin: NodeJS.ReadableStream): Promise<AgentHandover> {
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.length > 64 * 1024) throw new CofferError('EINVAL', 'agent handover too large');
  }
  const handover = JSON.parse(text) as AgentHandover;
  if (
    typeof handover?.store !== 'string' ||
    typeof handover.idleMs !== 'number' ||
    typeof handover.protector !== 'object' ||
    (handover.rollback !== undefined && (typeof handover.rollback !== 'object' || handover.rollback === null))
  )
    throw new CofferError('EINVAL', 'malformed agent handover');
  return handover;
}

/**
 * The agent process: unlock, listen, say so on stdout (one JSON line the starting CLI waits for), then
 * serve until stopped. It never prints again: its stdout belongs to a CLI that has gone.
 */
export const run: CommandRun = async (ctx) => {
  const reply = (message: object) => ctx.streams.stdout.write(`${JSON.stringify(message)}\n`);
  let agent: import('../agent/server.js').RunningAgent;
  try {
    if (ctx.streams.stdin.isTTY)
      throw new CofferError('EINVAL', '`coffer agent run` is started by the CLI; use `coffer agent start`');
    const handover = await readHandover(ctx.streams.stdin);
    const [{ openKeystoreWith, localOperations }, paths, server, { AgentConnection }] = await Promise.all([
      import('../local.js'),
      import('../agent/paths.js'),
      import('../agent/server.js'),
      import('../agent/client.js'),
    ]);
    const socket = paths.agentSocket(paths.ensureRuntimeDir(ctx.config.env), handover.store);
    if (paths.checkAgentSocket(socket) !== undefined) {
      // A live agent answers; a dead one left its socket file behind.
      const live = await AgentConnection.open(ctx.config.env, handover.store);
      if (live) {
        live.close();
        throw new CofferError('EALREADY', `an agent already serves ${displayStore(handover.store)}`);
      }
      const { unlinkSync } = await import('node:fs');
      unlinkSync(socket);
    }
    const ks = await openKeystoreWith(handover.store, handover.protector, {
      actor: handover.actor,
      ...(handover.rollback ? { rollback: handover.rollback } : {}),
    });
    agent = await server.startAgent({
      ops: localOperations(ks),
      store: paths.storeIdentity(handover.store),
      socket,
      idleMs: handover.idleMs,
      version: await packageVersion(),
    });
  } catch (error) {
    const e =
      error instanceof CofferError
        ? error
        : new CofferError('EINTERNAL', String((error as Error)?.message ?? error));
    reply({ ok: false, error: { code: e.code, message: e.message } });
    return;
  }
  reply({ ok: true, pid: process.pid });
  const stop = () => void agent.stop('signal');
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, stop);
  // The CLI that started us closes the pipe; writing to it later would raise EPIPE.
  ctx.streams.stdout.on?.('error', () => {});
  await agent.closed;
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.removeListener(signal, stop);
};
