// coffer/client on its own: importing it loads no native addon (checked in a fresh process by
// watching process.dlopen, the one door every .node addon goes through — and the check is shown able
// to fail by loading the pkcs11js addon afterwards), bad arguments are EINVAL before any I/O, and an
// unreachable daemon is EUNAVAIL with a hint.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../testing/keystore.js';
import { CofferClient } from './index.js';

test('importing coffer/client calls process.dlopen for no native addon', () => {
  const client = new URL('./index.js', import.meta.url).href;
  const script = `
    const loaded = [];
    const dlopen = process.dlopen;
    process.dlopen = function (module, filename, ...rest) { loaded.push(filename); return dlopen.call(this, module, filename, ...rest); };
    const { CofferClient } = await import(${JSON.stringify(client)});
    const afterClient = [...loaded];
    new CofferClient({ socket: '/nonexistent/coffer.sock' });
    const { createRequire } = await import('node:module');
    createRequire(import.meta.url)('pkcs11js'); // an N-API addon: loads under Node 20 and 24 alike
    console.log(JSON.stringify({ afterClient, afterAddon: loaded }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: new URL('../../', import.meta.url).pathname,
    encoding: 'utf8',
  });
  const { afterClient, afterAddon } = JSON.parse(out) as { afterClient: string[]; afterAddon: string[] };
  assert.deepEqual(afterClient, []);
  assert.ok(
    afterAddon.some((f) => f.endsWith('.node')),
    'the probe does see a native addon load',
  );
});

test('constructor and arguments are validated before any I/O (EINVAL)', async () => {
  assert.throws(() => new CofferClient({}), { code: 'EINVAL' });
  assert.throws(() => new CofferClient({ socket: '/a', url: 'http://127.0.0.1:1' }), { code: 'EINVAL' });
  assert.throws(() => new CofferClient({ url: 'ftp://x' }), { code: 'EINVAL' });
  assert.throws(() => new CofferClient({ url: 'not a url' }), { code: 'EINVAL' });
  assert.throws(() => new CofferClient({ socket: '/a', token: '' }), { code: 'EINVAL' });
  const c = new CofferClient({ socket: '/nonexistent/coffer.sock' });
  await assert.rejects(c.unlock(''), { code: 'EINVAL' });
  await assert.rejects(c.sign('k_x', 'text' as unknown as Uint8Array), { code: 'EINVAL' });
  await assert.rejects(c.getKey(''), { code: 'EINVAL' });
});

test('an absent daemon is EUNAVAIL saying where it looked', async () => {
  const dir = tempDir();
  try {
    const socket = join(dir.path, 'none.sock');
    await assert.rejects(new CofferClient({ socket }).health(), (e: Error & { code: string }) => {
      assert.equal(e.code, 'EUNAVAIL');
      assert.ok(e.message.includes(socket) && /is it running/.test(e.message));
      return true;
    });
    await assert.rejects(new CofferClient({ url: 'http://127.0.0.1:9' }).status(), { code: 'EUNAVAIL' });
  } finally {
    dir.remove();
  }
});
