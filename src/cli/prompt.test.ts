// Secrets typed at a terminal (a fake one here: a TTY-flagged stream the test answers on): the backup
// passphrase is asked twice for a new backup and once to restore, answers that differ write nothing,
// and a mnemonic is read from a hidden prompt when no file or pipe gives it. The CLI runs in process.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { Keystore } from '../core/keystore.js';
import { passphrase, type TempDir, tempDir } from '../testing/keystore.js';
import { runCli } from './main.js';
import type { Streams } from './streams.js';

let dir: TempDir;
let env: Record<string, string>;

before(async () => {
  dir = tempDir('coffer-prompt-');
  const store = `sqlite:${join(dir.path, 'ks.db')}`;
  const ks = await Keystore.open({ store, protector: passphrase('pw'), create: true });
  await ks.createKey({ app: 'web', purpose: 'tls', algorithm: 'ed25519' });
  await ks.close();
  env = { HOME: dir.path, COFFER_STORE: store, COFFER_PASSPHRASE: 'pw', COFFER_AGENT: '0' };
});

after(() => dir?.remove());

/** Runs the CLI on a fake terminal that answers each prompt with the next of `answers`. */
async function onTerminal(argv: string[], answers: string[]) {
  const asked: string[] = [];
  const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => stdin });
  const stderr = Object.assign(new PassThrough(), { isTTY: true });
  const stdout = Object.assign(new PassThrough(), { isTTY: false });
  let err = '';
  let out = '';
  stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  stderr.on('data', (c: Buffer) => {
    const text = c.toString();
    err += text;
    const question = /([A-Z][^:\n]*: )$/.exec(text)?.[1];
    if (question) {
      asked.push(question);
      const answer = answers.shift();
      assert.ok(answer !== undefined, `unexpected prompt ${question}`);
      stdin.write(`${answer}\r`);
    }
  });
  const code = await runCli(argv, env, { stdin, stdout, stderr } as Streams);
  return { code, asked, stdout: out, stderr: err };
}

test('backup create asks twice and writes nothing when the answers differ; restore asks once', async () => {
  const out = join(dir.path, 'typed.cbk');
  const differ = await onTerminal(['backup', 'create', '--out', out, '--passphrase'], ['one', 'two']);
  assert.equal(differ.code, 2, differ.stderr);
  assert.match(differ.stderr, /the two passphrases differ; nothing was written \(EINVAL\)/);
  assert.deepEqual(differ.asked, ['Backup passphrase: ', 'Repeat it: ']);
  assert.equal(existsSync(out), false);

  const created = await onTerminal(['backup', 'create', '--out', out, '--passphrase'], ['typed', 'typed']);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(existsSync(out), true);

  const restored = await onTerminal(['backup', 'restore', out, '--skip-existing'], ['typed']);
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stdout, /restored 0, skipped 1/);
  assert.deepEqual(restored.asked, ['Backup passphrase: ']);
  const wrong = await onTerminal(['backup', 'restore', out], ['wrong']);
  assert.equal(wrong.code, 7, wrong.stderr);
});

test('hd import reads the mnemonic from a hidden prompt, never echoing it', async () => {
  const words = 'legal winner thank year wave sausage worth useful legal winner thank yellow';
  const imported = await onTerminal(['hd', 'import', '--app', 'w', '--purpose', 'p'], [words]);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /^hd_[a-z2-7]{26}\n$/);
  assert.deepEqual(imported.asked, ['Mnemonic (the words, separated by spaces): ']);
  assert.ok(!imported.stderr.includes('legal'), 'the mnemonic is not echoed');
});
