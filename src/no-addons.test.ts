// Coffer without its optional native addons (better-sqlite3, pkcs11js), as a plain `npm ci` leaves
// it: in a throwaway install whose node_modules really lacks them (src/testing/no-addons.ts), the
// package imports, the CLI and the daemon work; on a Node with node:sqlite the sqlite: store works
// too, and on Node 20 it is EUNAVAIL naming better-sqlite3 and its install command, creating no
// file; the PKCS#11 protector is EUNAVAIL naming pkcs11js and its install command, changing nothing.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { installWithoutAddons } from './testing/no-addons.js';
import { hasBuiltinSqlite } from './testing/other-node.js';
import { findSoftHsmModule } from './testing/softhsm.js';

const builtinSqlite = hasBuiltinSqlite(process.versions.node);
let install: ReturnType<typeof installWithoutAddons>;
let work: string;
before(() => {
  install = installWithoutAddons();
  work = mkdtempSync(join(tmpdir(), 'coffer-no-addons-work-'));
});
after(() => {
  install?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A store this Node can use without addons: sqlite when node:sqlite exists, else dir. */
const usableStore = (name: string) =>
  builtinSqlite ? `sqlite:${join(work, name, 'store.db')}` : `dir:${join(work, name, 'store')}`;

const baseEnv = () => {
  const env: NodeJS.ProcessEnv = { ...process.env, COFFER_HOME: join(work, 'home') };
  for (const name of ['COFFER_STORE', 'COFFER_SOCKET', 'COFFER_URL', 'COFFER_TOKEN', 'COFFER_PROTECTOR'])
    delete env[name];
  return env;
};

/** Runs an ES module script inside the install (so `coffer` self-references resolve there). */
function runScript(script: string, env: NodeJS.ProcessEnv = {}) {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: install.root,
    env: { ...baseEnv(), ...env },
    encoding: 'utf8',
  });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}, input?: string) {
  return spawnSync(process.execPath, [install.cli, ...args], {
    cwd: work,
    env: { ...baseEnv(), ...env },
    encoding: 'utf8',
    input,
  });
}

test('the addons really cannot be resolved from the install, and coffer, coffer/crypto, coffer/client load', () => {
  const out = runScript(`
    import { createRequire } from 'node:module';
    const require = createRequire(${JSON.stringify(join(install.root, 'dist/storage/sqlite-driver.js'))});
    const absent = [];
    for (const name of ['better-sqlite3', 'pkcs11js']) {
      try { require.resolve(name); } catch (e) { if (e.code === 'MODULE_NOT_FOUND') absent.push(name); }
    }
    const top = Object.keys(await import('coffer'));
    const crypto = await import('coffer/crypto');
    const { CofferClient } = await import('coffer/client');
    console.log(JSON.stringify({ absent, top, sig: typeof crypto.sig.sign, client: typeof CofferClient }));
  `);
  assert.deepEqual(out.absent, ['better-sqlite3', 'pkcs11js']);
  for (const name of ['Keystore', 'CofferError', 'openStorage'])
    assert.ok((out.top as string[]).includes(name));
  assert.equal(out.sig, 'function');
  assert.equal(out.client, 'function');
});

test('the CLI runs; doctor says which SQLite driver is usable and what pkcs11 needs', () => {
  const help = cli(['--help']);
  assert.equal(help.status, 0, help.stderr);
  const doctor = cli(['doctor', '--json']);
  assert.equal(doctor.status, 0, doctor.stderr);
  const report = JSON.parse(doctor.stdout) as {
    sqlite: { usable: boolean; driver?: string; detail: string };
    protectors: { pkcs11: { usable: boolean; detail: string }; passphrase: { usable: boolean } };
  };
  assert.equal(report.protectors.passphrase.usable, true);
  assert.equal(report.protectors.pkcs11.usable, false);
  assert.match(report.protectors.pkcs11.detail, /pkcs11js addon is not installed/);
  assert.match(report.protectors.pkcs11.detail, /npm install pkcs11js@2\.1\.7.*bash scripts\/addons\.sh/);
  if (builtinSqlite) {
    assert.equal(report.sqlite.usable, true);
    assert.equal(report.sqlite.driver, 'node:sqlite');
  } else {
    assert.equal(report.sqlite.usable, false);
    assert.match(report.sqlite.detail, /better-sqlite3 addon is not installed/);
    assert.match(report.sqlite.detail, /npm install better-sqlite3@12\.11\.1.*bash scripts\/addons\.sh/);
  }
});

test(
  builtinSqlite
    ? 'the sqlite: keystore works on node:sqlite with no addon installed'
    : 'the sqlite: keystore on Node 20 without better-sqlite3 is EUNAVAIL naming it, and creates no file',
  () => {
    const path = join(work, 'library', 'store.db');
    const out = runScript(`
      import { Keystore } from 'coffer';
      const open = () => Keystore.open({
        store: ${JSON.stringify(`sqlite:${path}`)},
        protector: { type: 'passphrase', passphrase: 'pw-no-addons', kdf: { alg: 'pbkdf2-sha256', iterations: 600000 } },
        create: true,
      });
      try {
        const ks = await open();
        const key = await ks.createKey({ app: 'demo', purpose: 'docs', algorithm: 'ed25519' });
        const data = new TextEncoder().encode('no addons');
        const { signature } = await ks.sign(key.id, data);
        await ks.close();
        const again = await open();
        const valid = await again.verify(key.id, data, signature);
        await again.close();
        console.log(JSON.stringify({ valid }));
      } catch (error) {
        console.log(JSON.stringify({ code: error.code, message: error.message }));
      }
    `);
    if (builtinSqlite) {
      assert.deepEqual(out, { valid: true });
    } else {
      assert.equal(out.code, 'EUNAVAIL', String(out.message));
      assert.match(String(out.message), /better-sqlite3 addon is not installed/);
      assert.match(String(out.message), /npm install better-sqlite3@12\.11\.1/);
      assert.equal(existsSync(path), false, 'no store file is left behind');
    }
  },
);

test('the PKCS#11 protector without pkcs11js is EUNAVAIL naming it, and changes nothing', () => {
  const store = usableStore('pkcs11');
  const fresh = usableStore('pkcs11-fresh');
  const token = { module: findSoftHsmModule(), tokenLabel: 'coffer-none', pin: '1234', keyLabel: 'kek' };
  const out = runScript(`
    import { Keystore } from 'coffer';
    const passphrase = { type: 'passphrase', passphrase: 'pw', kdf: { alg: 'pbkdf2-sha256', iterations: 600000 } };
    const failure = async (fn) => { try { await fn(); return { ok: true }; } catch (e) { return { code: e.code, message: e.message }; } };
    const ks = await Keystore.open({ store: ${JSON.stringify(store)}, protector: passphrase, create: true });
    const add = await failure(() => ks.addProtector({ type: 'pkcs11', ...${JSON.stringify(token)} }));
    const slots = (await ks.listProtectors()).map((s) => s.type);
    await ks.close();
    const open = await failure(() =>
      Keystore.open({ store: ${JSON.stringify(fresh)}, protector: { type: 'pkcs11', ...${JSON.stringify(token)} }, create: true }),
    );
    // The failed create blocks nothing: the same store is then created with a passphrase.
    const retry = await Keystore.open({ store: ${JSON.stringify(fresh)}, protector: passphrase, create: true });
    const retrySlots = (await retry.listProtectors()).map((s) => s.type);
    await retry.close();
    console.log(JSON.stringify({ add, slots, open, retrySlots }));
  `);
  for (const attempt of [out.add, out.open] as Array<{ code: string; message: string }>) {
    assert.equal(attempt.code, 'EUNAVAIL', attempt.message);
    assert.match(attempt.message, /pkcs11js addon is not installed/);
    assert.match(attempt.message, /npm install pkcs11js@2\.1\.7/);
  }
  assert.deepEqual(out.slots, ['passphrase']);
  assert.deepEqual(out.retrySlots, ['passphrase']);

  // The CLI says the same, with EUNAVAIL's exit code.
  const env = { COFFER_PASSPHRASE: 'pw', COFFER_PKCS11_PIN: '1234' };
  const added = cli(
    ['protector', 'add', 'pkcs11', '--store', store, '--pkcs11-module', token.module, '--pkcs11-token', 'x'],
    env,
  );
  assert.equal(added.status, 10, added.stderr);
  assert.match(added.stderr, /pkcs11js addon is not installed.*npm install pkcs11js@2\.1\.7/);
});

test('the daemon serves, unlocks and signs with no addon installed', async () => {
  const store = usableStore('daemon');
  const socket = join(work, 'run', 'coffer.sock');
  const env = { COFFER_PASSPHRASE: 'pw-daemon' };
  const init = cli(['init', '--store', store, '--kdf', 'pbkdf2-sha256', '--json'], env);
  assert.equal(init.status, 0, init.stderr);
  const token = (JSON.parse(init.stdout) as { adminToken: string }).adminToken;
  const daemon: ChildProcess = spawn(
    process.execPath,
    [install.cli, 'serve', '--store', store, '--socket', socket],
    {
      cwd: work,
      env: { ...baseEnv(), ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  daemon.stderr?.on('data', (chunk) => (stderr += chunk));
  try {
    for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(socket), `the daemon did not listen: ${stderr}`);
    const viaDaemon = { ...env, COFFER_SOCKET: socket, COFFER_TOKEN: token };
    const unlock = cli(['unlock'], viaDaemon);
    assert.equal(unlock.status, 0, unlock.stderr);
    const created = cli(
      ['key', 'create', '--app', 'demo', '--purpose', 'docs', '--alg', 'ed25519'],
      viaDaemon,
    );
    assert.equal(created.status, 0, created.stderr);
    const key = created.stdout.trim();
    const signed = cli(['sign', key], viaDaemon, 'hello');
    assert.equal(signed.status, 0, signed.stderr);
    const verified = cli(['verify', key, '--sig-base64', signed.stdout.trim()], viaDaemon, 'hello');
    assert.equal(verified.status, 0, verified.stderr);
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((resolve) => daemon.once('exit', resolve));
  }
});

test('the pinned addon versions satisfy the peer ranges, and the error messages name those pins', async () => {
  const repo = new URL('../', import.meta.url);
  const read = (path: string) => JSON.parse(readFileSync(new URL(path, repo), 'utf8'));
  const pkg = read('package.json');
  const { BETTER_SQLITE3_PACKAGE } = await import('./storage/sqlite-driver.js');
  const { PKCS11JS_PACKAGE } = await import('./protect/pkcs11/module.js');
  for (const [name, message] of [
    ['better-sqlite3', BETTER_SQLITE3_PACKAGE],
    ['pkcs11js', PKCS11JS_PACKAGE],
  ] as const) {
    assert.equal(pkg.peerDependenciesMeta[name].optional, true, `${name} is an optional peer`);
    assert.equal(pkg.dependencies[name], undefined, `${name} is not a plain dependency`);
    const pinned = read(`scripts/addons/${name}/package.json`).dependencies[name] as string;
    assert.equal(message, `${name}@${pinned}`);
    // Caret range: same major, at least the range's version.
    const [major, ...rest] = (pkg.peerDependencies[name] as string).replace(/^\^/, '').split('.').map(Number);
    const [pMajor, ...pRest] = pinned.split('.').map(Number);
    assert.equal(pMajor, major, `${name} ${pinned} is outside ${pkg.peerDependencies[name]}`);
    assert.ok(pRest[0]! > rest[0]! || (pRest[0] === rest[0] && pRest[1]! >= rest[1]!));
    const lock = read(`scripts/addons/${name}/package-lock.json`);
    assert.equal(lock.packages[`node_modules/${name}`].version, pinned, `${name} lockfile matches its pin`);
  }
});
