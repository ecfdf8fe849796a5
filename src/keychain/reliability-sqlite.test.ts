// Keychain reliability on sqlite: (reliability.ts): kill -9 amid item writes, four racing processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { exerciseKeychainReliability } from '../testing/keychain-reliability.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-kc-reliability-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));
let stores = 0;
exerciseKeychainReliability('sqlite', async () => `sqlite:${join(root, `store-${++stores}`, 'store.db')}`);
