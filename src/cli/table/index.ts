// The command table (docs/cli.md "Commands"): every command in the order `coffer --help` lists them.
// Loading it loads no command implementation and nothing of the keystore: help, completion and the
// version stay as cheap as starting Node.
import type { CommandSpec } from '../spec.js';
import { adminTable, maintenanceTable } from './admin.js';
import { formatsTable } from './formats.js';
import { hdTable } from './hd.js';
import { itemTable } from './items.js';
import { dataTable, keyTable } from './keys.js';
import { syncTable } from './sync.js';
import { syncEngineTable } from './sync-engine.js';
import { syncServerTable } from './sync-server.js';

const first = ['init', 'status', 'unlock', 'lock'];

export const COMMANDS: readonly CommandSpec[] = [
  ...adminTable.filter((c) => first.includes(c.path[0]!)),
  ...keyTable,
  ...dataTable,
  ...hdTable,
  ...formatsTable,
  ...itemTable,
  ...syncTable,
  ...syncEngineTable,
  ...maintenanceTable,
  ...syncServerTable,
  ...adminTable.filter((c) => !first.includes(c.path[0]!)),
];

/** The command whose words start `words` (longest match first). */
export function findCommand(words: readonly string[]): CommandSpec | undefined {
  return (
    COMMANDS.find((c) => c.path.length === 2 && c.path[0] === words[0] && c.path[1] === words[1]) ??
    COMMANDS.find((c) => c.path.length === 1 && c.path[0] === words[0])
  );
}

/** Groups: the first word of two-word commands (`key`, `hd`, …). */
export function isGroup(word: string | undefined): boolean {
  return COMMANDS.some((c) => c.path.length === 2 && c.path[0] === word);
}
