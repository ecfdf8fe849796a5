// Rollback attacks on the default sqlite: backend (SPEC §4.1, §4.2, §4.5, §8, §15): records put back
// from before a change, removed ones resurrected, the audit log truncated under an older head, usage
// records damaged, and the whole store replaced by an older copy (src/testing/rollback-attacks.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { exerciseRollbackAttacks } from '../testing/rollback-attacks.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-rollback-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));

let stores = 0;
exerciseRollbackAttacks('sqlite', async () => `sqlite:${join(root, `store-${++stores}`, 'store.db')}`);
