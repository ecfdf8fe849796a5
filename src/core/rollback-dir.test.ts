// Rollback attacks on the dir: backend (SPEC §4.1, §4.2, §4.5, §8, §15); see src/testing/rollback-attacks.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { exerciseRollbackAttacks } from '../testing/rollback-attacks.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-rollback-dir-'));
after(() => rmSync(root, { recursive: true, force: true }));

let stores = 0;
exerciseRollbackAttacks('dir', async () => `dir:${join(root, `store-${++stores}`)}`);
