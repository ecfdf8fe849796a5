// Keychain reliability on dir: (reliability.ts): kill -9 amid item writes, four racing processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { exerciseKeychainReliability } from '../testing/keychain-reliability.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-kc-reliability-dir-'));
after(() => rmSync(root, { recursive: true, force: true }));
let stores = 0;
exerciseKeychainReliability('dir', async () => `dir:${join(root, `store-${++stores}`)}`);
