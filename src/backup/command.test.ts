// `coffer backup` as a user runs it (DESIGN §7): exit codes from ERROR_CODES, JSON output, the
// passphrase from COFFER_BACKUP_PASSPHRASE and never from argv, a tampered file → exit 7.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Keystore } from '../core/keystore.js';
import { passphrase, tempKeystore } from '../testing/keystore.js';
import { backupCommand } from './command.js';

type Temp = Awaited<ReturnType<typeof tempKeystore>>;
const temps: Temp[] = [];
after(async () => {
  for (const t of temps) await t.cleanup().catch(() => {});
});

async function fresh(): Promise<Temp> {
  const t = await tempKeystore();
  await t.ks.close();
  temps.push(t);
  return t;
}

/** Runs the command against the store at `url` and captures its output. */
async function run(
  url: string,
  argv: string[],
  env: Record<string, string> = { COFFER_BACKUP_PASSPHRASE: 'cli pass' },
  promptHidden?: (question: string) => Promise<string>,
) {
  let stdout = '';
  let stderr = '';
  const code = await backupCommand(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env,
    openKeystore: () => Keystore.open({ store: url, protector: passphrase() }),
    ...(promptHidden ? { promptHidden } : {}),
  });
  return { code, stdout, stderr };
}

test('create, inspect, restore, incremental, modes and exit codes', async () => {
  const src = await fresh();
  const dst = await fresh();
  const ks = await Keystore.open({ store: src.url, protector: passphrase() });
  const [signer, escrow] = await ks.createKeys([
    { app: 'web', purpose: 'tls', algorithm: 'ecdsa-p256' },
    { app: 'ops', purpose: 'escrow', algorithm: 'x-wing' },
  ]);
  const generation = await ks.generation();
  await ks.close();
  const out = join(src.dir.path, 'all.cbk');

  const created = await run(src.url, ['create', '--out', out, '--passphrase', '--json']);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(JSON.parse(created.stdout).keyCount, 2);

  const inspected = await run(src.url, ['inspect', out, '--json']);
  assert.equal(inspected.code, 0);
  const info = JSON.parse(inspected.stdout);
  assert.equal(info.kind, 'full');
  assert.equal(info.keyCount, 2);
  assert.equal(info.recipient.type, 'passphrase');
  assert.match((await run(src.url, ['inspect', out])).stdout, /kind\s+full[\s\S]*keys\s+2/);

  const restored = await run(dst.url, ['restore', out, '--json']);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(JSON.parse(restored.stdout).restored.length, 2);
  // Again: the keys exist → EALREADY (5); skip-existing → 0.
  assert.equal((await run(dst.url, ['restore', out])).code, 5);
  assert.match((await run(dst.url, ['restore', out, '--skip-existing'])).stdout, /restored 0, skipped 2/);

  // Wrong passphrase and a tampered byte are EBADMSG → 7; no passphrase and no TTY → EINVAL → 2.
  assert.equal((await run(dst.url, ['restore', out], { COFFER_BACKUP_PASSPHRASE: 'nope' })).code, 7);
  const bytes = readFileSync(out);
  bytes[bytes.length - 100]! ^= 1;
  const bad = join(src.dir.path, 'bad.cbk');
  writeFileSync(bad, bytes);
  const tampered = await run(dst.url, ['restore', bad]);
  assert.equal(tampered.code, 7);
  assert.match(tampered.stderr, /EBADMSG/);
  const noPass = await run(dst.url, ['restore', out], {});
  assert.equal(noPass.code, 2);
  assert.match(noPass.stderr, /COFFER_BACKUP_PASSPHRASE/);

  // X-Wing recipient by key id, selective by app, incremental by generation.
  const sel = join(src.dir.path, 'sel.cbk');
  const selective = await run(src.url, [
    'create',
    '--out',
    sel,
    '--recipient',
    `${escrow!.id}:1`,
    '--app',
    'web',
    '--json',
  ]);
  assert.equal(selective.code, 0, selective.stderr);
  assert.equal(JSON.parse(selective.stdout).kind, 'selective');
  assert.equal(
    JSON.parse((await run(src.url, ['restore', sel, '--overwrite', '--json'])).stdout).restored[0],
    signer!.id,
  );
  const inc = join(src.dir.path, 'inc.cbk');
  const incremental = await run(src.url, [
    'create',
    '--out',
    inc,
    '--passphrase',
    '--since',
    String(generation),
    '--json',
  ]);
  assert.equal(JSON.parse(incremental.stdout).kind, 'incremental');

  // Usage errors → 2; unknown file → ENOENT → 4.
  assert.equal((await run(src.url, ['create', '--passphrase'])).code, 2);
  assert.equal((await run(src.url, ['create', '--out', out])).code, 2);
  assert.equal((await run(src.url, ['create', '--out', out, '--bogus'])).code, 2);
  assert.equal((await run(src.url, ['frobnicate'])).code, 2);
  assert.equal((await run(src.url, ['inspect', join(src.dir.path, 'none.cbk')])).code, 4);
  assert.equal((await run(src.url, ['--help'])).code, 0);
});

test('without COFFER_BACKUP_PASSPHRASE the passphrase comes from the prompt the CLI passes in', async () => {
  const t = await fresh();
  const ks = await Keystore.open({ store: t.url, protector: passphrase() });
  await ks.createKeys([{ app: 'web', purpose: 'tls', algorithm: 'ed25519' }]);
  await ks.close();
  const out = join(t.dir.path, 'prompted.cbk');
  const asked: string[] = [];
  const answers =
    (...values: string[]) =>
    async (question: string) => {
      asked.push(question);
      const value = values.shift();
      assert.ok(value !== undefined, `unexpected prompt ${question}`);
      return value;
    };

  // create asks twice and refuses answers that differ, before any file is written.
  const differ = await run(t.url, ['create', '--out', out, '--passphrase'], {}, answers('one', 'two'));
  assert.equal(differ.code, 2);
  assert.match(differ.stderr, /EINVAL: the two passphrases differ/);
  assert.equal(existsSync(out), false);
  assert.equal(asked.length, 2);

  asked.length = 0;
  const created = await run(t.url, ['create', '--out', out, '--passphrase'], {}, answers('typed', 'typed'));
  assert.equal(created.code, 0, created.stderr);
  assert.equal(asked.length, 2);

  // restore asks once; the prompted passphrase opens the file, a wrong one is EBADMSG → 7.
  asked.length = 0;
  const restored = await run(t.url, ['restore', out, '--skip-existing'], {}, answers('typed'));
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stdout, /restored 0, skipped 1/);
  assert.deepEqual(asked, ['Backup passphrase: ']);
  assert.equal((await run(t.url, ['restore', out], {}, answers('wrong'))).code, 7);
});
