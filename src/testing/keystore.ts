// Test fixtures for keystore tests: temporary stores and a fast (OWASP-floor) passphrase protector.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keystore, type OpenOptions } from '../core/keystore.js';
import type { PassphraseProtectorConfig } from '../protect/configs.js';

/** Argon2id at the OWASP floor: the cheapest parameters the library accepts, to keep tests quick. */
export const FAST_KDF = { alg: 'argon2id', memoryKiB: 19456, iterations: 2, parallelism: 1 } as const;

export function passphrase(value = 'correct horse battery staple'): PassphraseProtectorConfig {
  return { type: 'passphrase', passphrase: value, kdf: { ...FAST_KDF } };
}

export interface TempDir {
  path: string;
  remove(): void;
}

export function tempDir(prefix = 'coffer-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A fresh sqlite keystore in a temp dir; `cleanup` closes it and removes the dir. */
export async function tempKeystore(
  extra: Partial<OpenOptions> = {},
  scheme: 'sqlite' | 'dir' = 'sqlite',
): Promise<{ ks: Keystore; url: string; dir: TempDir; cleanup: () => Promise<void> }> {
  const dir = tempDir();
  const url = scheme === 'sqlite' ? `sqlite:${join(dir.path, 'store.db')}` : `dir:${join(dir.path, 'store')}`;
  const ks = await Keystore.open({ store: url, protector: passphrase(), create: true, ...extra });
  return {
    ks,
    url,
    dir,
    cleanup: async () => {
      await ks.close();
      dir.remove();
    },
  };
}
