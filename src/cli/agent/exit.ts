// Waiting for the agent's process to end (docs/cli.md "The agent"). The agent answers `agent.stop`
// before it stops — it cannot answer afterwards — and then wipes its keys and closes the store, which
// for SQLite folds the write-ahead log back into the database file. `coffer lock` and `coffer agent
// stop` say the agent has stopped only once its process is gone, so a copy of the store taken next
// is complete and no process still holds it.
import { procStat } from '../../proc-stat.js';

/** Whether `pid` names no running process (gone, or a zombie no one has reaped yet). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else; ESRCH: no such process.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  // Without /proc (macOS) the signal probe above is all there is.
  return procStat(pid)?.[0] === 'Z';
}

/** Resolves true once `pid` is gone, false if it is still running after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number, pollMs = 20): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (processGone(pid)) return true;
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
