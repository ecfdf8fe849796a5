// Keystore reliability on the dir: backend (SPEC §9): kill -9 amid keystore work, four processes
// rotating one key, four processes opening at once (src/testing/workers/keystore-reliability.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { exerciseKeystoreReliability } from '../testing/workers/keystore-reliability.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-ks-reliability-dir-'));
after(() => rmSync(root, { recursive: true, force: true }));

let stores = 0;
exerciseKeystoreReliability('dir', async () => `dir:${join(root, `store-${++stores}`)}`);
