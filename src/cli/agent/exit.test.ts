// Waiting for a process to end (cli/agent/exit.ts), on real child processes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { processGone, waitForExit } from './exit.js';

test('waitForExit resolves once the process has ended, and false while it still runs', async () => {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 400)'], { stdio: 'ignore' });
  const pid = child.pid as number;
  assert.equal(processGone(pid), false);
  assert.equal(await waitForExit(pid, 50), false, 'still running after 50 ms');
  assert.equal(await waitForExit(pid, 30_000), true);
  assert.equal(processGone(pid), true);
});

test('a process that is already gone is seen at once', async () => {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(await waitForExit(child.pid as number, 0), true);
});
