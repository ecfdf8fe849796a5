// age from the command line against typage (the `age-encryption` package), both ways (SPEC §14.12,
// docs/formats.md "age"): `coffer age recipient` → typage encrypts → `coffer age decrypt`; typage's
// own hybrid identity ← `coffer age encrypt --to` (binary and armoured) ← typage decrypts. The CLI is
// the built binary on a fresh store; nothing here calls Coffer's age code in-process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { armor, Decrypter, Encrypter, generateHybridIdentity, identityToRecipient } from 'age-encryption';
import { scratch } from '../testing/tools.js';

const cli = fileURLToPath(new URL('./main.js', import.meta.url));
const tmp = scratch('age-cli');
const env = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: tmp.dir,
  COFFER_HOME: tmp.dir,
  COFFER_AGENT: '0',
  COFFER_PASSPHRASE: 'pw-age-cli',
  COFFER_STORE: `sqlite:${join(tmp.dir, 'ks.db')}`,
};

function coffer(args: string[], input?: Uint8Array) {
  const r = spawnSync(process.execPath, [cli, ...args], { env, input, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

function ok(args: string[], input?: Uint8Array): Buffer {
  const r = coffer(args, input);
  assert.equal(r.status, 0, `coffer ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

let key: string;
before(() => {
  ok(['init', '--kdf', 'pbkdf2-sha256']);
  key = ok(['key', 'create', '--app', 'files', '--purpose', 'age', '--alg', 'x-wing']).toString().trim();
});
after(() => tmp.remove());

test('coffer age recipient → typage encrypts → coffer age decrypt (binary, armoured, empty, multi-chunk)', async () => {
  const recipient = ok(['age', 'recipient', key]).toString().trim();
  assert.match(recipient, /^age1pq1[02-9ac-hj-np-z]+$/);
  for (const plaintext of [new Uint8Array(0), randomBytes(70_000), new TextEncoder().encode('hello age')]) {
    const encrypter = new Encrypter();
    encrypter.addRecipient(recipient);
    const file = await encrypter.encrypt(plaintext);
    const path = tmp.write('to-coffer.age', file);
    assert.deepEqual(ok(['age', 'decrypt', key, '--in', path]), Buffer.from(plaintext));
    // Armoured, on stdin.
    assert.deepEqual(ok(['age', 'decrypt', key], Buffer.from(armor.encode(file))), Buffer.from(plaintext));
  }
  // A file for another recipient, and a flipped payload byte: EBADMSG (exit 7), no plaintext.
  const other = new Encrypter();
  other.addRecipient(await identityToRecipient(await generateHybridIdentity()));
  const foreign = coffer([
    'age',
    'decrypt',
    key,
    '--in',
    tmp.write('foreign.age', await other.encrypt(randomBytes(10))),
  ]);
  assert.equal(foreign.status, 7, foreign.stderr);
  assert.equal(foreign.stdout.length, 0);
  const mine = new Encrypter();
  mine.addRecipient(recipient);
  const flipped = Buffer.from(await mine.encrypt(randomBytes(100)));
  flipped[flipped.length - 5]! ^= 1;
  const bad = coffer(['age', 'decrypt', key, '--in', tmp.write('flipped.age', flipped)]);
  assert.equal(bad.status, 7, bad.stderr);
  assert.equal(bad.stdout.length, 0);
});

test('coffer age encrypt --to a typage identity → typage decrypts; to the key itself → coffer decrypts', async () => {
  const identity = await generateHybridIdentity();
  const theirs = await identityToRecipient(identity);
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  const plaintext = randomBytes(150_000);
  const input = tmp.write('plain.bin', plaintext);
  const binary = ok(['age', 'encrypt', '--to', theirs, '--in', input]);
  assert.deepEqual(Buffer.from(await decrypter.decrypt(binary)), plaintext);
  const out = tmp.path('armoured.age');
  ok(['age', 'encrypt', '--to', theirs, '--armor', '--in', input, '--out', out]);
  const text = readFileSync(out, 'utf8');
  assert.match(text, /^-----BEGIN AGE ENCRYPTED FILE-----\n/);
  assert.deepEqual(Buffer.from(await decrypter.decrypt(armor.decode(text))), plaintext);
  // Two recipients: typage's identity and the keystore key each open the same file.
  const mine = ok(['age', 'recipient', key]).toString().trim();
  const both = ok(['age', 'encrypt', '--to', theirs, '--to', mine], plaintext);
  writeFileSync(tmp.path('both.age'), both);
  assert.deepEqual(Buffer.from(await decrypter.decrypt(both)), plaintext);
  assert.deepEqual(ok(['age', 'decrypt', key, '--in', tmp.path('both.age')]), plaintext);
  // Bad input: no recipient, a classic X25519 recipient, a mangled one — EINVAL (exit 2).
  const none = coffer(['age', 'encrypt'], plaintext);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /--to is required/);
  const x25519 = coffer(
    ['age', 'encrypt', '--to', 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'],
    plaintext,
  );
  assert.equal(x25519.status, 2, x25519.stderr);
  assert.match(x25519.stderr, /age1pq1/);
  const mangled = coffer(
    ['age', 'encrypt', '--to', `${mine.slice(0, -1)}${mine.endsWith('q') ? 'p' : 'q'}`],
    plaintext,
  );
  assert.equal(mangled.status, 2, mangled.stderr);
});
