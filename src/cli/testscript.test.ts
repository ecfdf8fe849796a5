// Runs every src/cli/testdata/*.txt script against the built CLI, one test per script (age-style
// CLI tests). The scripts drive the real binary: real stores, a real daemon, OpenSSL and ssh-keygen.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findSoftHsmModule } from '../testing/softhsm.js';
import { parseScript, runScript, tokenize } from '../testing/testscript.js';

const cli = fileURLToPath(new URL('./main.js', import.meta.url));

/** testdata is not compiled: find it beside the sources (dist/cli → src/cli), or from the cwd. */
function testdataDir(): string {
  const candidates = [
    fileURLToPath(new URL('../../src/cli/testdata', import.meta.url)),
    join(process.cwd(), 'src/cli/testdata'),
  ];
  const found = candidates.find((dir) => existsSync(dir));
  assert.ok(found, `testdata not found in ${candidates.join(' or ')}`);
  return found;
}

const dir = testdataDir();
const scripts = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort();

test('the testdata directory holds scripts', () => {
  assert.ok(scripts.length >= 5, `only ${scripts.length} scripts found in ${dir}`);
});

describe('testscript engine', () => {
  test('tokenize: quotes and $VAR expansion', () => {
    assert.deepEqual(tokenize(`exec coffer 'a b' "c $X" $X ''''`, { X: 'x1' }), [
      'exec',
      'coffer',
      'a b',
      'c x1',
      'x1',
      "'",
    ]);
    assert.deepEqual(tokenize(`stdout '^\\$ok'`, {}), ['stdout', '^\\$ok']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: testscript's own ${NAME} syntax under test.
    assert.deepEqual(tokenize('env A=${B}c', { B: 'b' }), ['env', 'A=bc']);
  });
  test('parseScript: file sections', () => {
    const { lines, files } = parseScript('exec true\n-- a.txt --\nhello\n-- b/c --\nx\ny\n');
    assert.equal(lines.length, 1);
    assert.equal(files.get('a.txt'), 'hello\n');
    assert.equal(files.get('b/c'), 'x\ny\n');
  });
  test('a failing assertion fails the script with a transcript', async () => {
    await assert.rejects(
      runScript('t', 'exec coffer --help\nstdout nothing-like-this\n', { cli }),
      /no match for nothing-like-this in stdout[\s\S]*transcript/,
    );
    await assert.rejects(runScript('t', '! exec coffer --help\n', { cli }), /unexpected success/);
    await assert.rejects(runScript('t', 'exec coffer nonsense\n', { cli }), /unexpected failure: exit 2/);
  });
});

describe('coffer CLI scripts', { concurrency: 2 }, () => {
  for (const file of scripts) {
    test(file.replace(/\.txt$/, ''), async () => {
      // Scripts that drive a real SoftHSM2 token find its module here (never skipped: missing is a failure).
      const env: Record<string, string> = file.startsWith('pkcs11')
        ? { SOFTHSM2_MODULE: findSoftHsmModule() }
        : {};
      await runScript(file, readFileSync(join(dir, file), 'utf8'), { cli, env });
    });
  }
});
