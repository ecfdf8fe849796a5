// CLI start-up and repeated use (docs/cli.md "The agent"), each figure measured side by side in the
// same run:
// - `coffer --help` (and --version, completion) CPU time against `node -e 0`: help loads only the
//   command table. Goal: at most 1.5× (ratio = node CPU / help CPU ≥ 0.67).
// - `coffer sign` wall time once the per-user agent holds the store, against a 0.3 s budget (goal:
//   ratio = 0.3 s / wall ≥ 1), beside the same command in direct mode, which pays the passphrase KDF
//   (default Argon2id) every time, and beside `node -e 0`.
// CPU is read in the child itself (process.cpuUsage at exit, via a preload) so the figure is the
// process's own, not the machine's load; the best of several runs is kept.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir } from '../testing/keystore.js';
import type { BenchRow } from './harness.js';

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const BUDGET_S = 0.3;

interface Run {
  cpuMs: number;
  wallMs: number;
  code: number;
}

function run(meter: string, args: string[], env: NodeJS.ProcessEnv): Run {
  const started = performance.now();
  const result = spawnSync(process.execPath, ['--require', meter, ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  const wallMs = performance.now() - started;
  const usage = JSON.parse(String(result.output[3] || '{"user":0,"system":0}')) as {
    user: number;
    system: number;
  };
  return { cpuMs: (usage.user + usage.system) / 1000, wallMs, code: result.status ?? 1 };
}

/** Best (least disturbed) of `times` runs of each, interleaved. */
function best(meter: string, runs: Record<string, string[]>, env: NodeJS.ProcessEnv, times: number) {
  const out: Record<string, { cpuMs: number; wallMs: number }> = {};
  for (let i = 0; i < times; i++) {
    for (const [name, args] of Object.entries(runs)) {
      const r = run(meter, args, env);
      if (r.code !== 0) throw new Error(`bench cli: ${name} exited ${r.code}`);
      const prev = out[name];
      out[name] = {
        cpuMs: Math.min(prev?.cpuMs ?? Number.POSITIVE_INFINITY, r.cpuMs),
        wallMs: Math.min(prev?.wallMs ?? Number.POSITIVE_INFINITY, r.wallMs),
      };
    }
  }
  return out;
}

const round = (n: number) => Math.round(n * 10) / 10;

export async function benchCli(options: { times?: number } = {}): Promise<BenchRow[]> {
  const times = options.times ?? 9;
  const dir = tempDir('coffer-bench-cli-');
  chmodSync(dir.path, 0o700);
  const meter = join(dir.path, 'meter.cjs');
  writeFileSync(
    meter,
    "process.on('exit', () => { const u = process.cpuUsage(); try { require('fs').writeSync(3, JSON.stringify(u)); } catch {} });\n",
  );
  const runtime = join(dir.path, 'run');
  mkdirSync(runtime, { mode: 0o700 });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir.path,
    XDG_RUNTIME_DIR: runtime,
    COFFER_STORE: `sqlite:${join(dir.path, 'ks.db')}`,
    COFFER_PASSPHRASE: 'bench passphrase',
    NODE_NO_WARNINGS: '1',
  };
  const rows: BenchRow[] = [];
  try {
    const startup = best(
      meter,
      {
        node: ['-e', '0'],
        help: [MAIN, '--help'],
        version: [MAIN, '--version'],
        completion: [MAIN, 'completion', 'bash'],
      },
      env,
      times,
    );
    const node = startup.node!;
    for (const name of ['help', 'version', 'completion'] as const) {
      const m = startup[name]!;
      rows.push({
        group: 'cli',
        name: `coffer ${name === 'help' ? '--help' : name === 'version' ? '--version' : 'completion bash'} CPU`,
        opsPerSec: 1000 / m.cpuMs,
        baseline: 'node -e 0 CPU',
        baselineOpsPerSec: 1000 / node.cpuMs,
        ratio: node.cpuMs / m.cpuMs,
        ...(name === 'help' ? { goal: round((1 / 1.5) * 100) / 100 } : {}),
        extra: { cpuMs: round(m.cpuMs), nodeCpuMs: round(node.cpuMs) },
      });
    }

    // A store with the default passphrase KDF (what a user gets from `coffer init`), one key, a file.
    const init = spawnSync(process.execPath, [MAIN, 'init'], { env, encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`bench cli: init failed: ${init.stderr}`);
    const direct = { ...env, COFFER_AGENT: '0' };
    const created = spawnSync(
      process.execPath,
      [MAIN, 'key', 'create', '--app', 'b', '--purpose', 'p', '--alg', 'ed25519'],
      {
        env: direct,
        encoding: 'utf8',
      },
    );
    const key = created.stdout.trim();
    writeFileSync(join(dir.path, 'msg'), 'bench message');
    const sign = [MAIN, 'sign', key, '--in', join(dir.path, 'msg')];
    const directSign = best(meter, { sign }, direct, 2).sign!;
    const started = spawnSync(process.execPath, [MAIN, 'agent', 'start'], { env, encoding: 'utf8' });
    if (started.status !== 0) throw new Error(`bench cli: agent start failed: ${started.stderr}`);
    const agent = best(meter, { node: ['-e', '0'], sign, list: [MAIN, 'key', 'list'] }, env, times);
    for (const name of ['sign', 'list'] as const) {
      const m = agent[name]!;
      rows.push({
        group: 'cli',
        name: `agent: coffer ${name === 'sign' ? 'sign' : 'key list'} wall`,
        opsPerSec: 1000 / m.wallMs,
        baseline: `${BUDGET_S} s budget`,
        baselineOpsPerSec: 1 / BUDGET_S,
        ratio: (BUDGET_S * 1000) / m.wallMs,
        ...(name === 'sign' ? { goal: 1 } : {}),
        extra: {
          wallMs: round(m.wallMs),
          cpuMs: round(m.cpuMs),
          nodeWallMs: round(agent.node!.wallMs),
          ...(name === 'sign'
            ? { directWallMs: round(directSign.wallMs), speedupVsDirect: round(directSign.wallMs / m.wallMs) }
            : {}),
        },
      });
    }
  } finally {
    spawnSync(process.execPath, [MAIN, 'lock'], { env });
    dir.remove();
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchCli();
  for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
}
