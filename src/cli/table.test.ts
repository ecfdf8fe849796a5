// The command table is the single source of parsing, help and completion: every command has help
// with examples, paths and options do not collide, the choices it offers are the library's own, and
// loading it (for --help) loads no keystore code. The config file parser refuses what it does not
// understand, never misreads it (fast-check).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { MAX_BACKUP_TRANSFER_BYTES } from '../backup/operations.js';
import { PUBLIC_KEY_FORMATS } from '../core/public-key.js';
import { KEY_ALGORITHMS } from '../core/types.js';
import { BIP39_LANGUAGES } from '../crypto/bip39.js';
import { CofferError } from '../errors.js';
import { CONFIG_KEYS } from './config.js';
import { parseConfig } from './config-file.js';
import { commandHelp } from './help.js';
import { writeOverviewCache } from './overview-cache.js';
import { BACKUP_LIMIT, GLOBAL_OPTIONS, PROTECTOR_TYPES } from './table/global.js';
import { BIP39_LANGUAGE_NAMES } from './table/hd.js';
import { COMMANDS } from './table/index.js';
import { CLI_PUBLIC_FORMATS } from './table/keys.js';

test('every command has a summary, usage, examples and help; no two share a path', () => {
  const paths = new Set<string>();
  for (const c of COMMANDS) {
    const path = c.path.join(' ');
    assert.ok(!paths.has(path), `${path} twice`);
    paths.add(path);
    assert.ok(c.summary.length > 0, path);
    if (c.hidden) continue;
    assert.ok(c.examples.length > 0, `${path} has examples`);
    for (const example of c.examples)
      assert.ok(example.includes(`coffer ${c.path[0]}`) || example.includes('coffer'), example);
    const help = commandHelp(c);
    assert.match(help, new RegExp(`^Usage: coffer ${path}`));
    for (const name of Object.keys(c.options ?? {}))
      assert.ok(help.includes(`--${name}`), `${path} --${name} in help`);
  }
});

test('command options shadow a global option only where meant (--version N, ssh-agent --socket)', () => {
  // A shadowing option is the command's alone (main.ts keeps it out of the settings): `ssh-agent
  // --socket PATH` is the agent's socket, never a daemon to connect to. Each shadow is deliberate.
  const meant = new Set(['version', 'ssh-agent --socket', 'serve --socket']);
  for (const c of COMMANDS) {
    for (const name of Object.keys(c.options ?? {})) {
      if (name in GLOBAL_OPTIONS)
        assert.ok(
          meant.has(name) || meant.has(`${c.path.join(' ')} --${name}`),
          `${c.path.join(' ')} --${name} shadows a global option`,
        );
    }
  }
});

test("the table's choices and limits are the library's", () => {
  assert.deepEqual([...CLI_PUBLIC_FORMATS].sort(), [...PUBLIC_KEY_FORMATS, 'coffer'].sort());
  assert.deepEqual([...BIP39_LANGUAGE_NAMES].sort(), [...BIP39_LANGUAGES].sort());
  assert.equal(BACKUP_LIMIT, MAX_BACKUP_TRANSFER_BYTES);
  const create = COMMANDS.find((c) => c.path.join(' ') === 'key create')!;
  assert.deepEqual(create.options?.alg?.choices, KEY_ALGORITHMS);
  assert.deepEqual([...PROTECTOR_TYPES], ['passphrase', 'keyring', 'tpm2', 'pkcs11']);
});

test('every command loads its implementation', async () => {
  for (const c of COMMANDS) assert.equal(typeof (await c.load()), 'function', c.path.join(' '));
});

/** The modules from dist/ a `coffer …` process loads, printed by a loader hook. */
function loadedBy(args: string[]): string[] {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const hook = `data:text/javascript,${encodeURIComponent(
    // writeSync: the hook runs on the loader's own thread on Node ≥ 22, whose buffered stderr
    // writes can be lost when the process exits right after.
    "import { writeSync } from 'node:fs'; export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.includes('/dist/')) writeSync(2, 'LOADED ' + r.url + '\\n'); return r; }",
  )}`;
  const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`;
  const { stderr, status } = spawnSync(process.execPath, ['--import', register, main, ...args], {
    encoding: 'utf8',
  });
  assert.equal(status, 0, stderr);
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('LOADED '))
    .map((l) => l.replace(/^LOADED .*\/dist\//, ''));
}

test('a bare --help prints the rendered overview without loading the table', async () => {
  await writeOverviewCache(fs);
  assert.deepEqual(loadedBy(['--help']).sort(), ['cli/main.js', 'cli/overview-cache.js']);
});

test('--version loads the version and not the table', () => {
  const loaded = loadedBy(['--version']);
  assert.ok(loaded.includes('cli/version.js'), loaded.join(', '));
  assert.ok(!loaded.includes('cli/table/index.js'), loaded.join(', '));
});

test('a group --help loads the table and nothing of the keystore (lazy command modules)', () => {
  const loaded = loadedBy(['key', '--help']);
  assert.ok(loaded.includes('cli/table/index.js'), loaded.join(', '));
  for (const heavy of [
    'core/keystore.js',
    'crypto/sig.js',
    'cli/commands/keys.js',
    'cli/config.js',
    'client/index.js',
  ])
    assert.ok(!loaded.includes(heavy), `key --help loaded ${heavy}`);
});

const known = CONFIG_KEYS;

test('config file: the documented subset parses; comments, quotes and escapes', () => {
  const values = parseConfig(
    [
      '# comment',
      '',
      'store = "sqlite:/var/lib/coffer/ks.db"   # trailing comment',
      "passphrase-file = '/run/secrets/p#1'",
      'agent = false',
      'pkcs11-token = "a\\"b\\\\c\\u00e9"',
    ].join('\n'),
    'c.toml',
    known,
  );
  assert.deepEqual(values, {
    store: 'sqlite:/var/lib/coffer/ks.db',
    'passphrase-file': '/run/secrets/p#1',
    agent: false,
    'pkcs11-token': 'a"b\\cé',
  });
});

test('config file: anything else is EINVAL naming the line, never a misread setting (property)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (text) => {
      try {
        const values = parseConfig(text, 'c.toml', known);
        // Whatever parsed is a known key with a value of its declared type.
        for (const [key, value] of Object.entries(values)) assert.equal(typeof value, known[key]);
      } catch (error) {
        assert.ok(error instanceof CofferError && error.code === 'EINVAL', String(error));
        assert.match(error.message, /^c\.toml:\d+: /);
      }
    }),
    { numRuns: 2000 },
  );
  for (const bad of [
    '[t]',
    'store = 1',
    'store = "x" y',
    'store = "x',
    'a.b = "x"',
    'store = "x"\nstore = "y"',
  ])
    assert.throws(() => parseConfig(bad, 'c.toml', known), { code: 'EINVAL' });
});
