// `coffer sync now | status`: the keychain's sync engine (SPEC §17.10) — one sync now, and its state.
import type { CommandSpec, RunName } from '../spec.js';

const run = (name: RunName<typeof import('../commands/sync-engine.js')>) => async () =>
  (await import('../commands/sync-engine.js'))[name];

export const syncEngineTable: CommandSpec[] = [
  {
    path: ['sync', 'now'],
    usage: '',
    summary: 'sync the keychain with your other devices now (pull, push, merge)',
    examples: ['coffer sync now', 'coffer sync now --json'],
    load: run('now'),
  },
  {
    path: ['sync', 'status'],
    usage: '',
    summary: 'last sync, queued writes, last error and any attack by the sync server',
    examples: ['coffer sync status', 'coffer sync status --json'],
    load: run('status'),
  },
];
