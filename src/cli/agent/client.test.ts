// The CLI's agent connection (cli/agent/client.ts) against a real agent server in this process: `stop`
// resolves only once the agent's process has ended, so an agent whose process is still running (here:
// this test's own, which the in-process agent reports as its pid) is EUNAVAIL after the wait — the
// store already closed, but `coffer lock` does not claim the process stopped.
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Keystore } from '../../core/keystore.js';
import { passphrase, tempDir } from '../../testing/keystore.js';
import { localOperations } from '../local.js';
import { AgentConnection } from './client.js';
import { agentSocket, ensureRuntimeDir, storeIdentity } from './paths.js';
import { startAgent } from './server.js';

test('stop waits for the agent process to end: still running after the wait is EUNAVAIL', async () => {
  const dir = tempDir('coffer-agent-stop-');
  try {
    chmodSync(dir.path, 0o700);
    const store = `sqlite:${join(dir.path, 'agent.db')}`;
    const ks = await Keystore.open({ store, protector: passphrase(), create: true });
    const env = { XDG_RUNTIME_DIR: dir.path };
    const agent = await startAgent({
      ops: localOperations(ks),
      store: storeIdentity(store),
      socket: agentSocket(ensureRuntimeDir(env), store),
      idleMs: 60_000,
      version: 'test',
    });
    const connection = (await AgentConnection.open(env, store))!;
    assert.equal((await connection.status()).pid, process.pid);
    const started = performance.now();
    await assert.rejects(connection.stop(300), (error: unknown) => {
      assert.equal((error as { code?: string }).code, 'EUNAVAIL');
      assert.match(String(error), new RegExp(`pid ${process.pid}\\b.*still running`));
      return true;
    });
    assert.ok(performance.now() - started >= 300, 'it waited before giving up');
    connection.close();
    await agent.closed;
  } finally {
    dir.remove();
  }
});
