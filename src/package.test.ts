// The package contract: `coffer` and `coffer/crypto` load through package self-reference (as an app
// that installed Coffer would load them), and `coffer/crypto` has exactly SPEC §1's surface.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function importKeys(specifier: string, expression: string): unknown {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import('${specifier}'); console.log(JSON.stringify(${expression}))`,
    ],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  return JSON.parse(out);
}

test("import('coffer/crypto') from the repository root exposes SPEC §1's functions", () => {
  const surface = importKeys(
    'coffer/crypto',
    '{ aead: Object.keys(m.aead), sig: Object.keys(m.sig), kem: Object.keys(m.kem), kdf: Object.keys(m.kdf), mac: Object.keys(m.mac), top: Object.keys(m) }',
  ) as Record<string, string[]>;
  for (const fn of ['encrypt', 'decrypt']) assert.ok(surface.aead!.includes(fn), `aead.${fn}`);
  for (const fn of ['keygen', 'publicKey', 'sign', 'verify'])
    assert.ok(surface.sig!.includes(fn), `sig.${fn}`);
  for (const fn of ['keygen', 'encapsulate', 'decapsulate'])
    assert.ok(surface.kem!.includes(fn), `kem.${fn}`);
  assert.ok(surface.kdf!.includes('hkdf'));
  assert.ok(surface.mac!.includes('hmac'));
  for (const name of ['CofferError', 'cryptoImplementations', 'systemRng', 'insecureSeededRng'])
    assert.ok(surface.top!.includes(name), name);
});

test("import('coffer') exposes the Keystore and CofferError", () => {
  const top = importKeys('coffer', 'Object.keys(m)') as string[];
  for (const name of ['Keystore', 'CofferError', 'ERROR_CODES', 'openStorage'])
    assert.ok(top.includes(name), name);
});

test('npm pack ships the library, CLI and daemon, and no test, harness or benchmark', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
  });
  const [pack] = JSON.parse(out) as { files: { path: string }[] }[];
  const paths = pack!.files.map((file) => file.path);
  for (const needed of [
    'dist/index.js',
    'dist/crypto/index.js',
    'dist/client/index.js',
    'dist/cli/main.js',
    'SPEC.md',
    'README.md',
  ])
    assert.ok(paths.includes(needed), `${needed} is in the package`);
  const unwanted = paths.filter(
    (path) =>
      /\.test\.(js|d\.ts|js\.map)$/.test(path) ||
      path.startsWith('dist/testing/') ||
      path.startsWith('dist/bench/') ||
      path.startsWith('src/') ||
      /(^|\/)(conformance|fixture|testscript|reliability)\b/.test(path) ||
      /\.child\./.test(path),
  );
  assert.deepEqual(unwanted, [], 'harness, bench or test files in the package');
});
