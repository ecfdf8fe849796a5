// A throwaway install of this build in which the optional native addons (better-sqlite3, pkcs11js)
// really cannot be found: package.json and the compiled dist/ are copied into a temp directory and
// every other node_modules entry is linked, so module resolution from that copy walks a
// node_modules without the addons — exactly what a plain `npm ci` / `npm install coffer` leaves.
// Tests run Coffer there in child processes (nothing is mocked: the addon is simply absent).
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const OPTIONAL_ADDONS = ['better-sqlite3', 'pkcs11js'] as const;

const repo = fileURLToPath(new URL('../../', import.meta.url));

export interface AddonFreeInstall {
  /** The install root (holds package.json, dist/, node_modules/). */
  root: string;
  /** The CLI entry point inside it. */
  cli: string;
  remove(): void;
}

export function installWithoutAddons(): AddonFreeInstall {
  const root = mkdtempSync(join(tmpdir(), 'coffer-no-addons-'));
  cpSync(join(repo, 'package.json'), join(root, 'package.json'));
  cpSync(join(repo, 'dist'), join(root, 'dist'), {
    recursive: true,
    filter: (src) => !/\.(test\.js|map|d\.ts)$/.test(src),
  });
  const modules = join(root, 'node_modules');
  mkdirSync(modules);
  for (const entry of readdirSync(join(repo, 'node_modules'))) {
    if ((OPTIONAL_ADDONS as readonly string[]).includes(entry) || entry.startsWith('.')) continue;
    symlinkSync(join(repo, 'node_modules', entry), join(modules, entry));
  }
  return {
    root,
    cli: join(root, 'dist/cli/main.js'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
