// The test command (`npm test`): lint, type-check and build (tests included), then every test file
// under this Node and again under the other supported Node — Node 20 (pure-JS post-quantum,
// better-sqlite3) and Node 24 (native ML-KEM / ML-DSA / Argon2, node:sqlite) — and end with one line
// `N passed, N failed` covering both, so a run that executed nothing is visible.
//
// The two runs overlap when the CPUs are free: much of the suite waits on fsync, child processes
// and real daemons (PostgreSQL, swtpm, SoftHSM, D-Bus) rather than on the CPU, and every test uses
// its own temp directories and OS-chosen ports, so they do not collide. On a machine already busy
// with other work (measured: CPU idle below half over two seconds before the runs), overlapping
// starves the CPU-heavy files (rotation/year, core/tamper) into their 15-minute timeout, so the runs
// go one after the other instead. `--overlap` / `--sequential` force either. The first run streams
// live; an overlapping second one is held back and printed when the first ends. Each run's full
// output is also kept in .cache/test-logs/.
//
// Usage: node scripts/run-tests.mjs [--no-static] [--overlap | --sequential] [--only DIR] [WORD…]
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const skipStatic = args.includes('--no-static');
const forced = args.includes('--sequential')
  ? 'sequential'
  : args.includes('--overlap')
    ? 'overlap'
    : undefined;
const filter = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--only');

function step(name, command, commandArgs) {
  process.stdout.write(`\n== ${name}\n`);
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stdout.write(`\n${name} failed\n0 passed, 1 failed\n`);
    process.exit(1);
  }
}

function testFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...testFiles(path));
    else if (entry.name.endsWith('.test.js')) out.push(path);
  }
  return out.sort();
}

/** Fraction of all CPU time spent idle over `ms` (0 … 1), from the kernel's per-CPU counters. */
async function idleFraction(ms) {
  const total = () =>
    cpus().reduce(
      (sum, cpu) => {
        const t = cpu.times;
        return { idle: sum.idle + t.idle, all: sum.all + t.user + t.nice + t.sys + t.idle + t.irq };
      },
      { idle: 0, all: 0 },
    );
  const before = total();
  await sleep(ms);
  const after = total();
  return (after.idle - before.idle) / Math.max(1, after.all - before.all);
}

const minutes = (ms) =>
  `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;

/**
 * Runs node's test runner under `nodeBinary` and parses its spec-reporter summary. With `hold`, the
 * output is buffered until `release()` is called, then streamed from there on.
 */
function runSuite(label, nodeBinary, files, env, { hold = false } = {}) {
  let held = hold ? [] : undefined;
  const log = [];
  const write = (chunk) => (held ? held.push(chunk) : process.stdout.write(chunk));
  const header = `\n== ${label}: ${files.length} test files\n`;
  write(header);
  log.push(header);
  const started = Date.now();
  const done = new Promise((resolve) => {
    const child = spawn(
      nodeBinary,
      [
        '--test',
        '--test-reporter=spec',
        `--test-concurrency=${process.env.COFFER_TEST_CONCURRENCY ?? '2'}`,
        '--test-timeout=900000',
        ...files,
      ],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env, NODE_NO_WARNINGS: '1' },
      },
    );
    let tail = '';
    const take = (chunk) => {
      write(chunk);
      log.push(chunk);
    };
    child.stdout.on('data', (chunk) => {
      take(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    });
    child.stderr.on('data', take);
    child.on('close', (code) => {
      // The summary is not always last: Node 24 prints the failing tests' reports after it, and one
      // report (a CLI script's transcript) can be longer than the 4 000 characters of tail kept.
      const text = tail.includes('ℹ tests ') ? tail : log.map((chunk) => chunk.toString()).join('');
      const count = (name) =>
        Number([...text.matchAll(new RegExp(`ℹ ${name} (\\d+)`, 'g'))].at(-1)?.[1] ?? 0);
      const passed = count('pass');
      let failed = count('fail') + count('cancelled');
      if (code !== 0 && failed === 0) failed = 1; // a crashed runner still counts as a failure
      const wallMs = Date.now() - started;
      mkdirSync(join(root, '.cache/test-logs'), { recursive: true });
      writeFileSync(
        join(root, `.cache/test-logs/${label.replace(/[^A-Za-z0-9.]+/g, '-')}.log`),
        log.join(''),
      );
      resolve({ label, passed, failed, skipped: count('skipped') + count('todo'), wallMs });
    });
  });
  const release = () => {
    if (held === undefined) return;
    for (const chunk of held) process.stdout.write(chunk);
    held = undefined;
  };
  return { done, release };
}

if (!skipStatic) {
  step('lint (biome)', 'npx', ['biome', 'check', '.']);
}
step('type-check and build (tsc)', 'npx', ['tsc', '-p', 'tsconfig.json']);
step('render the CLI overview', process.execPath, [join(root, 'scripts', 'cli-overview.mjs')]);
// The web console (docs/console.md) into dist/ui: the daemon serves it and the browser tests load it.
step('build the web console (vite)', 'npm', ['run', '--silent', 'build:ui']);

const dist = join(root, 'dist');
let files = testFiles(dist);
if (only) files = files.filter((f) => relative(dist, f).startsWith(`${only}/`));
if (filter.length > 0) files = files.filter((f) => filter.some((word) => f.includes(word)));
if (files.length === 0) {
  process.stdout.write('no test files found\n0 passed, 1 failed\n');
  process.exit(1);
}

// The two supported runtimes: this Node, and the other one (Node 24 from scripts/node24.sh when this
// is Node 20; Node 20 from COFFER_NODE20 or PATH when this is Node 24).
const { hasBuiltinSqlite, otherNode } = await import(join(dist, 'testing/other-node.js'));
const here = { bin: process.execPath, version: process.versions.node };
const other = otherNode();
const runtimes = [here];
let missing = 0;
if (other !== undefined) {
  runtimes.push({ bin: other.path, version: other.version });
} else {
  const wanted = hasBuiltinSqlite(here.version)
    ? 'Node 20 (set COFFER_NODE20)'
    : 'Node 24 (scripts/node24.sh)';
  if (process.env.CI) {
    process.stdout.write(`\n${wanted} binary missing: CI must run the suite under both Node versions\n`);
    missing = 1;
  } else {
    process.stdout.write(`\nnote: ${wanted} binary not installed; the run under it is left out\n`);
  }
}
// Cross-runtime tests (e.g. a store written by one SQLite driver read by the other) find both here.
const env = {};
for (const runtime of runtimes)
  env[hasBuiltinSqlite(runtime.version) ? 'COFFER_NODE24' : 'COFFER_NODE20'] = runtime.bin;

let sequential = forced === 'sequential' || runtimes.length === 1;
if (forced === undefined && runtimes.length > 1) {
  const idle = await idleFraction(2000);
  sequential = idle < 0.5;
  process.stdout.write(
    `\nCPU idle ${Math.round(idle * 100)}% before the runs: ${sequential ? 'one after the other (the machine is busy)' : 'overlapping'}\n`,
  );
}

const started = Date.now();
const results = [];
if (sequential) {
  for (const runtime of runtimes) {
    results.push(await runSuite(`Node ${runtime.version}`, runtime.bin, files, env).done);
  }
} else {
  const [first, second] = runtimes.map((runtime, i) =>
    runSuite(`Node ${runtime.version}`, runtime.bin, files, env, { hold: i > 0 }),
  );
  results.push(await first.done);
  second.release();
  results.push(await second.done);
}

const totals = { passed: 0, failed: missing, skipped: 0 };
process.stdout.write('\n');
for (const r of results) {
  totals.passed += r.passed;
  totals.failed += r.failed;
  totals.skipped += r.skipped;
  process.stdout.write(`${r.label}: ${r.passed} passed, ${r.failed} failed, wall ${minutes(r.wallMs)}\n`);
}
process.stdout.write(
  `${sequential ? 'sequential' : 'overlapped'} runs, wall ${minutes(Date.now() - started)} in total\n`,
);
if (totals.skipped > 0) {
  process.stdout.write(`\n${totals.skipped} tests skipped or todo: not allowed in this project\n`);
  totals.failed += totals.skipped;
}
process.stdout.write(`\n${totals.passed} passed, ${totals.failed} failed\n`);
process.exit(totals.failed === 0 ? 0 : 1);
